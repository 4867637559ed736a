package guard

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// The test binary plays the guarded process when asked to: it guards
// itself, says how a child of its starts, then echoes lines while it lives.
func TestMain(m *testing.M) {
	if os.Getenv("GUARD_ARGV") == "1" {
		taken := TakeArg(os.Args[len(os.Args)-1])
		cmdline, _ := os.ReadFile("/proc/self/cmdline")
		fmt.Printf("%s|%s", taken, strings.ReplaceAll(string(cmdline), "\x00", " "))
		os.Exit(0)
	}
	switch {
	case os.Getenv("GUARD_SIGQUEUE") == "1": // a process the guarded PID 1 started
		fmt.Print(sendToPid1())
		os.Exit(0)
	case os.Getenv("GUARD_PID1") == "1": // the guarded PID 1
		err := SparePid1()
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "GUARD_SIGQUEUE=1", "GUARD_PID1=")
		out, _ := cmd.Output()
		fmt.Printf("install=%v %s", err, out)
		os.Exit(0)
	case os.Getenv("GUARD_CHILD") != "1":
		os.Exit(m.Run())
	}
	Signals(os.Getpid() == 1)
	NotDumpable()
	dumpable, _, _ := syscall.RawSyscall(syscall.SYS_PRCTL, 3 /* PR_GET_DUMPABLE */, 0, 0)
	child, _ := exec.Command("sh", "-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status | tr '\\n\\t' '  '").Output()
	fmt.Printf("dumpable=%d child=%s\n", dumpable, child)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Println(in.Text())
	}
	os.Exit(0)
}

type guarded struct {
	cmd *exec.Cmd
	in  io.Writer
	out *bufio.Reader
}

func startGuarded(t *testing.T) (*guarded, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "GUARD_CHILD=1")
	if os.Getuid() == 0 {
		// PID 1 of a namespace of its own, as in a sandbox.
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	}
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	g := &guarded{cmd: cmd, in: in, out: bufio.NewReader(out)}
	first, err := g.out.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return g, first
}

// alive says whether the process still answers.
func (g *guarded) alive(word string) bool {
	fmt.Fprintln(g.in, word)
	line, err := g.out.ReadString('\n')
	return err == nil && strings.TrimSpace(line) == word
}

// sigqueue sends sig with si_code SI_QUEUE, as sigqueue(3) does: a code Go's
// runtime does not take for a sender's.
func sigqueue(pid int, sig syscall.Signal) error {
	var info [128]byte
	*(*int32)(unsafe.Pointer(&info[0])) = int32(sig)
	*(*int32)(unsafe.Pointer(&info[8])) = -1 // SI_QUEUE
	*(*int32)(unsafe.Pointer(&info[16])) = int32(os.Getpid())
	_, _, errno := syscall.RawSyscall(syscall.SYS_RT_SIGQUEUEINFO, uintptr(pid), uintptr(sig), uintptr(unsafe.Pointer(&info[0])))
	if errno != 0 {
		return errno
	}
	return nil
}

func TestEverySignalASenderCanSendIsSurvived(t *testing.T) {
	g, _ := startGuarded(t)
	pid := g.cmd.Process.Pid
	for sig := syscall.Signal(1); sig <= 64; sig++ {
		if sig == syscall.SIGKILL || sig == syscall.SIGSTOP {
			continue // no process can handle these; PID 1 of a namespace never gets them from inside
		}
		if err := syscall.Kill(pid, sig); err != nil {
			t.Fatalf("kill %d: %v", sig, err)
		}
		if !g.alive(fmt.Sprintf("after-kill-%d", sig)) {
			t.Fatalf("signal %d (%v) sent by kill ended the process", sig, sig)
		}
		if err := sigqueue(pid, sig); err != nil {
			t.Fatalf("sigqueue %d: %v", sig, err)
		}
		if !g.alive(fmt.Sprintf("after-sigqueue-%d", sig)) {
			t.Fatalf("signal %d (%v) sent by sigqueue ended the process", sig, sig)
		}
	}
}

func TestAChildStartsWithNoSignalIgnoredOrBlocked(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("only PID 1 of a namespace leaves every signal to its children at its default")
	}
	_, first := startGuarded(t)
	if !strings.Contains(first, "SigBlk: 0000000000000000") || !strings.Contains(first, "SigIgn: 0000000000000000") {
		t.Errorf("a child of the guarded process starts with %q", first)
	}
}

func TestTheProcessIsNotDumpable(t *testing.T) {
	_, first := startGuarded(t)
	if !strings.HasPrefix(first, "dumpable=0 ") {
		t.Errorf("got %q", first)
	}
}

func TestThreadsAreReservedAndKept(t *testing.T) {
	want := 12
	if limit := pidsLimit(); limit > 0 {
		want = min(want, int(limit/2))
	}
	ReserveThreads(12)
	if got := threadCount(); got < want {
		t.Errorf("%d threads after reserving %d", got, want)
	}
}

func TestATakenArgumentIsGoneFromTheCommandLine(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=none", "s3cr3t-on-the-command-line")
	cmd.Env = append(os.Environ(), "GUARD_ARGV=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	taken, cmdline, _ := strings.Cut(string(out), "|")
	if taken != "s3cr3t-on-the-command-line" {
		t.Errorf("took %q", taken)
	}
	if strings.Contains(cmdline, "s3cr3t") || !strings.Contains(cmdline, strings.Repeat("x", len(taken))) {
		t.Errorf("/proc/self/cmdline still reads %q", cmdline)
	}
}

// sendToPid1 tries each way to send PID 1 SIGKILL and SIGSTOP, and a harmless signal.
func sendToPid1() string {
	out := ""
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGWINCH} {
		out += fmt.Sprintf("sigqueue-%d=%v ", sig, sigqueue(1, sig))
		_, _, errno := syscall.RawSyscall(syscall.SYS_TGKILL, 1, 1, uintptr(sig))
		out += fmt.Sprintf("tgkill-%d=%v ", sig, errnoOrNil(errno))
		// tkill names a thread: any of PID 1's (its second here), or any thread at all.
		_, _, errno = syscall.RawSyscall(syscall.SYS_TKILL, 2, uintptr(sig), 0)
		out += fmt.Sprintf("tkill-%d=%v ", sig, errnoOrNil(errno))
	}
	_, _, errno := syscall.RawSyscall(434, 1, 0, 0) // pidfd_open
	return out + fmt.Sprintf("pidfd_open=%v", errnoOrNil(errno))
}

func errnoOrNil(errno syscall.Errno) error {
	if errno == 0 {
		return nil
	}
	return errno
}

func TestProcessesStartedByPid1CannotSendItKillOrStop(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs a PID namespace of its own (root)")
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "GUARD_PID1=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{
		"install=<nil>",
		"sigqueue-9=operation not permitted", "tgkill-9=operation not permitted", "tkill-9=operation not permitted",
		"sigqueue-19=operation not permitted", "tgkill-19=operation not permitted", "tkill-19=operation not permitted",
		"sigqueue-28=<nil>", "tgkill-28=<nil>",
		"pidfd_open=operation not permitted",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("want %q in %q", want, got)
		}
	}
}
