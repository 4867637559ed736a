package proc

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"syscall"
	"unsafe"
)

// An exec runs under an anchor of its own: a process forked from the
// supervisor that marks itself a child subreaper (PR_SET_CHILD_SUBREAPER)
// and then starts the command. The kernel reparents every orphan of the
// command's tree to the nearest living subreaper above it, so whatever the
// exec starts stays below its anchor, whatever it does to its session,
// process group, environment or parents, until the anchor goes. A timeout
// or a kill ends everything below the anchor.
//
// The anchor is a fork of the supervisor without an exec, as Go's own
// ForkExec runs its child: it may only make raw system calls (no
// allocation, no lock, no stack growth), which is why its code below is
// nosplit. It holds no file of the supervisor's: before the command starts
// it keeps only the command's stdio and its report pipe. It is not
// dumpable (the supervisor's memory is not, and a fork keeps that), so no
// process of the sandbox can trace it; the command's own seccomp filter
// (guard.AnchorFilter) keeps it from sending the anchor SIGKILL or SIGSTOP.

const (
	prSetChildSubreaper = 36
	prSetNoNewPrivs     = 38
	sysCloseRange       = 436
	closeRangeAll       = 0xffffffff // ~0U: close_range takes unsigned ints
	fDupfdCloexec       = 1030
	sigSetmask          = 2
)

// launch is everything the anchor and the command need, made before the
// fork: after it, the child may only read it.
type launch struct {
	path, dir   *byte
	argv, envv  **byte
	stdio       [3]int
	report      int // write end: the command's pid, then its wait status
	execErr     int // write end: the errno of a start that failed
	high        int // above every fd the child places
	setsid      bool
	ctty        bool
	filter      unsafe.Pointer // a sock_fprog for the command, or nil
	insns       unsafe.Pointer // its instructions, where the anchor writes its own pid
	insnCount   int
	placeholder uint32
	closeUpTo   int // highest fd to close one by one where close_range is missing
}

// Report codes the child writes before the command runs.
const (
	stageFork   = 1
	stageDir    = 2
	stageFilter = 3
	stageExec   = 4
)

// anchored is what startAnchored made.
type anchored struct {
	anchor, pid int
	anchorDone  <-chan Status
	report      *os.File
}

// startAnchored forks an anchor that starts path with spec, on the given
// stdio fds; the caller closes them once it returns.
func startAnchored(path string, spec Spec, stdio [3]uintptr, setsid, ctty bool, filter []byte) (*anchored, error) {
	argv, err := syscall.SlicePtrFromStrings(spec.Argv)
	if err != nil {
		return nil, err
	}
	envv, err := syscall.SlicePtrFromStrings(spec.Env)
	if err != nil {
		return nil, err
	}
	pathp, err := syscall.BytePtrFromString(path)
	if err != nil {
		return nil, err
	}
	var dirp *byte
	if spec.Dir != "" {
		if dirp, err = syscall.BytePtrFromString(spec.Dir); err != nil {
			return nil, err
		}
	}
	reportR, reportW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer reportW.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		reportR.Close()
		return nil, err
	}
	defer errR.Close()
	l := &launch{
		path: pathp, dir: dirp, argv: &argv[0], envv: &envv[0],
		report: int(reportW.Fd()), execErr: int(errW.Fd()),
		setsid: setsid, ctty: ctty,
	}
	for i, fd := range stdio {
		l.stdio[i] = int(fd)
		l.high = max(l.high, int(fd))
	}
	l.high = max(l.high, l.report, l.execErr, 4) + 1
	l.closeUpTo = fdBound()
	if len(filter) > 0 {
		prog := &struct {
			len    uint16
			filter unsafe.Pointer
		}{uint16(len(filter) / 8), unsafe.Pointer(&filter[0])}
		l.filter, l.insns, l.insnCount, l.placeholder = unsafe.Pointer(prog), unsafe.Pointer(&filter[0]), len(filter)/8, anchorPlaceholder
		defer runtime.KeepAlive(prog)
	}
	anchor, done, err := theReaper.start(func() (int, error) { return forkAnchor(l) })
	runtime.KeepAlive(l)
	runtime.KeepAlive(argv)
	runtime.KeepAlive(envv)
	runtime.KeepAlive(filter)
	errW.Close()
	if err != nil {
		reportR.Close()
		return nil, err
	}
	reportW.Close()
	// The child reports a start that failed (stage, errno); nothing, once the command runs.
	var failure [8]byte
	if n, _ := io.ReadFull(errR, failure[:]); n == len(failure) {
		reportR.Close()
		syscall.Kill(anchor, syscall.SIGKILL)
		return nil, startFailure(binary.LittleEndian.Uint32(failure[:4]), syscall.Errno(binary.LittleEndian.Uint32(failure[4:])), spec)
	}
	var pid [4]byte
	if _, err := io.ReadFull(reportR, pid[:]); err != nil {
		reportR.Close()
		syscall.Kill(anchor, syscall.SIGKILL)
		return nil, fmt.Errorf("start %s: the command's anchor ended before it started", spec.Argv[0])
	}
	return &anchored{anchor: anchor, pid: int(binary.LittleEndian.Uint32(pid[:])), anchorDone: done, report: reportR}, nil
}

func startFailure(stage uint32, errno syscall.Errno, spec Spec) error {
	switch stage {
	case stageDir:
		return fmt.Errorf("%w: %s", ErrNoWorkdir, spec.Dir)
	case stageFilter:
		return fmt.Errorf("start %s: cannot confine the command: %w", spec.Argv[0], errno)
	case stageExec:
		return startError(spec.Argv[0], errno)
	}
	return fmt.Errorf("start %s: %w", spec.Argv[0], errno)
}

// waitReported turns the anchor's report of the command's end into a Status.
// An anchor that ends first (killed from outside) leaves the command's end
// unknown: Lost says so.
func (a *anchored) waitReported(done chan<- Status) {
	var ws [4]byte
	_, err := io.ReadFull(a.report, ws[:])
	a.report.Close()
	if err != nil {
		done <- Status{Code: 128 + int(syscall.SIGKILL), Signal: syscall.SIGKILL, Lost: true}
		return
	}
	done <- statusOf(syscall.WaitStatus(binary.LittleEndian.Uint32(ws[:])))
}

// forkAnchor forks with every signal blocked on this thread, so that no Go
// signal handler ever runs in the child.
func forkAnchor(l *launch) (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	all, old := ^uint64(0), uint64(0)
	if _, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigSetmask, uintptr(unsafe.Pointer(&all)), uintptr(unsafe.Pointer(&old)), 8, 0, 0); e != 0 {
		return 0, e
	}
	pid, errno := rawForkAnchor(l)
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigSetmask, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return pid, nil
}

//go:nosplit
//go:norace
func rawForkAnchor(l *launch) (int, syscall.Errno) {
	r, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	if r != 0 {
		return int(r), 0
	}
	anchorMain(l)
	return 0, 0
}

//go:nosplit
//go:norace
func anchorMain(l *launch) {
	syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	// Lift what it keeps above every number it places, then place: 0-2 the
	// command's stdio, 3 the report, 4 the start failure (both close at exec).
	src := [5]int{l.stdio[0], l.stdio[1], l.stdio[2], l.report, l.execErr}
	for i := 0; i < 5; i++ {
		r, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(src[i]), fDupfdCloexec, uintptr(l.high))
		if e != 0 {
			exitNow(126)
		}
		src[i] = int(r)
	}
	for i := 0; i < 5; i++ {
		flags := uintptr(0)
		if i >= 3 {
			flags = syscall.O_CLOEXEC
		}
		if _, _, e := syscall.RawSyscall(syscall.SYS_DUP3, uintptr(src[i]), uintptr(i), flags); e != 0 {
			exitNow(126)
		}
		syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(src[i]), 0, 0)
	}
	// Every other descriptor: the supervisor's, and other execs' pipes, whose readers would
	// otherwise wait for this anchor too. gVisor's close_range wants a bound it knows.
	if _, _, e := syscall.RawSyscall(sysCloseRange, 5, closeRangeAll, 0); e != 0 {
		if _, _, e := syscall.RawSyscall(sysCloseRange, 5, uintptr(l.closeUpTo), 0); e != 0 {
			for fd := 5; fd <= l.closeUpTo; fd++ {
				syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(fd), 0, 0)
			}
		}
	}
	if l.insns != nil {
		// The command's filter names this anchor: its pid goes where the placeholder stands.
		self, _, _ := syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0)
		for i := 0; i < l.insnCount; i++ {
			k := (*uint32)(unsafe.Add(l.insns, 8*i+4))
			if *k == l.placeholder {
				*k = uint32(self)
			}
		}
	}
	pid, _, e := syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if e != 0 {
		failAt(stageFork, e)
	}
	if pid == 0 {
		commandMain(l)
	}
	for fd := uintptr(0); fd < 5; fd++ {
		if fd != 3 {
			syscall.RawSyscall(syscall.SYS_CLOSE, fd, 0, 0)
		}
	}
	word := uint32(pid)
	syscall.RawSyscall(syscall.SYS_WRITE, 3, uintptr(unsafe.Pointer(&word)), 4)
	// Reap the command and every orphan of its tree until none is left.
	for {
		var ws uint32
		r, _, e := syscall.RawSyscall6(syscall.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(&ws)), 0, 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			exitNow(0)
		}
		if r == pid {
			syscall.RawSyscall(syscall.SYS_WRITE, 3, uintptr(unsafe.Pointer(&ws)), 4)
		}
	}
}

//go:nosplit
//go:norace
func commandMain(l *launch) {
	if l.setsid {
		syscall.RawSyscall(syscall.SYS_SETSID, 0, 0, 0)
	} else {
		syscall.RawSyscall(syscall.SYS_SETPGID, 0, 0, 0)
	}
	if l.ctty {
		syscall.RawSyscall(syscall.SYS_IOCTL, 0, syscall.TIOCSCTTY, 0)
	}
	if l.dir != nil {
		if _, _, e := syscall.RawSyscall(syscall.SYS_CHDIR, uintptr(unsafe.Pointer(l.dir)), 0, 0); e != 0 {
			failAt(stageDir, e)
		}
	}
	// Every signal at its default, as a program expects to start.
	var dfl [4]uintptr
	for sig := uintptr(1); sig <= 64; sig++ {
		syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
	}
	if l.filter != nil {
		syscall.RawSyscall(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0)
		if _, _, e := syscall.RawSyscall(sysSeccomp, 1 /* SECCOMP_SET_MODE_FILTER */, 0, uintptr(l.filter)); e != 0 {
			failAt(stageFilter, e)
		}
	}
	var none uint64
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigSetmask, uintptr(unsafe.Pointer(&none)), 0, 8, 0, 0)
	_, _, e := syscall.RawSyscall(syscall.SYS_EXECVE, uintptr(unsafe.Pointer(l.path)), uintptr(unsafe.Pointer(l.argv)), uintptr(unsafe.Pointer(l.envv)))
	failAt(stageExec, e)
}

//go:nosplit
//go:norace
func failAt(stage uint32, e syscall.Errno) {
	report := [2]uint32{stage, uint32(e)}
	syscall.RawSyscall(syscall.SYS_WRITE, 4, uintptr(unsafe.Pointer(&report)), 8)
	exitNow(127)
}

//go:nosplit
//go:norace
func exitNow(code int) {
	for {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, uintptr(code), 0, 0)
	}
}

// fdBound is above every descriptor this process may hold: its limit.
var fdBound = sync.OnceValue(func() int {
	var limit syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit) != nil || limit.Cur > 1<<20 {
		return 1 << 20
	}
	return int(limit.Cur) - 1
})
