package proc

import (
	"os"
	"path/filepath"
	"testing"
)

func ledgerOn(t *testing.T, text string) (*OOMLedger, func(string)) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "memory.events")
	write := func(text string) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(text)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	l := &OOMLedger{file: f}
	l.claimed = l.Mark()
	return l, write
}

func TestACountThatDidNotMoveIsNeverAnOOM(t *testing.T) {
	l, _ := ledgerOn(t, "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n")
	if l.Claim(l.Mark()) {
		t.Error("a SIGKILL with no OOM kill since the start was told as one")
	}
}

func TestEachOOMKillIsClaimedByOneDeathOnly(t *testing.T) {
	l, write := ledgerOn(t, "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n") // cgroup v1's memory.oom_control
	first, second := l.Mark(), l.Mark()
	write("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
	if !l.Claim(first) {
		t.Error("the victim was not told as killed for memory")
	}
	if l.Claim(second) {
		t.Error("a second SIGKILL claimed the same OOM kill")
	}
	// One started after the kill cannot claim it either.
	write("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
	later := l.Mark()
	if l.Claim(later) {
		t.Error("a process started after the kill claimed it")
	}
}

func TestNoCountMeansNoOOM(t *testing.T) {
	var l *OOMLedger
	if l.Claim(l.Mark()) || (&OOMLedger{}).Claim(0) {
		t.Error("told an OOM with no count to read")
	}
}
