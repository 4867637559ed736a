package main

import (
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadUsageV1(t *testing.T) {
	dir := t.TempDir()
	write(t, dir+"/cgroup/cpuacct/cpuacct.usage", "5000\n")
	write(t, dir+"/cgroup/memory/memory.usage_in_bytes", "1000\n")
	write(t, dir+"/cgroup/memory/memory.stat", "cache 7\ntotal_inactive_file 300\n")
	write(t, dir+"/cgroup/pids/pids.current", "4\n")
	write(t, dir+"/dev", "Inter-|   Receive\n face |bytes\n    lo: 99 1 0 0 0 0 0 0 99 1 0 0 0 0 0 0\n  eth0: 10 1 0 0 0 0 0 0 20 2 0 0 0 0 0 0\n")
	got := readUsage(dir+"/cgroup", dir+"/dev")
	want := sandboxUsage{CPUNs: 5000, MemoryBytes: 700, Pids: 4, NetworkRxBytes: 10, NetworkTxBytes: 20}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestReadUsageV2(t *testing.T) {
	dir := t.TempDir()
	write(t, dir+"/cgroup/cgroup.controllers", "cpu memory pids\n")
	write(t, dir+"/cgroup/cpu.stat", "usage_usec 7\nuser_usec 5\n")
	write(t, dir+"/cgroup/memory.current", "2048\n")
	write(t, dir+"/cgroup/memory.stat", "anon 1\ninactive_file 48\n")
	write(t, dir+"/cgroup/pids.current", "2\n")
	got := readUsage(dir+"/cgroup", dir+"/missing")
	want := sandboxUsage{CPUNs: 7000, MemoryBytes: 2000, Pids: 2}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}
