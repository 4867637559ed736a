// Package proc starts processes and ends them, whole trees at a time. As
// PID 1 of a sandbox, the supervisor is the parent of every orphan: one
// reaper collects every child, hands the exit status of the ones it started
// to whoever waits for them, and lets the orphans go, so that none stays a
// zombie and uses up the sandbox's pids limit.
package proc

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// Status is how a process ended.
type Status struct {
	Code   int            // exit code, or 128 + signal, as shells report it
	Signal syscall.Signal // the signal that ended it, or 0
}

func statusOf(ws syscall.WaitStatus) Status {
	if ws.Signaled() {
		return Status{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}
	}
	return Status{Code: ws.ExitStatus()}
}

type reaper struct {
	// Held while reaping and while starting a process, so that a child that
	// ends at once is never reaped before its waiter is registered.
	mu      sync.Mutex
	waiters map[int]chan Status
}

var theReaper = startReaper()

func startReaper() *reaper {
	r := &reaper{waiters: map[int]chan Status{}}
	children := make(chan os.Signal, 64)
	signal.Notify(children, syscall.SIGCHLD)
	go func() {
		for range children {
			r.reap()
		}
	}()
	return r
}

func (r *reaper) reap() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
		// A pid nobody waits for is an orphan: reaping it is all it needs.
		if waiter, ok := r.waiters[pid]; ok {
			delete(r.waiters, pid)
			waiter <- statusOf(ws)
		}
	}
}

// start runs fork under the reaper's lock and registers the child.
func (r *reaper) start(fork func() (int, error)) (int, <-chan Status, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := fork()
	if err != nil {
		return 0, nil, err
	}
	waiter := make(chan Status, 1)
	r.waiters[pid] = waiter
	return pid, waiter, nil
}

// Reap collects whatever has ended now, for callers that cannot wait for SIGCHLD.
func Reap() { theReaper.reap() }
