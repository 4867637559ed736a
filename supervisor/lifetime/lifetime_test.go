package lifetime

import (
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestTheTimeoutEndsABusySandbox(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	tr := New(10*time.Second, 0, true, c.now, nil)
	tr.Begin()
	c.advance(9 * time.Second)
	if _, due := tr.Due(); due {
		t.Fatal("due before its timeout")
	}
	c.advance(time.Second)
	if r, due := tr.Due(); !due || r != Timeout {
		t.Fatalf("got %q %v at its timeout", r, due)
	}
}

func TestIdleCountsFromTheLastActivityAndNeverDuringAnExec(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	tr := New(0, 5*time.Second, true, c.now, nil)
	tr.Begin()
	c.advance(time.Minute)
	if _, due := tr.Due(); due {
		t.Fatal("idle while an exec runs")
	}
	tr.End()
	c.advance(4 * time.Second)
	tr.Touch() // stdin written
	c.advance(4 * time.Second)
	if _, due := tr.Due(); due {
		t.Fatal("idle 4 s after stdin")
	}
	c.advance(time.Second)
	if r, due := tr.Due(); !due || r != Idle {
		t.Fatalf("got %q %v after 5 s idle", r, due)
	}
}

func TestActivityElsewhereKeepsItAlive(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	busy := true
	tr := New(0, time.Second, true, c.now, func() bool { return busy })
	c.advance(10 * time.Second)
	if _, due := tr.Due(); due {
		t.Fatal("idle with a tunnel connection open")
	}
	busy = false
	c.advance(999 * time.Millisecond)
	if _, due := tr.Due(); due {
		t.Fatal("the open connection was activity until just now")
	}
	c.advance(time.Millisecond)
	if _, due := tr.Due(); !due {
		t.Fatal("not idle a second after the connection closed")
	}
}

func TestAWarmMemberWaitsForItsClaimAndArmCanExtend(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	tr := New(10*time.Second, time.Second, false, c.now, nil)
	c.advance(time.Hour)
	if _, due := tr.Due(); due {
		t.Fatal("a warm member ended before its claim")
	}
	tr.Arm(0, 0)
	c.advance(9 * time.Second)
	tr.Begin()
	tr.Arm(20*time.Second, 0) // extended: 20 s from now
	c.advance(19 * time.Second)
	if _, due := tr.Due(); due {
		t.Fatal("ended before the extended deadline")
	}
	c.advance(time.Second)
	if r, _ := tr.Due(); r != Timeout {
		t.Fatalf("got %q at the extended deadline", r)
	}
	tr.Arm(-1, 0)
	if _, due := tr.Due(); due {
		t.Fatal("a removed timeout still ends it")
	}
}

func TestPauseOnIdleReportsIdlenessAndNeverEnds(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	tr := New(time.Hour, 5*time.Second, true, c.now, nil)
	tr.PauseOnIdle()
	tr.Begin()
	tr.CountExec()
	c.advance(time.Minute)
	if got := tr.Idleness(); got.Running != 1 || got.IdleForMs != 0 || got.Execs != 1 {
		t.Fatalf("while an exec runs: %+v", got)
	}
	tr.End()
	c.advance(6 * time.Second)
	if _, due := tr.Due(); due {
		t.Fatal("a sandbox that pauses when idle was ended for idleness")
	}
	if got := tr.Idleness(); got.Running != 0 || got.IdleForMs != 6000 {
		t.Fatalf("after 6 s idle: %+v", got)
	}
	c.advance(time.Hour)
	if r, due := tr.Due(); !due || r != Timeout {
		t.Fatalf("its timeout still ends it: got %q %v", r, due)
	}
}

func TestIdlenessCountsOutsideActivityAsRunning(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	busy := true
	tr := New(0, 5*time.Second, true, c.now, func() bool { return busy })
	c.advance(time.Minute)
	if got := tr.Idleness(); got.Running != 1 || got.IdleForMs != 0 {
		t.Fatalf("with an engine exec running: %+v", got)
	}
	busy = false
	c.advance(2 * time.Second)
	if got := tr.Idleness(); got.IdleForMs != 2000 {
		t.Fatalf("idle counts from the end of outside activity: %+v", got)
	}
}

func TestAWarmMemberIsNeverIdle(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	tr := New(0, 5*time.Second, false, c.now, nil)
	c.advance(time.Hour)
	if got := tr.Idleness(); got.IdleForMs != 0 {
		t.Fatalf("an unclaimed member reported idle: %+v", got)
	}
}
