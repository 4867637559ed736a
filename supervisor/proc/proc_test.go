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

func env(extra ...string) []string { return append(os.Environ(), extra...) }

func waitFor(t *testing.T, p *Process) Status {
	t.Helper()
	select {
	case s := <-p.Done:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("process did not end")
	}
	return Status{}
}

func TestPipesKeepStdoutAndStderrApartAndReportTheExitCode(t *testing.T) {
	p, err := Start(Spec{Argv: []string{"sh", "-c", "read x; echo out $x; echo err >&2; exit 3"}, Env: env()})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(p.Stdin, "in\n")
	p.Stdin.Close()
	out, _ := io.ReadAll(p.Stdout)
	errOut, _ := io.ReadAll(p.Stderr)
	if s := waitFor(t, p); s.Code != 3 {
		t.Errorf("exit code %d, want 3", s.Code)
	}
	if string(out) != "out in\n" || string(errOut) != "err\n" {
		t.Errorf("stdout %q stderr %q", out, errOut)
	}
}

func TestASignalledProcessReports128PlusTheSignal(t *testing.T) {
	p, err := Start(Spec{Argv: []string{"sleep", "30"}, Env: env()})
	if err != nil {
		t.Fatal(err)
	}
	SignalTree(p.Pid, "", syscall.SIGTERM)
	if s := waitFor(t, p); s.Code != 143 || s.Signal != syscall.SIGTERM {
		t.Errorf("got %+v, want 143 by SIGTERM", s)
	}
}

func TestStartErrorsSayWhatIsWrong(t *testing.T) {
	if _, err := Start(Spec{Argv: []string{"no-such-command-here"}, Env: env()}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing command: %v", err)
	}
	if _, err := Start(Spec{Argv: []string{"true"}, Env: env(), Dir: "/no/such/dir"}); !errors.Is(err, ErrNoWorkdir) {
		t.Errorf("missing workdir: %v", err)
	}
	dir := t.TempDir()
	os.WriteFile(dir+"/script", []byte("#!/bin/sh\n"), 0o644)
	if _, err := Start(Spec{Argv: []string{dir + "/script"}, Env: env()}); !errors.Is(err, ErrNotExecutable) {
		t.Errorf("non-executable file: %v", err)
	}
}

func TestWorkdirAndEnvironmentReachTheProcess(t *testing.T) {
	dir := t.TempDir()
	p, err := Start(Spec{Argv: []string{"sh", "-c", "pwd; echo $GREETING"}, Env: env("GREETING=hi"), Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	p.Stdin.Close()
	out, _ := io.ReadAll(p.Stdout)
	waitFor(t, p)
	if string(out) != dir+"\nhi\n" {
		t.Errorf("got %q", out)
	}
}

func TestAPtyHasTheRequestedSizeAndSeesAResize(t *testing.T) {
	p, err := Start(Spec{
		Argv: []string{"sh", "-c", `stty size; trap 'stty size; exit 0' WINCH; echo ready; while :; do sleep 0.05; done`},
		Env:  env(), Rows: 24, Cols: 80,
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Stderr != nil || !p.IsPty() {
		t.Fatal("a PTY exec has one output stream")
	}
	var seen strings.Builder
	buf := make([]byte, 4096)
	readUntil := func(want string) {
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(seen.String(), want) && time.Now().Before(deadline) {
			n, err := p.Stdout.Read(buf)
			seen.Write(buf[:n])
			if err != nil {
				break
			}
		}
		if !strings.Contains(seen.String(), want) {
			t.Fatalf("never saw %q in %q", want, seen.String())
		}
	}
	readUntil("ready")
	if !strings.Contains(seen.String(), "24 80") {
		t.Errorf("initial size: %q", seen.String())
	}
	if err := p.Resize(40, 120); err != nil {
		t.Fatal(err)
	}
	readUntil("40 120")
	waitFor(t, p)
}

func TestKillTreeEndsGrandchildrenThatLeftTheSession(t *testing.T) {
	mark := "test-" + strconv.Itoa(os.Getpid())
	// The grandchild starts a session of its own, out of the exec's process group.
	p, err := Start(Spec{
		Argv: []string{"sh", "-c", "setsid sh -c 'echo $$; exec sleep 60' & wait"},
		Env:  env(MarkVariable + "=" + mark),
	})
	if err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 32)
	n, _ := p.Stdout.Read(line)
	grandchild, err := strconv.Atoi(strings.TrimSpace(string(line[:n])))
	if err != nil {
		t.Fatalf("no pid: %q", line[:n])
	}
	KillTree(p.Pid, mark)
	waitFor(t, p)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		Reap()
		if !alive(grandchild) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("grandchild %d outlived KillTree", grandchild)
}

func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	end := strings.LastIndexByte(string(stat), ')')
	return end > 0 && !strings.HasPrefix(strings.TrimSpace(string(stat[end+1:])), "Z")
}
