package proc

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Spec is a process to start.
type Spec struct {
	Argv []string
	Env  []string // the whole environment, KEY=value
	Dir  string
	// Rows and Cols, when set, run the process on a new pseudo-terminal
	// instead of pipes: one output stream, its own session, resizable.
	Rows, Cols uint16
	// InheritOutput gives the process this one's stdout and stderr (the
	// sandbox's log) instead of pipes; Stdout and Stderr are then nil.
	InheritOutput bool
	// Confined starts the process under the exec filter (see confined.go):
	// every process it starts stays in its process group, where a kill finds
	// it, and none can end or stop the supervisor.
	Confined bool
}

// Process is a started process with its streams.
type Process struct {
	Pid    int
	Stdin  io.WriteCloser
	Stdout io.ReadCloser
	Stderr io.ReadCloser // nil on a PTY, where both go to Stdout
	Done   <-chan Status // receives once, when the process has ended
	pty    *os.File
	// draining, when set, is how long a PTY may stay quiet before reading ends.
	draining atomic.Int64
}

// ErrNotFound is returned when the command cannot be found on PATH; ErrNotExecutable when it is
// found but cannot be run; ErrNoWorkdir when the working directory does not exist.
var (
	ErrNotFound      = errors.New("command not found")
	ErrNotExecutable = errors.New("command not executable")
	ErrNoWorkdir     = errors.New("working directory does not exist")
)

// Start starts spec. The process leads a process group of its own (a session
// on a PTY), so that a signal can reach everything it starts.
func Start(spec Spec) (*Process, error) {
	if len(spec.Argv) == 0 {
		return nil, errors.New("no command")
	}
	if spec.Dir != "" {
		if info, err := os.Stat(spec.Dir); err != nil || !info.IsDir() {
			return nil, fmt.Errorf("%w: %s", ErrNoWorkdir, spec.Dir)
		}
	}
	path, err := LookPath(spec.Argv[0], spec.Env, spec.Dir)
	if err != nil {
		return nil, err
	}
	if spec.Rows > 0 && spec.Cols > 0 {
		return startOnPty(path, spec)
	}
	return startOnPipes(path, spec)
}

func startOnPipes(path string, spec Spec) (*Process, error) {
	var parentEnds, childEnds []*os.File
	closeAll := func(files []*os.File) {
		for _, f := range files {
			f.Close()
		}
	}
	for i := 0; i < 3; i++ {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(parentEnds)
			closeAll(childEnds)
			return nil, err
		}
		if i == 0 { // the child reads stdin
			childEnds, parentEnds = append(childEnds, r), append(parentEnds, w)
		} else {
			childEnds, parentEnds = append(childEnds, w), append(parentEnds, r)
		}
	}
	files := []uintptr{childEnds[0].Fd(), childEnds[1].Fd(), childEnds[2].Fd()}
	if spec.InheritOutput {
		files[1], files[2] = os.Stdout.Fd(), os.Stderr.Fd()
	}
	p := &Process{Stdin: parentEnds[0], Stdout: parentEnds[1], Stderr: parentEnds[2]}
	var err error
	if spec.Confined {
		p.Pid, p.Done, err = startConfined(path, spec, [3]uintptr{files[0], files[1], files[2]}, false)
	} else {
		attr := &syscall.ProcAttr{Dir: spec.Dir, Env: spec.Env, Files: files, Sys: &syscall.SysProcAttr{Setpgid: true}}
		p.Pid, p.Done, err = theReaper.start(func() (int, error) { return syscall.ForkExec(path, spec.Argv, attr) })
		err = startErrorOrNil(spec.Argv[0], err)
	}
	closeAll(childEnds)
	if err != nil {
		closeAll(parentEnds)
		return nil, err
	}
	if spec.InheritOutput {
		closeAll(parentEnds[1:])
		p.Stdout, p.Stderr = nil, nil
	}
	return p, nil
}

func startOnPty(path string, spec Spec) (*Process, error) {
	master, slave, err := openPty()
	if err != nil {
		return nil, err
	}
	defer slave.Close()
	if err := setWindowSize(master, spec.Rows, spec.Cols); err != nil {
		master.Close()
		return nil, err
	}
	p := &Process{Stdin: master, Stdout: master, pty: master}
	if spec.Confined {
		p.Pid, p.Done, err = startConfined(path, spec, [3]uintptr{slave.Fd(), slave.Fd(), slave.Fd()}, true)
	} else {
		attr := &syscall.ProcAttr{
			Dir:   spec.Dir,
			Env:   spec.Env,
			Files: []uintptr{slave.Fd(), slave.Fd(), slave.Fd()},
			Sys:   &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0},
		}
		p.Pid, p.Done, err = theReaper.start(func() (int, error) { return syscall.ForkExec(path, spec.Argv, attr) })
		err = startErrorOrNil(spec.Argv[0], err)
	}
	if err != nil {
		master.Close()
		return nil, err
	}
	return p, nil
}

func startErrorOrNil(command string, err error) error {
	if err == nil {
		return nil
	}
	return startError(command, err)
}

// Resize sets a PTY's window size; the kernel tells the program with SIGWINCH.
func (p *Process) Resize(rows, cols uint16) error {
	if p.pty == nil {
		return errors.New("not a PTY exec")
	}
	return setWindowSize(p.pty, rows, cols)
}

// DrainPty ends reading a PTY once no output has come for quiet: a
// terminal's session ends with its program, whether or not the kernel says
// so (gVisor's never does).
func (p *Process) DrainPty(quiet time.Duration) {
	if p.pty != nil {
		p.pty.SetReadDeadline(time.Now().Add(quiet))
		p.draining.Store(int64(quiet))
	}
}

// ExtendDrain pushes a draining PTY's deadline on after output came.
func (p *Process) ExtendDrain() {
	if quiet := p.draining.Load(); quiet > 0 {
		p.pty.SetReadDeadline(time.Now().Add(time.Duration(quiet)))
	}
}

// IsPty says whether the process runs on a pseudo-terminal.
func (p *Process) IsPty() bool { return p.pty != nil }

func startError(command string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("%w: %s", ErrNotFound, command)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.ENOEXEC), errors.Is(err, syscall.EISDIR):
		return fmt.Errorf("%w: %s: %v", ErrNotExecutable, command, err)
	}
	return fmt.Errorf("start %s: %w", command, err)
}

// LookPath finds a command as execvp does, on the PATH of the environment
// the command will have, not the supervisor's.
func LookPath(command string, env []string, dir string) (string, error) {
	if strings.Contains(command, "/") {
		if !filepath.IsAbs(command) && dir != "" {
			return filepath.Join(dir, command), nil
		}
		return command, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			path = kv[len("PATH="):]
		}
	}
	denied := false
	for _, entry := range filepath.SplitList(path) {
		if entry == "" {
			entry = "."
		}
		candidate := filepath.Join(entry, command)
		info, err := os.Stat(candidate)
		if err != nil || info.IsDir() {
			continue
		}
		if syscall.Access(candidate, 1) == nil { // X_OK
			return candidate, nil
		}
		denied = true
	}
	if denied {
		return "", fmt.Errorf("%w: %s", ErrNotExecutable, command)
	}
	return "", fmt.Errorf("%w: %s", ErrNotFound, command)
}
