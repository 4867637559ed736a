package proc

import (
	"bytes"
	"os"
	"strconv"
	"sync"
)

// The kernel counts, per memory cgroup, the processes it killed for memory
// (oom_kill), and raises the count before it sends the victim SIGKILL. A
// sandbox is one cgroup: v2's memory.events, or v1's memory.oom_control.
var oomCountFiles = []string{"/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"}

// OOMLedger tells whether a process that died by SIGKILL, which the
// supervisor did not send, was killed by the kernel for memory. Each count
// of the kernel's is one victim: a death may claim a count raised since its
// process started that no other death claimed. A count that did not move
// says "not for memory" exactly. Where the kernel keeps no count (gVisor,
// whose sandbox the host ends whole when it runs out of memory), nothing
// is told as an OOM.
type OOMLedger struct {
	mu      sync.Mutex
	file    *os.File
	claimed int64
}

// NewOOMLedger starts counting from now.
func NewOOMLedger() *OOMLedger {
	l := &OOMLedger{}
	for _, name := range oomCountFiles {
		if f, err := os.Open(name); err == nil {
			l.file = f
			break
		}
	}
	l.claimed = l.Mark()
	return l
}

// Mark is the count now: take it before the process starts.
func (l *OOMLedger) Mark() int64 {
	if l == nil || l.file == nil {
		return 0
	}
	var buf [512]byte
	n, _ := l.file.ReadAt(buf[:], 0)
	return oomKillCount(buf[:n])
}

// Claim says whether a process started at mark, which has just died by a
// SIGKILL nobody in the supervisor sent, is a victim of the kernel's.
func (l *OOMLedger) Claim(mark int64) bool {
	if l == nil || l.file == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.Mark()
	if now > mark && now > l.claimed {
		l.claimed++
		return true
	}
	return false
}

func oomKillCount(text []byte) int64 {
	for _, line := range bytes.Split(text, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("oom_kill ")); ok {
			n, _ := strconv.ParseInt(string(bytes.TrimSpace(rest)), 10, 64)
			return n
		}
	}
	return 0
}
