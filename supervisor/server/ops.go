package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"sandfleet/supervisor/files"
	"sandfleet/supervisor/protocol"
)

func (c *conn) open(id uint32, req protocol.Request) {
	switch req.Op {
	case protocol.OpExec:
		if len(req.Argv) == 0 {
			c.fail(id, protocol.ErrInvalid, "exec needs a command")
			return
		}
		c.startExec(id, req)
	case protocol.OpWrite:
		c.startWrite(id, req)
	case protocol.OpStdin:
		c.startMainStdin(id)
	case protocol.OpWatch:
		c.startWatch(id, req)
	case protocol.OpRead, protocol.OpList, protocol.OpStat, protocol.OpMkdir, protocol.OpRemove:
		if err := files.CheckPath(string(req.Op), req.Path); err != nil {
			c.replyFiles(id, nil, err)
			return
		}
		go c.fileOp(id, req)
	case protocol.OpLifetime:
		c.server.Tracker.Arm(time.Duration(req.TimeoutMs)*time.Millisecond, time.Duration(req.IdleTimeoutMs)*time.Millisecond)
		deadline, idle, _ := c.server.Tracker.Bounds()
		reply := protocol.LifetimeResult{IdleTimeoutMs: idle.Milliseconds()}
		if !deadline.IsZero() {
			reply.DeadlineMs = deadline.UnixMilli()
		}
		c.sendJSON(protocol.Done, id, reply)
	case protocol.OpTouch:
		// A resume from outside is activity: the idle time starts again.
		c.server.Tracker.Touch()
		c.sendJSON(protocol.Done, id, protocol.Empty{})
	case protocol.OpActivity:
		c.sendJSON(protocol.Done, id, c.server.Tracker.Idleness())
	case protocol.OpPing:
		c.sendJSON(protocol.Done, id, protocol.Empty{})
	default:
		c.fail(id, protocol.ErrInvalid, fmt.Sprintf("unknown operation %q", req.Op))
	}
}

// blockingFileOps bounds the file calls that run at once. Each holds an OS
// thread while the kernel reads or writes for it, and the supervisor keeps a
// fixed number of threads (see guard.ReserveThreads): more at once would
// make the runtime ask for a new thread, which a sandbox that filled its
// pids limit makes fail, and the Go runtime dies when that fails.
var blockingFileOps = make(chan struct{}, 4)

// fileOp is activity: a file call counts as an exec would.
func (c *conn) fileOp(id uint32, req protocol.Request) {
	blockingFileOps <- struct{}{}
	defer func() { <-blockingFileOps }()
	tracker := c.server.Tracker
	tracker.Begin()
	defer tracker.End()
	switch req.Op {
	case protocol.OpRead:
		var sent int64
		err := files.Read(req.Path, req.Offset, req.Length, req.MaxBytes, func(data []byte) error {
			c.sendData(protocol.Stdout, id, data)
			sent += int64(len(data))
			return nil
		})
		c.replyFiles(id, protocol.SizeResult{SizeBytes: sent}, err)
	case protocol.OpList:
		entries, err := files.List(req.Path)
		c.replyFiles(id, protocol.ListResult{Entries: entries}, err)
	case protocol.OpStat:
		entry, err := files.Stat(req.Path)
		c.replyFiles(id, entry, err)
	case protocol.OpMkdir:
		c.replyFiles(id, protocol.Empty{}, files.Mkdir(req.Path, req.Parents))
	case protocol.OpRemove:
		c.replyFiles(id, protocol.Empty{}, files.Remove(req.Path, req.Recursive, req.Force))
	}
}

func (c *conn) replyFiles(id uint32, result any, err error) {
	if err == nil {
		c.sendJSON(protocol.Done, id, result)
		return
	}
	var typed *files.Error
	if errors.As(err, &typed) {
		c.fail(id, typed.Code, typed.Message)
		return
	}
	c.fail(id, protocol.ErrFailed, err.Error())
}

// writeChannel receives a file's bytes as input frames; the end of input commits it.
type writeChannel struct {
	c      *conn
	id     uint32
	w      *files.Writer
	failed error
	size   int64
}

func (c *conn) startWrite(id uint32, req protocol.Request) {
	if err := files.CheckPath(string(req.Op), req.Path); err != nil {
		c.replyFiles(id, nil, err)
		return
	}
	mode := files.Replace
	if req.Append {
		mode = files.Append
	} else if req.Positioned {
		mode = files.At
	}
	w, err := files.OpenWriter(req.Path, mode, req.Offset)
	if err != nil {
		c.replyFiles(id, nil, err)
		return
	}
	c.server.Tracker.Begin()
	if !c.register(id, &writeChannel{c: c, id: id, w: w}) {
		c.server.Tracker.End()
		w.Close()
	}
}

func (wc *writeChannel) input(data []byte) {
	if wc.failed == nil {
		wc.failed = wc.w.Write(data)
		wc.size += int64(len(data))
	}
}

func (wc *writeChannel) endInput() {
	wc.c.release(wc.id)
	defer wc.c.server.Tracker.End()
	err := wc.w.Close()
	if wc.failed != nil {
		err = wc.failed
	}
	wc.c.replyFiles(wc.id, protocol.SizeResult{SizeBytes: wc.size}, err)
}

func (wc *writeChannel) signal(int)            {}
func (wc *writeChannel) resize(uint16, uint16) {}
func (wc *writeChannel) closeByPeer() {
	wc.w.Close()
	wc.c.server.Tracker.End()
}

// mainStdinChannel writes to the sandbox's main command.
type mainStdinChannel struct {
	c  *conn
	id uint32
}

func (c *conn) startMainStdin(id uint32) {
	if c.server.MainStdin == nil {
		c.fail(id, protocol.ErrInvalid, "this sandbox's main command takes no stdin")
		return
	}
	c.register(id, &mainStdinChannel{c: c, id: id})
}

func (m *mainStdinChannel) input(data []byte) {
	m.c.server.Tracker.Touch()
	m.c.server.mainIn.Lock()
	defer m.c.server.mainIn.Unlock()
	m.c.server.MainStdin.Write(data)
}

func (m *mainStdinChannel) endInput() {
	m.c.release(m.id)
	m.c.server.mainIn.Lock()
	m.c.server.MainStdin.Close()
	m.c.server.mainIn.Unlock()
	m.c.sendJSON(protocol.Done, m.id, protocol.Empty{})
}

func (m *mainStdinChannel) signal(int)            {}
func (m *mainStdinChannel) resize(uint16, uint16) {}
func (m *mainStdinChannel) closeByPeer()          {}

// watchChannel streams changes under a path, one JSON line each, until the
// client ends its input.
type watchChannel struct {
	c  *conn
	id uint32
	w  *files.Watcher
}

func (c *conn) startWatch(id uint32, req protocol.Request) {
	if err := files.CheckPath(string(req.Op), req.Path); err != nil {
		c.replyFiles(id, nil, err)
		return
	}
	w, err := files.Watch(req.Path, req.Recursive)
	if err != nil {
		c.replyFiles(id, nil, err)
		return
	}
	wc := &watchChannel{c: c, id: id, w: w}
	if !c.register(id, wc) {
		w.Close()
		return
	}
	go func() {
		for {
			events, err := w.Next()
			if err != nil {
				c.release(id)
				c.sendJSON(protocol.Done, id, protocol.Empty{})
				return
			}
			for _, e := range events {
				line, _ := json.Marshal(e)
				c.sendData(protocol.Stdout, id, append(line, '\n'))
			}
		}
	}()
}

func (wc *watchChannel) input([]byte)          {}
func (wc *watchChannel) endInput()             { wc.w.Close() }
func (wc *watchChannel) signal(int)            {}
func (wc *watchChannel) resize(uint16, uint16) {}
func (wc *watchChannel) closeByPeer()          { wc.w.Close() }
