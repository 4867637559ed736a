package server

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"sandfleet/supervisor/proc"
	"sandfleet/supervisor/protocol"
)

// Exit codes for a command that could not start, as a shell reports them.
const (
	exitCannotRun = 126
	exitNotFound  = 127
)

// pumpBuffers are reused from one command's output to the next: a burst of
// short commands would otherwise make two fresh buffers each.
var pumpBuffers = sync.Pool{New: func() any {
	b := make([]byte, 32*1024)
	return &b
}}

// ptyQuiet is how long a terminal's output may pause, once its program has
// ended, before the exec is over.
const ptyQuiet = 100 * time.Millisecond

type execChannel struct {
	c        *conn
	id       uint32
	p        *proc.Process
	mark     string
	oomMark  int64 // the kernel's count of OOM kills when the command started
	stdin    chan []byte
	endOnce  sync.Once
	killed   chan struct{}
	kill     sync.Once
	finished chan struct{}
}

func (c *conn) startExec(id uint32, req protocol.Request) {
	s := c.server
	mark := fmt.Sprintf("%d-%d", os.Getpid(), s.execs.Add(1))
	env := mergeEnv(s.BaseEnv, req.Env, req.Pty != nil)
	env = append(env, proc.MarkVariable+"="+mark)
	spec := proc.Spec{Argv: req.Argv, Env: env, Dir: req.Workdir, Confined: true}
	if req.Pty != nil {
		spec.Rows, spec.Cols = max(req.Pty.Rows, 1), max(req.Pty.Cols, 1)
	}
	oomMark := s.OOM.Mark()
	p, err := proc.Start(spec)
	if err != nil {
		// As a shell would: the message on stderr, and the exit code that says why.
		code := exitCannotRun
		if errors.Is(err, proc.ErrNotFound) {
			code = exitNotFound
		}
		c.sendJSON(protocol.Started, id, protocol.StartedReply{})
		c.sendData(protocol.Stderr, id, []byte("sandfleet: "+err.Error()+"\n"))
		c.sendJSON(protocol.Exit, id, protocol.ExitReply{ExitCode: code})
		return
	}
	ch := &execChannel{c: c, id: id, p: p, mark: mark, oomMark: oomMark, stdin: make(chan []byte, 64), killed: make(chan struct{}), finished: make(chan struct{})}
	if !c.register(id, ch) {
		proc.KillTree(p.Pid, mark)
		return
	}
	s.Tracker.Begin()
	s.Tracker.CountExec()
	c.sendJSON(protocol.Started, id, protocol.StartedReply{Pid: p.Pid})
	go ch.feedStdin()
	go ch.run(req.TimeoutMs)
}

func (ch *execChannel) run(timeoutMs int64) {
	defer ch.c.server.Tracker.End()
	var pumps sync.WaitGroup
	pump := func(r io.ReadCloser, kind protocol.Kind) {
		defer pumps.Done()
		buf := pumpBuffers.Get().(*[]byte)
		defer pumpBuffers.Put(buf)
		for {
			n, err := r.Read(*buf)
			if n > 0 {
				ch.c.sendData(kind, ch.id, (*buf)[:n])
				ch.p.ExtendDrain()
			}
			if err != nil { // EOF, or EIO from a PTY whose last user has gone
				return
			}
		}
	}
	pumps.Add(1)
	go pump(ch.p.Stdout, protocol.Stdout)
	if ch.p.Stderr != nil {
		pumps.Add(1)
		go pump(ch.p.Stderr, protocol.Stderr)
	}
	timedOut := false
	var timeout <-chan time.Time
	if timeoutMs > 0 {
		timer := time.NewTimer(time.Duration(timeoutMs) * time.Millisecond)
		defer timer.Stop()
		timeout = timer.C
	}
	var status proc.Status
	select {
	case status = <-ch.p.Done:
	case <-timeout:
		timedOut = true
		ch.end()
		status = <-ch.p.Done
	}
	// A SIGKILL the supervisor did not send: the kernel's, for memory, or another process's.
	oom := status.Signal == syscall.SIGKILL && !ch.endedHere() && ch.c.server.OOM.Claim(ch.oomMark)
	ch.p.DrainPty(ptyQuiet)
	// As the engine's exec does, the command has ended once its output has:
	// a background child that keeps stdout open keeps the exec running (and
	// its timeout, or a kill, ends the child too).
	if timeout != nil {
		drained := make(chan struct{})
		go func() { pumps.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-timeout:
			timedOut = true
			ch.end()
			<-drained
		}
	} else {
		pumps.Wait()
	}
	ch.closeOutput()
	ch.c.release(ch.id)
	close(ch.finished)
	reply := protocol.ExitReply{ExitCode: status.Code, Signal: int(status.Signal), TimedOut: timedOut, OOM: oom}
	if timedOut {
		reply.ExitCode = 128 + int(syscall.SIGKILL)
		reply.Signal = int(syscall.SIGKILL)
	}
	ch.c.sendJSON(protocol.Exit, ch.id, reply)
}

func (ch *execChannel) closeOutput() {
	ch.p.Stdout.Close()
	if ch.p.Stderr != nil {
		ch.p.Stderr.Close()
	}
}

// end kills everything the command started.
func (ch *execChannel) end() {
	ch.kill.Do(func() { close(ch.killed) })
	proc.KillTree(ch.p.Pid, ch.mark)
}

// endedHere says whether the supervisor itself ended the command (timeout, kill, a closed connection).
func (ch *execChannel) endedHere() bool {
	select {
	case <-ch.killed:
		return true
	default:
		return false
	}
}

func (ch *execChannel) feedStdin() {
	for {
		var data []byte
		select {
		case data = <-ch.stdin:
		case <-ch.finished:
			if !ch.p.IsPty() {
				ch.p.Stdin.Close()
			}
			return
		}
		if data == nil { // end of input
			if ch.p.IsPty() {
				ch.p.Stdin.Write([]byte{4}) // ^D: a terminal's end of input; closing would hang up
			} else {
				ch.p.Stdin.Close()
			}
			continue
		}
		ch.c.server.Tracker.Touch()
		if _, err := ch.p.Stdin.Write(data); err != nil && !ch.p.IsPty() {
			ch.p.Stdin.Close() // the command stopped reading: later input is dropped, as a pipe would
		}
	}
}

func (ch *execChannel) input(data []byte) {
	select {
	case ch.stdin <- data:
	case <-ch.killed:
	case <-ch.finished:
	}
}

func (ch *execChannel) endInput() {
	ch.endOnce.Do(func() {
		select {
		case ch.stdin <- nil:
		case <-ch.killed:
		case <-ch.finished:
		}
	})
}

func (ch *execChannel) signal(sig int) {
	if syscall.Signal(sig) == syscall.SIGKILL {
		ch.end()
		return
	}
	proc.SignalTree(ch.p.Pid, ch.mark, syscall.Signal(sig))
}

func (ch *execChannel) resize(rows, cols uint16) { ch.p.Resize(max(rows, 1), max(cols, 1)) }

func (ch *execChannel) closeByPeer() { ch.end() }

// mergeEnv lays an exec's variables over the sandbox's. A terminal gets a
// TERM (and COLORTERM) unless the exec or the sandbox names one.
func mergeEnv(base []string, extra map[string]string, terminal bool) []string {
	out := make([]string, 0, len(base)+len(extra)+2)
	for _, kv := range base {
		key, _, _ := strings.Cut(kv, "=")
		if _, replaced := extra[key]; replaced || key == proc.MarkVariable {
			continue
		}
		if key == "TERM" {
			terminal = false
		}
		out = append(out, kv)
	}
	for key, value := range extra {
		if key == "TERM" {
			terminal = false
		}
		out = append(out, key+"="+value)
	}
	if terminal {
		out = append(out, "TERM=xterm-256color", "COLORTERM=truecolor")
	}
	return out
}
