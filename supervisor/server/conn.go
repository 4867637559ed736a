// Package server serves the supervisor protocol on one connection: execs
// and file operations, each on a channel of its own, many at a time.
package server

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"sandfleet/supervisor/lifetime"
	"sandfleet/supervisor/proc"
	"sandfleet/supervisor/protocol"
)

// Server holds what every connection shares.
type Server struct {
	Tracker *lifetime.Tracker
	// MainStdin is the main command's stdin, written through the "stdin" operation.
	MainStdin io.WriteCloser
	// BaseEnv is the environment every exec starts from: the sandbox's own.
	BaseEnv []string
	// OOM tells a command the kernel killed for memory from one killed by another process.
	OOM    *proc.OOMLedger
	execs  atomic.Uint64
	mainIn sync.Mutex
}

// inbound is what a channel does with the client's frames after its Open.
type inbound interface {
	input(data []byte)
	endInput()
	signal(sig int)
	resize(rows, cols uint16)
	// closeByPeer ends whatever is left when the connection goes.
	closeByPeer()
}

type conn struct {
	server *Server
	rw     io.ReadWriteCloser
	out    chan protocol.Frame
	gone   chan struct{}
	once   sync.Once

	mu       sync.Mutex
	channels map[uint32]inbound
}

// Serve runs one connection, already admitted by a Gate, until the client
// closes it or it breaks.
// Execs still running when it goes are ended: nobody can read them any more.
func (s *Server) Serve(rw io.ReadWriteCloser) {
	c := &conn{server: s, rw: rw, out: make(chan protocol.Frame, 256), gone: make(chan struct{}), channels: map[uint32]inbound{}}
	go c.writeLoop()
	c.sendJSON(protocol.Hello, 0, protocol.HelloReply{Version: protocol.Version, Pid: os.Getpid(), Uid: os.Getuid()})
	for {
		f, err := protocol.Read(rw)
		if err != nil {
			break
		}
		c.dispatch(f)
	}
	c.close()
	c.mu.Lock()
	left := make([]inbound, 0, len(c.channels))
	for _, ch := range c.channels {
		left = append(left, ch)
	}
	c.mu.Unlock()
	for _, ch := range left {
		ch.closeByPeer()
	}
}

func (c *conn) close() {
	c.once.Do(func() {
		close(c.gone)
		c.rw.Close()
	})
}

func (c *conn) writeLoop() {
	for {
		select {
		case f := <-c.out:
			if err := protocol.Write(c.rw, f); err != nil {
				c.close()
				return
			}
		case <-c.gone:
			return
		}
	}
}

// send queues a frame; it waits while the client is slow to read, which
// holds back whatever produces the data, and drops it once the connection is gone.
func (c *conn) send(kind protocol.Kind, channel uint32, payload []byte) {
	select {
	case c.out <- protocol.Frame{Kind: kind, Channel: channel, Payload: payload}:
	case <-c.gone:
	}
}

// sendData splits bytes into frames of a size the client handles well.
func (c *conn) sendData(kind protocol.Kind, channel uint32, data []byte) {
	const chunk = 64 * 1024
	for len(data) > 0 {
		n := min(len(data), chunk)
		c.send(kind, channel, append([]byte(nil), data[:n]...))
		data = data[n:]
	}
}

func (c *conn) sendJSON(kind protocol.Kind, channel uint32, value any) {
	payload, _ := json.Marshal(value)
	c.send(kind, channel, payload)
}

func (c *conn) fail(channel uint32, code, message string) {
	c.sendJSON(protocol.Failure, channel, protocol.FailureReply{Code: code, Message: message})
}

// register gives a channel its handler; a channel still in use is refused,
// said to the client, and the caller undoes what it started.
func (c *conn) register(channel uint32, in inbound) bool {
	c.mu.Lock()
	_, taken := c.channels[channel]
	if !taken {
		c.channels[channel] = in
	}
	c.mu.Unlock()
	if taken {
		c.fail(channel, protocol.ErrInvalid, fmt.Sprintf("channel %d is already in use", channel))
	}
	return !taken
}

func (c *conn) release(channel uint32) {
	c.mu.Lock()
	delete(c.channels, channel)
	c.mu.Unlock()
}

func (c *conn) lookup(channel uint32) inbound {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.channels[channel]
}

func (c *conn) dispatch(f protocol.Frame) {
	if f.Kind == protocol.Open {
		var req protocol.Request
		if err := json.Unmarshal(f.Payload, &req); err != nil {
			c.fail(f.Channel, protocol.ErrInvalid, "the request is not valid JSON: "+err.Error())
			return
		}
		c.open(f.Channel, req)
		return
	}
	ch := c.lookup(f.Channel)
	if ch == nil {
		return // a late frame for a channel that has ended
	}
	switch f.Kind {
	case protocol.Input:
		ch.input(f.Payload)
	case protocol.EndIn:
		ch.endInput()
	case protocol.Signal:
		var req protocol.SignalRequest
		if json.Unmarshal(f.Payload, &req) == nil {
			ch.signal(req.Signal)
		}
	case protocol.Resize:
		var req protocol.WindowSize
		if json.Unmarshal(f.Payload, &req) == nil {
			ch.resize(req.Rows, req.Cols)
		}
	}
}
