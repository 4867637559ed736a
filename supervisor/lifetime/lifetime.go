// Package lifetime decides when a sandbox has lived long enough: its
// timeout (a maximum lifetime) and its idle timeout (no exec running, no
// stdin written, no tunnel connection open for that long). The supervisor
// sees every exec and every byte of stdin itself, so idleness is exact.
package lifetime

import (
	"sync"
	"time"

	"sandfleet/supervisor/protocol"
)

// Reason says why a sandbox is due to end.
type Reason string

const (
	Timeout Reason = "timeout"
	Idle    Reason = "idle"
)

// Tracker holds a sandbox's bounds and its activity.
type Tracker struct {
	mu       sync.Mutex
	now      func() time.Time
	busy     func() bool // activity the supervisor does not carry itself: engine execs, tunnel connections
	armed    bool
	timeout  time.Duration
	idle     time.Duration
	deadline time.Time
	running  int
	last     time.Time
	execs    int64
	// pauseOnIdle: the sandbox is paused when idle, by whoever watches it
	// from outside (sandfleet agent), so the tracker reports idleness and
	// never ends the sandbox for it.
	pauseOnIdle bool
}

// PauseOnIdle makes idleness a fact to report, not a reason to end.
func (t *Tracker) PauseOnIdle() {
	t.mu.Lock()
	t.pauseOnIdle = true
	t.mu.Unlock()
}

// CountExec records that a command was started, for metrics.
func (t *Tracker) CountExec() {
	t.mu.Lock()
	t.execs++
	t.mu.Unlock()
}

// Idleness is what an outside watcher needs to decide a pause, as the
// protocol's activity operation sends it.
type Idleness = protocol.Activity

// Idleness reports the sandbox's activity now. Activity the supervisor does
// not carry itself (an engine exec, a tunnel connection) counts as running.
func (t *Tracker) Idleness() Idleness {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if t.running > 0 || (t.busy != nil && t.busy()) {
		t.last = now
		return Idleness{Running: max(t.running, 1), IdleForMs: 0, Execs: t.execs}
	}
	if !t.armed {
		return Idleness{Execs: t.execs}
	}
	return Idleness{IdleForMs: now.Sub(t.last).Milliseconds(), Execs: t.execs}
}

// New makes a tracker. An armed one counts from now; one that is not (a
// warm pool member) waits for Arm, since its lifetime starts at its claim.
func New(timeout, idle time.Duration, armed bool, now func() time.Time, busy func() bool) *Tracker {
	t := &Tracker{now: now, busy: busy, timeout: timeout, idle: idle}
	if armed {
		t.Arm(0, 0)
	}
	return t
}

// Arm starts the clock if it has not started, and replaces a bound given
// as more than 0; -1 removes that bound. The deadline counts from now.
func (t *Tracker) Arm(timeout, idle time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if timeout != 0 || !t.armed {
		if timeout > 0 {
			t.timeout = timeout
		} else if timeout < 0 {
			t.timeout = 0
		}
		t.deadline = time.Time{}
		if t.timeout > 0 {
			t.deadline = now.Add(t.timeout)
		}
	}
	if idle > 0 {
		t.idle = idle
	} else if idle < 0 {
		t.idle = 0
	}
	t.armed = true
	t.last = now
}

// Begin records an exec (or any operation) starting; End its end.
func (t *Tracker) Begin() {
	t.mu.Lock()
	t.running++
	t.last = t.now()
	t.mu.Unlock()
}

func (t *Tracker) End() {
	t.mu.Lock()
	t.running--
	t.last = t.now()
	t.mu.Unlock()
}

// Touch records activity that has no duration: bytes written to a stdin.
func (t *Tracker) Touch() {
	t.mu.Lock()
	t.last = t.now()
	t.mu.Unlock()
}

// Due says whether the sandbox should end now, and why.
func (t *Tracker) Due() (Reason, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.armed {
		return "", false
	}
	now := t.now()
	if !t.deadline.IsZero() && !now.Before(t.deadline) {
		return Timeout, true
	}
	if t.pauseOnIdle || t.idle <= 0 || t.running > 0 || now.Sub(t.last) < t.idle {
		return "", false
	}
	if t.busy != nil && t.busy() {
		t.last = now
		return "", false
	}
	return Idle, true
}

// Activity reports how many operations run now and when the last began or ended.
func (t *Tracker) Activity() (running int, last time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.running, t.last
}

// Bounds reports the bounds in force, for people and tests.
func (t *Tracker) Bounds() (deadline time.Time, idle time.Duration, armed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.deadline, t.idle, t.armed
}
