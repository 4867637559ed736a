package server

import (
	"encoding/json"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sandfleet/supervisor/lifetime"
	"sandfleet/supervisor/protocol"
)

// client is the test's end of a connection: it sends frames and gathers
// what comes back per channel.
type client struct {
	t    *testing.T
	conn net.Conn
	mu   sync.Mutex
	wmu  sync.Mutex
	got  map[uint32][]protocol.Frame
	done map[uint32]chan struct{}
}

func connect(t *testing.T) (*client, *Server) {
	t.Helper()
	server := &Server{Tracker: lifetime.New(0, 0, true, time.Now, nil), BaseEnv: os.Environ()}
	a, b := net.Pipe()
	go server.Serve(a)
	c := &client{t: t, conn: b, got: map[uint32][]protocol.Frame{}, done: map[uint32]chan struct{}{}}
	hello, err := protocol.Read(b)
	if err != nil || hello.Kind != protocol.Hello {
		t.Fatalf("no hello: %v %v", hello, err)
	}
	go c.readLoop()
	t.Cleanup(func() { b.Close() })
	return c, server
}

func (c *client) readLoop() {
	for {
		f, err := protocol.Read(c.conn)
		if err != nil {
			return
		}
		c.mu.Lock()
		c.got[f.Channel] = append(c.got[f.Channel], f)
		if f.Kind == protocol.Exit || f.Kind == protocol.Done || f.Kind == protocol.Failure {
			if ch, ok := c.done[f.Channel]; ok {
				close(ch)
			}
		}
		c.mu.Unlock()
	}
}

func (c *client) send(kind protocol.Kind, channel uint32, payload []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := protocol.Write(c.conn, protocol.Frame{Kind: kind, Channel: channel, Payload: payload}); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) open(channel uint32, req protocol.Request) {
	c.mu.Lock()
	c.done[channel] = make(chan struct{})
	c.mu.Unlock()
	payload, _ := json.Marshal(req)
	c.send(protocol.Open, channel, payload)
}

type result struct {
	stdout, stderr string
	end            protocol.Frame
}

func (c *client) wait(channel uint32) result {
	c.mu.Lock()
	done := c.done[channel]
	c.mu.Unlock()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		c.t.Fatalf("channel %d never ended", channel)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var r result
	for _, f := range c.got[channel] {
		switch f.Kind {
		case protocol.Stdout:
			r.stdout += string(f.Payload)
		case protocol.Stderr:
			r.stderr += string(f.Payload)
		case protocol.Exit, protocol.Done, protocol.Failure:
			r.end = f
		}
	}
	return r
}

func exitOf(t *testing.T, r result) protocol.ExitReply {
	t.Helper()
	if r.end.Kind != protocol.Exit {
		t.Fatalf("ended with %c %s", r.end.Kind, r.end.Payload)
	}
	var e protocol.ExitReply
	json.Unmarshal(r.end.Payload, &e)
	return e
}

func TestExecStreamsStdinAndKeepsOutputsApart(t *testing.T) {
	c, _ := connect(t)
	c.open(1, protocol.Request{Op: protocol.OpExec, Argv: []string{"sh", "-c", "cat; echo oops >&2; exit 7"}})
	c.send(protocol.Input, 1, []byte("hello "))
	c.send(protocol.Input, 1, []byte("world"))
	c.send(protocol.EndIn, 1, nil)
	r := c.wait(1)
	if e := exitOf(t, r); e.ExitCode != 7 {
		t.Errorf("exit %d", e.ExitCode)
	}
	if r.stdout != "hello world" || r.stderr != "oops\n" {
		t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
	}
}

func TestOneConnectionRunsManyCommandsAtOnce(t *testing.T) {
	c, _ := connect(t)
	for i := uint32(1); i <= 50; i++ {
		c.open(i, protocol.Request{Op: protocol.OpExec, Argv: []string{"sh", "-c", "echo $N", "sh"}, Env: map[string]string{"N": strconv.Itoa(int(i))}})
		c.send(protocol.EndIn, i, nil)
	}
	for i := uint32(1); i <= 50; i++ {
		if r := c.wait(i); strings.TrimSpace(r.stdout) != strconv.Itoa(int(i)) {
			t.Errorf("channel %d got %q", i, r.stdout)
		}
	}
}

func TestATimeoutKillsTheTreeAndReports137(t *testing.T) {
	c, _ := connect(t)
	started := time.Now()
	c.open(1, protocol.Request{Op: protocol.OpExec, TimeoutMs: 300, Argv: []string{"sh", "-c", "setsid sh -c 'sleep 60' & sleep 60 & wait"}})
	e := exitOf(t, c.wait(1))
	if !e.TimedOut || e.ExitCode != 137 {
		t.Errorf("got %+v, want 137 timed out", e)
	}
	if elapsed := time.Since(started); elapsed > 5*time.Second {
		t.Errorf("took %v", elapsed)
	}
}

func TestSignalsReachTheCommand(t *testing.T) {
	c, _ := connect(t)
	c.open(1, protocol.Request{Op: protocol.OpExec, Argv: []string{"sh", "-c", "trap 'echo got; exit 5' TERM; echo ready; while :; do sleep 0.05; done"}})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		n := len(c.got[1])
		c.mu.Unlock()
		if n >= 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	payload, _ := json.Marshal(protocol.SignalRequest{Signal: int(syscall.SIGTERM)})
	c.send(protocol.Signal, 1, payload)
	r := c.wait(1)
	if e := exitOf(t, r); e.ExitCode != 5 || !strings.Contains(r.stdout, "got") {
		t.Errorf("got %+v %q", e, r.stdout)
	}
}

func TestAMissingCommandExits127WithAMessage(t *testing.T) {
	c, _ := connect(t)
	c.open(1, protocol.Request{Op: protocol.OpExec, Argv: []string{"no-such-command"}})
	r := c.wait(1)
	if e := exitOf(t, r); e.ExitCode != 127 || !strings.Contains(r.stderr, "no-such-command") {
		t.Errorf("got %+v %q", e, r.stderr)
	}
}

func TestAPtyExecGetsItsSize(t *testing.T) {
	c, _ := connect(t)
	c.open(1, protocol.Request{Op: protocol.OpExec, Argv: []string{"stty", "size"}, Pty: &protocol.WindowSize{Rows: 33, Cols: 101}})
	r := c.wait(1)
	if strings.TrimSpace(r.stdout) != "33 101" || r.stderr != "" {
		t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
	}
}

func TestFilesRoundTrip(t *testing.T) {
	c, _ := connect(t)
	path := t.TempDir() + "/deep/f.bin"
	c.open(1, protocol.Request{Op: protocol.OpWrite, Path: path})
	c.send(protocol.Input, 1, []byte{0, 1, 2})
	c.send(protocol.Input, 1, []byte{255})
	c.send(protocol.EndIn, 1, nil)
	if r := c.wait(1); r.end.Kind != protocol.Done {
		t.Fatalf("write: %s", r.end.Payload)
	}
	c.open(2, protocol.Request{Op: protocol.OpRead, Path: path})
	if r := c.wait(2); r.stdout != "\x00\x01\x02\xff" {
		t.Errorf("read back %q", r.stdout)
	}
	c.open(3, protocol.Request{Op: protocol.OpRead, Path: path + ".missing"})
	var failure protocol.FailureReply
	json.Unmarshal(c.wait(3).end.Payload, &failure)
	if failure.Code != protocol.ErrNotFound {
		t.Errorf("missing file: %+v", failure)
	}
	c.open(4, protocol.Request{Op: protocol.OpList, Path: "relative"})
	json.Unmarshal(c.wait(4).end.Payload, &failure)
	if failure.Code != protocol.ErrInvalid {
		t.Errorf("relative path: %+v", failure)
	}
}

func TestClosingTheConnectionEndsItsCommands(t *testing.T) {
	c, _ := connect(t)
	dir := t.TempDir()
	c.open(1, protocol.Request{Op: protocol.OpExec, Argv: []string{"sh", "-c", "echo $$ > " + dir + "/pid; exec sleep 60"}})
	var pid int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && pid == 0; time.Sleep(10 * time.Millisecond) {
		raw, _ := os.ReadFile(dir + "/pid")
		pid, _ = strconv.Atoi(strings.TrimSpace(string(raw)))
	}
	c.conn.Close()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if syscall.Kill(pid, 0) != nil {
			return
		}
	}
	t.Errorf("process %d outlived its connection", pid)
}
