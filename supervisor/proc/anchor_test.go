package proc

import (
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func startAnchoredSh(t *testing.T, script string) *Process {
	t.Helper()
	p, err := Start(Spec{Argv: []string{"sh", "-c", script}, Env: env(), Anchored: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.End("") })
	return p
}

// readPids reads the first n lines of the process's stdout as pids.
func readPids(t *testing.T, p *Process, n int) []int {
	t.Helper()
	var pids []int
	var seen strings.Builder
	buf := make([]byte, 256)
	for len(pids) < n {
		k, err := p.Stdout.Read(buf)
		seen.Write(buf[:k])
		lines := strings.Split(seen.String(), "\n")
		pids = pids[:0]
		for _, line := range lines[:len(lines)-1] {
			if pid, err := strconv.Atoi(strings.TrimSpace(line)); err == nil {
				pids = append(pids, pid)
			}
		}
		if err != nil {
			break
		}
	}
	if len(pids) < n {
		t.Fatalf("wanted %d pids, read %q", n, seen.String())
	}
	return pids
}

func gone(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		Reap()
		left := 0
		for _, pid := range pids {
			if alive(pid) {
				left++
			}
		}
		if left == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("%d outlived its exec's end", pid)
		}
	}
}

func TestAnAnchoredCommandReportsItsExitAndItsSignal(t *testing.T) {
	p := startAnchoredSh(t, "read x; echo out $x; echo err >&2; exit 3")
	io.WriteString(p.Stdin, "in\n")
	p.Stdin.Close()
	out, _ := io.ReadAll(p.Stdout)
	errOut, _ := io.ReadAll(p.Stderr)
	if s := waitFor(t, p); s.Code != 3 || s.Lost {
		t.Errorf("got %+v, want exit 3", s)
	}
	if string(out) != "out in\n" || string(errOut) != "err\n" {
		t.Errorf("stdout %q stderr %q", out, errOut)
	}
	q := startAnchoredSh(t, "kill -TERM $$")
	if s := waitFor(t, q); s.Code != 143 || s.Signal != syscall.SIGTERM {
		t.Errorf("got %+v, want 143 by SIGTERM", s)
	}
}

func TestAnAnchoredStartFailsAsAShellWould(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(dir+"/script", []byte("#!/bin/sh\n"), 0o644)
	if _, err := Start(Spec{Argv: []string{dir + "/script"}, Env: env(), Anchored: true}); !errors.Is(err, ErrNotExecutable) {
		t.Errorf("non-executable file: %v", err)
	}
	if _, err := Start(Spec{Argv: []string{"no-such-command-here"}, Env: env(), Anchored: true}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing command: %v", err)
	}
}

func TestAnAnchoredCommandStartsInItsDirWithDefaultSignalsAndOnlyItsStdio(t *testing.T) {
	dir := t.TempDir()
	p, err := Start(Spec{
		Argv: []string{"sh", "-c", "pwd; grep -E '^Sig(Blk|Ign)' /proc/self/status; ls /proc/self/fd | wc -l"},
		Env:  env(), Dir: dir, Anchored: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(p.Stdout)
	waitFor(t, p)
	got := strings.Fields(string(out))
	// pwd, SigBlk: 0..., SigIgn: 0..., and 0, 1, 2 plus the one ls opens to list them.
	want := []string{dir, "SigBlk:", "0000000000000000", "SigIgn:", "0000000000000000", "4"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestEndingAnExecEndsWhatLeftItsSessionGroupAndEnvironment(t *testing.T) {
	for name, script := range map[string]string{
		// A new session and a double fork, with a cleared environment: reparented off its tree.
		"setsid double fork": `(setsid env -i sh -c 'sleep 60 & echo $!' &); sleep 60`,
		// A process group of its own.
		"new group": `set -m; sleep 60 & echo $!; sleep 60`,
		// The command itself has gone; the orphan holds stdout.
		"command gone": `(setsid env -i sh -c 'echo $$; exec sleep 60' &)`,
		"nohup":        `nohup env -i sleep 60 >/dev/null 2>&1 & echo $!; sleep 60`,
	} {
		t.Run(name, func(t *testing.T) {
			p := startAnchoredSh(t, script)
			pids := readPids(t, p, 1)
			if !alive(pids[0]) {
				t.Fatalf("%d is not running", pids[0])
			}
			p.End("")
			gone(t, pids)
		})
	}
}

func TestAReleasedExecsBackgroundProcessLivesOn(t *testing.T) {
	p := startAnchoredSh(t, `sleep 60 >/dev/null 2>&1 & echo $!`)
	pids := readPids(t, p, 1)
	waitFor(t, p)
	p.Release()
	time.Sleep(100 * time.Millisecond) // nothing to wait on: the check is that it is still there
	if !alive(pids[0]) {
		t.Fatal("a released exec's background process was ended")
	}
	syscall.Kill(pids[0], syscall.SIGKILL)
}

func TestAnExecCannotEndOrStopItsAnchorOrTheSupervisor(t *testing.T) {
	p := startAnchoredSh(t, `for sig in KILL STOP; do kill -$sig $PPID 2>/dev/null; echo $?; kill -$sig `+strconv.Itoa(os.Getpid())+` 2>/dev/null; echo $?; done; echo 0; sleep 60`)
	got := readPids(t, p, 5)
	if strings.Trim(strings.Join(strings.Fields(strings.Trim(fmtInts(got), "[]")), " "), " ") != "1 1 1 1 0" {
		t.Errorf("exit codes of the kills %v: one went through", got)
	}
	if !alive(p.Anchor()) {
		t.Error("the anchor was ended")
	}
}

func fmtInts(v []int) string {
	out := make([]string, len(v))
	for i, n := range v {
		out[i] = strconv.Itoa(n)
	}
	return strings.Join(out, " ")
}

// Where the anchor cannot hold them (no subreapers, as on gVisor; an anchor ended by the main
// command), the exec's processes are still in its process group.
func TestAnExecsProcessesKeepItsGroupAndAreEndedWithoutTheirAnchor(t *testing.T) {
	p := startAnchoredSh(t, `echo $$; setsid sh -c 'cut -d" " -f5 /proc/self/stat'; (setsid env -i sh -c 'sleep 60 & echo $!' &); sleep 60`)
	got := readPids(t, p, 3)
	if got[1] != got[0] {
		t.Errorf("process group %d after setsid, want the command's %d", got[1], got[0])
	}
	theReaper.signalChild(p.Anchor(), syscall.SIGKILL) // as the main command could
	p.End("")
	gone(t, got[2:])
}
