package proc

import (
	"os"
	"sync"
	"syscall"

	"sandfleet/supervisor/guard"
)

const anchorPlaceholder = guard.AnchorPlaceholder

// liveAnchors are the anchors of the execs running now: each new exec's
// filter keeps it from ending any of them, or the supervisor.
var liveAnchors = struct {
	sync.Mutex
	pids map[int]bool
}{pids: map[int]bool{}}

func protectedPids() []int {
	liveAnchors.Lock()
	defer liveAnchors.Unlock()
	pids := []int{anchorPlaceholder, os.Getpid()}
	for pid := range liveAnchors.pids {
		pids = append(pids, pid)
	}
	return pids
}

// startAnchored starts p under an anchor of its own.
func (p *Process) startAnchored(path string, spec Spec, stdio [3]uintptr, terminal bool) error {
	a, err := startAnchored(path, spec, stdio, terminal, terminal, guard.ExecFilter(protectedPids()))
	if err != nil {
		return err
	}
	liveAnchors.Lock()
	liveAnchors.pids[a.anchor] = true
	liveAnchors.Unlock()
	done := make(chan Status, 1)
	go a.waitReported(done)
	go func() {
		<-a.anchorDone
		liveAnchors.Lock()
		delete(liveAnchors.pids, a.anchor)
		liveAnchors.Unlock()
	}()
	p.Pid, p.Done, p.anchor = a.pid, done, a
	return nil
}

// Anchor is the pid of the process's anchor, or 0 when it has none.
func (p *Process) Anchor() int {
	if p.anchor == nil {
		return 0
	}
	return p.anchor.anchor
}

// End ends the process and everything it started.
func (p *Process) End(mark string) {
	KillTree(p.Pid, mark, p.Anchor())
	p.Release()
}

// Release lets the processes the command left running live on without it,
// as children of the supervisor, once its exec has ended by itself.
func (p *Process) Release() {
	if a := p.Anchor(); a != 0 {
		theReaper.signalChild(a, syscall.SIGKILL)
	}
}
