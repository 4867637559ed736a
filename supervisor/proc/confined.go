package proc

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"sandfleet/supervisor/guard"
)

// An exec's command starts confined: leading a session of its own, under a
// seccomp filter (guard.ExecFilter) that it and everything it starts inherit,
// and that keeps them all in that session, whatever they do to their process
// groups, environment or parents (setsid succeeds and changes nothing;
// nothing else moves a process to another session). The session is then the
// exec: a timeout or a kill ends it whole. The filter also keeps them from
// ending or stopping the supervisor.
//
// Go's ForkExec has no step for a seccomp filter between the fork and the
// exec, so the child is started here, as ForkExec starts its own: a clone
// that shares this process's memory and stack (CLONE_VM|CLONE_VFORK) until
// the child execs, running only raw system calls on the stack it shares,
// which is why its code below is nosplit and allocates nothing.

const (
	cloneVM       = 0x100
	cloneVfork    = 0x4000
	fDupfdCloexec = 1030
	sigSetmask    = 2
	noNewPrivs    = 38 // PR_SET_NO_NEW_PRIVS
)

// vforkRaw is in vfork_$GOARCH.s.
func vforkRaw(flags uintptr) (pid, errno uintptr)

// launch is everything the child needs, made before the clone: the child
// may only read it.
type launch struct {
	path, dir  *byte
	argv, envv **byte
	stdio      [3]int
	execErr    int            // write end: the stage and errno of a start that failed
	high       int            // above every fd the child places
	ctty       bool           // the terminal at fd 0 becomes the session's
	filter     unsafe.Pointer // a sock_fprog
}

// Stages a start can fail at, as the child reports them.
const (
	stageStdio  = 1
	stageDir    = 2
	stageFilter = 3
	stageExec   = 4
)

// execFilter is the same for every exec: it protects this process.
var execFilter = sync.OnceValue(func() []byte { return guard.ExecFilter([]int{os.Getpid()}) })

// startConfined starts path with spec on the given stdio fds; the caller
// closes them once it returns.
func startConfined(path string, spec Spec, stdio [3]uintptr, terminal bool) (int, <-chan Status, error) {
	argv, err := syscall.SlicePtrFromStrings(spec.Argv)
	if err != nil {
		return 0, nil, err
	}
	envv, err := syscall.SlicePtrFromStrings(spec.Env)
	if err != nil {
		return 0, nil, err
	}
	pathp, err := syscall.BytePtrFromString(path)
	if err != nil {
		return 0, nil, err
	}
	var dirp *byte
	if spec.Dir != "" {
		if dirp, err = syscall.BytePtrFromString(spec.Dir); err != nil {
			return 0, nil, err
		}
	}
	// A plain pipe, read with plain calls: the child has exec'd or failed by the time it is read.
	var errPipe [2]int
	if err := syscall.Pipe2(errPipe[:], syscall.O_CLOEXEC); err != nil {
		return 0, nil, err
	}
	errR, errW := errPipe[0], errPipe[1]
	defer syscall.Close(errR)
	filter := execFilter()
	prog := &struct {
		len    uint16
		filter unsafe.Pointer
	}{uint16(len(filter) / 8), unsafe.Pointer(&filter[0])}
	l := &launch{
		path: pathp, dir: dirp, argv: &argv[0], envv: &envv[0],
		execErr: errW, ctty: terminal, filter: unsafe.Pointer(prog),
	}
	for i, fd := range stdio {
		l.stdio[i] = int(fd)
		l.high = max(l.high, int(fd))
	}
	l.high = max(l.high, l.execErr, 2) + 1
	pid, done, err := theReaper.start(func() (int, error) { return forkConfined(l) })
	runtime.KeepAlive(l)
	runtime.KeepAlive(prog)
	runtime.KeepAlive(filter)
	runtime.KeepAlive(argv)
	runtime.KeepAlive(envv)
	syscall.Close(errW)
	if err != nil {
		return 0, nil, fmt.Errorf("start %s: %w", spec.Argv[0], err)
	}
	// The child has exec'd (the pipe closed with it) or said why it could not.
	var failure [8]byte
	if n := readFull(errR, failure[:]); n == len(failure) {
		<-done
		return 0, nil, startFailure(binary.LittleEndian.Uint32(failure[:4]), syscall.Errno(binary.LittleEndian.Uint32(failure[4:])), spec)
	}
	return pid, done, nil
}

func readFull(fd int, buf []byte) int {
	n := 0
	for n < len(buf) {
		k, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if k <= 0 || err != nil {
			break
		}
		n += k
	}
	return n
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

// forkConfined clones with every signal blocked on this thread, so that no
// Go signal handler ever runs in the child, on the stack it shares.
func forkConfined(l *launch) (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	all, old := ^uint64(0), uint64(0)
	if _, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigSetmask, uintptr(unsafe.Pointer(&all)), uintptr(unsafe.Pointer(&old)), 8, 0, 0); e != 0 {
		return 0, e
	}
	pid, errno := cloneConfined(l)
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigSetmask, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return pid, nil
}

//go:nosplit
//go:norace
func cloneConfined(l *launch) (int, syscall.Errno) {
	pid, errno := vforkRaw(cloneVM | cloneVfork | uintptr(syscall.SIGCHLD))
	if errno != 0 {
		return 0, syscall.Errno(errno)
	}
	if pid == 0 {
		childMain(l) // never returns
	}
	return int(pid), 0
}

//go:nosplit
//go:norace
func childMain(l *launch) {
	// Lift the stdio fds above every number it places, then place them at 0-2.
	var high [3]uintptr
	for i := 0; i < 3; i++ {
		r, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(l.stdio[i]), fDupfdCloexec, uintptr(l.high))
		if e != 0 {
			failAt(l, stageStdio, e)
		}
		high[i] = r
	}
	for i := 0; i < 3; i++ {
		if _, _, e := syscall.RawSyscall(syscall.SYS_DUP3, high[i], uintptr(i), 0); e != 0 {
			failAt(l, stageStdio, e)
		}
	}
	syscall.RawSyscall(syscall.SYS_SETSID, 0, 0, 0) // its own session, and process group
	if l.ctty {
		syscall.RawSyscall(syscall.SYS_IOCTL, 0, syscall.TIOCSCTTY, 0)
	}
	if l.dir != nil {
		if _, _, e := syscall.RawSyscall(syscall.SYS_CHDIR, uintptr(unsafe.Pointer(l.dir)), 0, 0); e != 0 {
			failAt(l, stageDir, e)
		}
	}
	// Every signal at its default, as a program expects to start.
	var dfl [4]uintptr
	for sig := uintptr(1); sig <= 64; sig++ {
		syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
	}
	syscall.RawSyscall(syscall.SYS_PRCTL, noNewPrivs, 1, 0)
	if _, _, e := syscall.RawSyscall(sysSeccomp, 1 /* SECCOMP_SET_MODE_FILTER */, 0, uintptr(l.filter)); e != 0 {
		failAt(l, stageFilter, e)
	}
	var none uint64
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigSetmask, uintptr(unsafe.Pointer(&none)), 0, 8, 0, 0)
	_, _, e := syscall.RawSyscall(syscall.SYS_EXECVE, uintptr(unsafe.Pointer(l.path)), uintptr(unsafe.Pointer(l.argv)), uintptr(unsafe.Pointer(l.envv)))
	failAt(l, stageExec, e)
}

//go:nosplit
//go:norace
func failAt(l *launch, stage uint32, e syscall.Errno) {
	report := [2]uint32{stage, uint32(e)}
	syscall.RawSyscall(syscall.SYS_WRITE, uintptr(l.execErr), uintptr(unsafe.Pointer(&report)), 8)
	for {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 127, 0, 0)
	}
}
