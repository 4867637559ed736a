package main

import (
	"fmt"
	"sync"
	"time"
)

// How much of a flood of refusals is written one by one. The rest is
// counted and written once a second as "N more refused", so one sandbox
// sending refused packets as fast as it can costs a few lines a second.
const (
	sandboxLinesPerSecond = 10
	sandboxLineBurst      = 20
	totalLinesPerSecond   = 100
	totalLineBurst        = 200
	// The refusals each sandbox's `egressRefusals()` can read: the newest ones.
	keptPerSandbox = 500
)

// RefusalRecord is one refusal as `sandbox.egressRefusals()` reads it; More
// is set on a summary of refusals that were counted, not written.
type RefusalRecord struct {
	Time        string `json:"time"`
	Destination string `json:"destination"`
	Reason      string `json:"reason"`
	More        uint64 `json:"more,omitempty"`
}

type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) take(now time.Time, rate, burst float64) bool {
	if b.last.IsZero() {
		b.tokens = burst
	} else {
		b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

type sandboxRefusals struct {
	lines bucket
	more  uint64
	kept  []RefusalRecord // a ring of keptPerSandbox, oldest at next
	next  int
}

func (s *sandboxRefusals) keep(r RefusalRecord) {
	if len(s.kept) < keptPerSandbox {
		s.kept = append(s.kept, r)
		return
	}
	s.kept[s.next] = r
	s.next = (s.next + 1) % keptPerSandbox
}

// RefusalLog writes refusals to the daemon's log at a bounded rate, per
// sandbox and in all, and keeps each sandbox's newest in memory.
type RefusalLog struct {
	mu        sync.Mutex
	total     bucket
	sandboxes map[string]*sandboxRefusals
	write     func(map[string]any)
	now       func() time.Time
}

func NewRefusalLog(write func(map[string]any)) *RefusalLog {
	return &RefusalLog{sandboxes: map[string]*sandboxRefusals{}, write: write, now: time.Now}
}

func (l *RefusalLog) sandbox(id string) *sandboxRefusals {
	s := l.sandboxes[id]
	if s == nil {
		s = &sandboxRefusals{}
		l.sandboxes[id] = s
	}
	return s
}

// Add logs one refusal, or counts it when its sandbox or the daemon has written enough this second.
func (l *RefusalLog) Add(sandboxID, destination, reason string) {
	l.mu.Lock()
	now := l.now()
	s := l.sandbox(sandboxID)
	if !s.lines.take(now, sandboxLinesPerSecond, sandboxLineBurst) || !l.total.take(now, totalLinesPerSecond, totalLineBurst) {
		s.more++
		l.mu.Unlock()
		return
	}
	r := RefusalRecord{Time: now.UTC().Format(time.RFC3339Nano), Destination: destination, Reason: reason}
	s.keep(r)
	l.mu.Unlock()
	l.write(map[string]any{"sandbox": sandboxID, "destination": destination, "reason": reason, "refused": true, "time": r.Time})
}

// Count adds refusals the kernel refused without logging them (past its own rate limit).
func (l *RefusalLog) Count(sandboxID string, n uint64) {
	if n == 0 {
		return
	}
	l.mu.Lock()
	l.sandbox(sandboxID).more += n
	l.mu.Unlock()
}

// Flush writes one "N more refused" line for each sandbox that had refusals counted, not written.
func (l *RefusalLog) Flush() {
	l.mu.Lock()
	now := l.now().UTC().Format(time.RFC3339Nano)
	var lines []map[string]any
	for id, s := range l.sandboxes {
		if s.more == 0 {
			continue
		}
		reason := fmt.Sprintf("%d more refused (counted, not logged one by one)", s.more)
		s.keep(RefusalRecord{Time: now, Reason: reason, More: s.more})
		lines = append(lines, map[string]any{"sandbox": id, "refused": true, "more": s.more, "reason": reason, "time": now})
		s.more = 0
	}
	l.mu.Unlock()
	for _, line := range lines {
		l.write(line)
	}
}

// Recent is a sandbox's newest refusals, oldest first.
func (l *RefusalLog) Recent(sandboxID string) []RefusalRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sandboxes[sandboxID]
	if s == nil {
		return []RefusalRecord{}
	}
	return append(append([]RefusalRecord{}, s.kept[s.next:]...), s.kept[:s.next]...)
}

// Forget drops what is kept for sandboxes that have no policy any more.
func (l *RefusalLog) Forget(keep map[string]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, s := range l.sandboxes {
		if !keep[id] && s.more == 0 {
			delete(l.sandboxes, id)
		}
	}
}
