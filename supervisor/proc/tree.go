package proc

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// MarkVariable is set in the environment of every process an exec starts.
// Children inherit it, so it finds the processes that left the exec's
// process group or session (setsid, a daemonizing shell) after their parent
// has gone. It needs to be unique, not secret: a process that copies another
// exec's mark only makes itself one more process to end with it.
const MarkVariable = "SANDFLEET_EXEC"

type procEntry struct {
	pid, ppid, pgid, sid int
	zombie               bool
}

// readProcs lists the live processes this process can see.
func readProcs() []procEntry {
	dir, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []procEntry
	for _, d := range dir {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name is in parentheses and may hold anything; fields follow the last ')'.
		end := bytes.LastIndexByte(stat, ')')
		if end < 0 {
			continue
		}
		fields := strings.Fields(string(stat[end+1:]))
		if len(fields) < 4 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		pgid, _ := strconv.Atoi(fields[2])
		sid, _ := strconv.Atoi(fields[3])
		out = append(out, procEntry{pid: pid, ppid: ppid, pgid: pgid, sid: sid, zombie: fields[0] == "Z"})
	}
	return out
}

func hasMark(pid int, mark string) bool {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	want := []byte(MarkVariable + "=" + mark)
	for _, kv := range bytes.Split(env, []byte{0}) {
		if bytes.Equal(kv, want) {
			return true
		}
	}
	return false
}

// treeOf is the process root, its process group and session, every
// descendant of any of them, and every process carrying mark: all that an
// exec started. For a confined command, its session alone is that already.
func treeOf(procs []procEntry, root int, mark string) []int {
	self := os.Getpid()
	in := map[int]bool{}
	for _, p := range procs {
		if p.zombie || p.pid == self || p.pid == 1 {
			continue
		}
		if p.pid == root || p.pgid == root || p.sid == root || (mark != "" && hasMark(p.pid, mark)) {
			in[p.pid] = true
		}
	}
	for grew := true; grew; {
		grew = false
		for _, p := range procs {
			if !in[p.pid] && in[p.ppid] && !p.zombie && p.pid != self && p.pid != 1 {
				in[p.pid] = true
				grew = true
			}
		}
	}
	pids := make([]int, 0, len(in))
	for pid := range in {
		pids = append(pids, pid)
	}
	return pids
}

// KillTree ends everything an exec started, children that moved to
// sessions of their own included. It stops the tree first so that nothing
// forks while it is being ended, and looks again until nothing is left.
func KillTree(root int, mark string) {
	for round := 0; round < 20; round++ {
		pids := treeOf(readProcs(), root, mark)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGSTOP)
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		Reap()
	}
}

// SignalTree sends sig to every process of an exec (see treeOf).
func SignalTree(root int, mark string, sig syscall.Signal) {
	if sig == syscall.SIGKILL {
		KillTree(root, mark)
		return
	}
	for _, pid := range treeOf(readProcs(), root, mark) {
		syscall.Kill(pid, sig)
	}
}

// ForeignProcesses counts the processes that the engine started in the
// sandbox beside the supervisor (an engine exec: its parent is outside the
// sandbox, so it reads as 0), leaving out those for which ignore says so.
func ForeignProcesses(ignore func(pid int) bool) int {
	n := 0
	self := os.Getpid()
	for _, p := range readProcs() {
		if p.ppid == 0 && p.pid != 1 && p.pid != self && !p.zombie && !ignore(p.pid) {
			n++
		}
	}
	return n
}

// Cmdline is a process's argument list.
func Cmdline(pid int) []string {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(raw) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
}

// Children counts the live processes of the sandbox other than this one
// whose parent is inside it (everything but the engine's own execs).
func Children() int {
	n := 0
	self := os.Getpid()
	for _, p := range readProcs() {
		if p.ppid != 0 && p.pid != self && !p.zombie {
			n++
		}
	}
	return n
}
