// Package protocol is the wire format between a sandfleet client and the
// supervisor: frames of [kind u8][channel u32 BE][length u32 BE][payload],
// many channels multiplexed over one byte stream. Control payloads are JSON;
// stdin, stdout, stderr and file contents are raw bytes.
package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Kind says what a frame carries.
type Kind byte

const (
	// Client to supervisor.
	Auth   Kind = 'a' // JSON AuthRequest, on channel 0: first on every connection, or nothing is served
	Open   Kind = 'o' // JSON Request: start an exec or a file operation on a new channel
	Input  Kind = 'i' // bytes for the channel's stdin (or a file being written)
	EndIn  Kind = 'e' // no more input on the channel
	Signal Kind = 's' // JSON SignalRequest
	Resize Kind = 'r' // JSON ResizeRequest (PTY execs)

	// Supervisor to client.
	Hello   Kind = 'h' // JSON HelloReply, on channel 0, first on every connection
	Started Kind = 'p' // JSON StartedReply
	Stdout  Kind = '1' // bytes
	Stderr  Kind = '2' // bytes
	Exit    Kind = 'x' // JSON ExitReply: the exec ended; the channel is closed
	Done    Kind = 'd' // JSON result of a file or control operation; the channel is closed
	Failure Kind = 'f' // JSON FailureReply; the channel is closed
)

// HeaderSize is the fixed part of every frame.
const HeaderSize = 9

// MaxPayload bounds one frame, so a corrupt length cannot make either side
// allocate without limit. Senders split larger data.
const MaxPayload = 1 << 20

// MaxAuthPayload bounds the first frame of a connection, read before the
// peer has proven anything: a stranger cannot make the supervisor allocate.
const MaxAuthPayload = 1024

// ErrCutShort is a stream that ended inside a frame; it is an io.ErrUnexpectedEOF.
var ErrCutShort = fmt.Errorf("the stream ended inside a frame: %w", io.ErrUnexpectedEOF)

// oversized says why a length is refused, in the words the TypeScript side
// (provider/runtime/supervisor/frames.ts) uses too: vectors.json holds both to them.
func oversized(length uint64) error {
	return fmt.Errorf("frame payload of %d bytes exceeds %d", length, MaxPayload)
}

// Frame is one unit on the wire.
type Frame struct {
	Kind    Kind
	Channel uint32
	Payload []byte
}

// Write puts one frame on w in a single call, so that frames written by one
// writer at a time are never interleaved.
func Write(w io.Writer, f Frame) error {
	if len(f.Payload) > MaxPayload {
		return oversized(uint64(len(f.Payload)))
	}
	buf := make([]byte, HeaderSize+len(f.Payload))
	buf[0] = byte(f.Kind)
	binary.BigEndian.PutUint32(buf[1:5], f.Channel)
	binary.BigEndian.PutUint32(buf[5:9], uint32(len(f.Payload)))
	copy(buf[HeaderSize:], f.Payload)
	_, err := w.Write(buf)
	return err
}

// ReadAuth takes a connection's first frame, refusing at its header one that
// is not an Auth frame on channel 0 of at most MaxAuthPayload bytes.
func ReadAuth(r io.Reader) ([]byte, error) {
	var header [HeaderSize]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return nil, err
	}
	length := binary.BigEndian.Uint32(header[5:9])
	if Kind(header[0]) != Auth || binary.BigEndian.Uint32(header[1:5]) != 0 || length > MaxAuthPayload {
		return nil, fmt.Errorf("the first frame is not an authentication")
	}
	payload := make([]byte, length)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, err
	}
	return payload, nil
}

// Read takes the next frame from r. io.EOF means the stream ended cleanly
// between frames; a stream cut inside a frame is ErrCutShort.
func Read(r io.Reader) (Frame, error) {
	var header [HeaderSize]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return Frame{}, cutShort(err)
	}
	length := binary.BigEndian.Uint32(header[5:9])
	if length > MaxPayload {
		return Frame{}, oversized(uint64(length))
	}
	f := Frame{Kind: Kind(header[0]), Channel: binary.BigEndian.Uint32(header[1:5]), Payload: make([]byte, length)}
	if _, err := io.ReadFull(r, f.Payload); err != nil {
		if err == io.EOF {
			err = ErrCutShort
		}
		return Frame{}, cutShort(err)
	}
	return f, nil
}

// cutShort names a read that ended inside a frame as such.
func cutShort(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrCutShort
	}
	return err
}
