package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// sandboxUsage is what `sandfleet-supervisor stats` prints: the sandbox's own cgroup
// and network counters, read from inside it. An engine whose API gives no
// per-container usage to a namespace-scoped role (Kubernetes without
// metrics-server) reads it through an exec of this command.
type sandboxUsage struct {
	CPUNs          uint64 `json:"cpuNs"`
	MemoryBytes    uint64 `json:"memoryBytes"`
	Pids           uint64 `json:"pids"`
	NetworkRxBytes uint64 `json:"networkRxBytes"`
	NetworkTxBytes uint64 `json:"networkTxBytes"`
}

func runStats() int {
	u := readUsage("/sys/fs/cgroup", "/proc/net/dev")
	if err := json.NewEncoder(os.Stdout).Encode(u); err != nil {
		fmt.Fprintf(os.Stderr, "sandfleet-supervisor: stats: %v\n", err)
		return 1
	}
	return 0
}

// readUsage reads cgroup v2 files when the unified hierarchy is mounted at
// root, else the v1 controllers' files; a counter that cannot be read is 0.
func readUsage(cgroup, netDev string) sandboxUsage {
	var u sandboxUsage
	if _, err := os.Stat(cgroup + "/cgroup.controllers"); err == nil {
		u.CPUNs = statField(cgroup+"/cpu.stat", "usage_usec") * 1000
		u.MemoryBytes = workingSet(number(cgroup+"/memory.current"), statField(cgroup+"/memory.stat", "inactive_file"))
		u.Pids = number(cgroup + "/pids.current")
	} else {
		u.CPUNs = number(cgroup + "/cpuacct/cpuacct.usage")
		u.MemoryBytes = workingSet(number(cgroup+"/memory/memory.usage_in_bytes"), statField(cgroup+"/memory/memory.stat", "total_inactive_file"))
		u.Pids = number(cgroup + "/pids/pids.current")
	}
	u.NetworkRxBytes, u.NetworkTxBytes = networkBytes(netDev)
	return u
}

// workingSet is usage less the page cache the kernel can drop, as the kubelet counts it.
func workingSet(used, inactive uint64) uint64 {
	if inactive > used {
		return 0
	}
	return used - inactive
}

func number(path string) uint64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	return n
}

// statField reads one "key value" line of a cgroup stat file.
func statField(path, key string) uint64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 2 && fields[0] == key {
			n, _ := strconv.ParseUint(fields[1], 10, 64)
			return n
		}
	}
	return 0
}

// networkBytes sums every interface but loopback in /proc/net/dev.
func networkBytes(path string) (rx, tx uint64) {
	file, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer file.Close()
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		name, counters, found := strings.Cut(scanner.Text(), ":")
		if !found || strings.TrimSpace(name) == "lo" {
			continue
		}
		fields := strings.Fields(counters)
		if len(fields) < 9 {
			continue
		}
		r, _ := strconv.ParseUint(fields[0], 10, 64)
		t, _ := strconv.ParseUint(fields[8], 10, 64)
		rx, tx = rx+r, tx+t
	}
	return rx, tx
}
