package server

import (
	"container/list"
	"crypto/subtle"
	"encoding/json"
	"net"
	"sync"
	"syscall"
	"time"

	"sandfleet/supervisor/protocol"
)

// Gate admits a connection only when it comes from the host side: its first
// frame carries the sandbox's secret, and, where the engine can run the
// host's exec as a user of its own (Docker), its peer is that user. Anything
// else is closed with nothing served, not even a Hello.
type Gate struct {
	Secret []byte
	// ControlUid, when not nil, is the only uid a connection may come from.
	ControlUid *int
	// MaxPending bounds connections that have not yet proven themselves;
	// a new one beyond it pushes out the oldest, so a flood of silent
	// connections cannot shut the host out for longer than it keeps flooding.
	MaxPending int
	// AuthWait bounds how long one of them may take to prove itself.
	AuthWait time.Duration

	mu      sync.Mutex
	pending list.List // of net.Conn, oldest first
}

// Admit reads and checks the connection's first frame. It closes a refused
// connection itself.
func (g *Gate) Admit(c net.Conn) bool {
	if g.ControlUid != nil {
		if uid, ok := peerUid(c); !ok || uid != *g.ControlUid {
			c.Close()
			return false
		}
	}
	g.mu.Lock()
	entry := g.pending.PushBack(c)
	for g.MaxPending > 0 && g.pending.Len() > g.MaxPending {
		g.pending.Remove(g.pending.Front()).(net.Conn).Close()
	}
	g.mu.Unlock()
	c.SetReadDeadline(time.Now().Add(g.AuthWait))
	payload, err := protocol.ReadAuth(c)
	g.mu.Lock()
	// An entry pushed out has been closed already; Remove of a removed entry is a no-op.
	g.pending.Remove(entry)
	g.mu.Unlock()
	var req protocol.AuthRequest
	if err != nil || json.Unmarshal(payload, &req) != nil || !g.matches(req.Secret) {
		c.Close()
		return false
	}
	c.SetReadDeadline(time.Time{})
	return true
}

func (g *Gate) matches(secret string) bool {
	return len(g.Secret) > 0 && subtle.ConstantTimeCompare([]byte(secret), g.Secret) == 1
}

// peerUid is the uid of the process that connected, as the kernel recorded
// it at connect(2): nothing the peer sends can change it.
func peerUid(c net.Conn) (int, bool) {
	unix, ok := c.(*net.UnixConn)
	if !ok {
		return 0, false
	}
	raw, err := unix.SyscallConn()
	if err != nil {
		return 0, false
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || credErr != nil {
		return 0, false
	}
	return int(cred.Uid), true
}
