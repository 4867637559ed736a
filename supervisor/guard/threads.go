package guard

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// ReserveThreads makes the runtime hold n OS threads before the sandbox can
// use its pids limit up. The Go runtime dies when it needs a thread and
// clone(2) fails ("failed to create new OS thread"); threads it has made it
// keeps and reuses, so with enough made at start, a sandbox that fills its
// pids limit leaves the supervisor running. It reserves at most an eighth
// of the pids limit: PID 1 and a connection's relay each reserve, and a
// small limit (pids: 32) must still leave the sandbox's own processes most of it.
func ReserveThreads(n int) {
	if limit := pidsLimit(); limit > 0 {
		n = min(n, int(limit/8))
	}
	// n goroutines locked at once need n threads of their own, whether
	// the runtime had some idle already or makes them now.
	var ready sync.WaitGroup
	release := make(chan struct{})
	for i := 0; i < n; i++ {
		ready.Add(1)
		// A locked goroutine holds its thread while it waits, so each needs
		// a thread of its own; unlocked before it returns, the thread stays
		// with the runtime, idle, instead of exiting.
		go func() {
			runtime.LockOSThread()
			ready.Done()
			<-release
			runtime.UnlockOSThread()
		}()
	}
	ready.Wait()
	close(release)
}

// threadCount is how many threads this process has now.
func threadCount() int {
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	return len(entries)
}

// pidsLimit is the pids limit of this process's cgroup (v2, then v1), or 0
// when it has none or it cannot be read.
func pidsLimit() int64 {
	for _, path := range []string{"/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max"} {
		raw, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		value, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		if err == nil {
			return value
		}
		return 0 // "max"
	}
	return 0
}
