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

func startConfinedSh(t *testing.T, script string) *Process {
	t.Helper()
	p, err := Start(Spec{Argv: []string{"sh", "-c", script}, Env: env(), Confined: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { KillTree(p.Pid, "") })
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

func TestAConfinedCommandReportsItsExitAndItsSignal(t *testing.T) {
	p := startConfinedSh(t, "read x; echo out $x; echo err >&2; exit 3")
	io.WriteString(p.Stdin, "in\n")
	p.Stdin.Close()
	out, _ := io.ReadAll(p.Stdout)
	errOut, _ := io.ReadAll(p.Stderr)
	if s := waitFor(t, p); s.Code != 3 {
		t.Errorf("got %+v, want exit 3", s)
	}
	if string(out) != "out in\n" || string(errOut) != "err\n" {
		t.Errorf("stdout %q stderr %q", out, errOut)
	}
	q := startConfinedSh(t, "kill -TERM $$")
	if s := waitFor(t, q); s.Code != 143 || s.Signal != syscall.SIGTERM {
		t.Errorf("got %+v, want 143 by SIGTERM", s)
	}
}

func TestAConfinedStartFailsAsAShellWould(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(dir+"/script", []byte("#!/bin/sh\n"), 0o644)
	if _, err := Start(Spec{Argv: []string{dir + "/script"}, Env: env(), Confined: true}); !errors.Is(err, ErrNotExecutable) {
		t.Errorf("non-executable file: %v", err)
	}
	if _, err := Start(Spec{Argv: []string{"no-such-command-here"}, Env: env(), Confined: true}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing command: %v", err)
	}
}

func TestAConfinedCommandStartsInItsDirWithEverySignalAtItsDefault(t *testing.T) {
	dir := t.TempDir()
	p, err := Start(Spec{
		Argv: []string{"sh", "-c", "pwd; grep -E '^Sig(Blk|Ign)' /proc/self/status"},
		Env:  env(), Dir: dir, Confined: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(p.Stdout)
	waitFor(t, p)
	got := strings.Fields(string(out))
	if len(got) == 1 {
		t.Skip("this kernel's /proc (gVisor's) shows no signal masks")
	}
	want := []string{dir, "SigBlk:", "0000000000000000", "SigIgn:", "0000000000000000"}
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
			p := startConfinedSh(t, script)
			pids := readPids(t, p, 1)
			if !alive(pids[0]) {
				t.Fatalf("%d is not running", pids[0])
			}
			KillTree(p.Pid, "")
			gone(t, pids)
		})
	}
}

func TestAnExecThatEndsByItselfLeavesItsBackgroundRunning(t *testing.T) {
	p := startConfinedSh(t, `sleep 60 >/dev/null 2>&1 & echo $!`)
	pids := readPids(t, p, 1)
	waitFor(t, p)
	if !alive(pids[0]) {
		t.Fatal("the background process of an exec that ended by itself was ended")
	}
	syscall.Kill(pids[0], syscall.SIGKILL)
}

func TestAnExecCannotEndOrStopTheSupervisor(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	p := startConfinedSh(t, `for sig in KILL STOP; do kill -$sig `+self+` 2>/dev/null; echo $?; done; prlimit --cpu=1:1 --pid `+self+` 2>/dev/null; echo $?; echo 0; sleep 60`)
	got := readPids(t, p, 4)
	if fmtInts(got) != "1 1 1 0" {
		t.Errorf("exit codes of the kills and the CPU limit %v: one went through", got)
	}
}

func fmtInts(v []int) string {
	out := make([]string, len(v))
	for i, n := range v {
		out[i] = strconv.Itoa(n)
	}
	return strings.Join(out, " ")
}

func TestAnExecsProcessesKeepItsSessionThroughSetsidButMayMakeGroups(t *testing.T) {
	p := startConfinedSh(t, `echo $$; setsid sh -c 'cut -d" " -f6 /proc/self/stat'; python3 -c 'import os; os.setpgid(0, 0); print(os.getsid(0)); print(os.getpgid(0) == os.getpid())'; sleep 60`)
	var lines []string
	buf := make([]byte, 256)
	var seen strings.Builder
	for strings.Count(seen.String(), "\n") < 4 {
		n, err := p.Stdout.Read(buf)
		seen.Write(buf[:n])
		if err != nil {
			break
		}
	}
	lines = strings.Fields(seen.String())
	if len(lines) < 4 || lines[1] != lines[0] || lines[2] != lines[0] || lines[3] != "True" {
		t.Errorf("got %q: want the command's session %s after setsid and setpgid, and setpgid to work", lines, lines[0])
	}
}
