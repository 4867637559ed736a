package protocol

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"testing"
)

type vector struct {
	Kind    string `json:"kind"`
	Channel uint32 `json:"channel"`
	Payload string `json:"payload"`
	Wire    string `json:"wire"`
}

func vectors(t *testing.T) []vector {
	t.Helper()
	raw, err := os.ReadFile("../testdata/frames.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Frames []vector }
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	return file.Frames
}

func TestFramesEncodeAsTheSharedVectorsSay(t *testing.T) {
	for _, v := range vectors(t) {
		payload, _ := hex.DecodeString(v.Payload)
		var buf bytes.Buffer
		if err := Write(&buf, Frame{Kind: Kind(v.Kind[0]), Channel: v.Channel, Payload: payload}); err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(buf.Bytes()); got != v.Wire {
			t.Errorf("kind %s channel %d: wrote %s, want %s", v.Kind, v.Channel, got, v.Wire)
		}
	}
}

func TestFramesDecodeFromTheSharedVectors(t *testing.T) {
	var stream bytes.Buffer
	for _, v := range vectors(t) {
		wire, _ := hex.DecodeString(v.Wire)
		stream.Write(wire)
	}
	for _, v := range vectors(t) {
		f, err := Read(&stream)
		if err != nil {
			t.Fatal(err)
		}
		if string(rune(f.Kind)) != v.Kind || f.Channel != v.Channel || hex.EncodeToString(f.Payload) != v.Payload {
			t.Errorf("read %c/%d/%x, want %s/%d/%s", f.Kind, f.Channel, f.Payload, v.Kind, v.Channel, v.Payload)
		}
	}
	if _, err := Read(&stream); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}
}

func TestACutFrameIsAnUnexpectedEnd(t *testing.T) {
	wire, _ := hex.DecodeString("31000000010000000300ff")
	if _, err := Read(bytes.NewReader(wire)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("got %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestAnOversizedLengthIsRefusedBeforeAllocating(t *testing.T) {
	wire, _ := hex.DecodeString("3100000001ffffffff")
	if _, err := Read(bytes.NewReader(wire)); err == nil {
		t.Error("a 4 GiB frame was accepted")
	}
	if err := Write(io.Discard, Frame{Kind: Stdout, Payload: make([]byte, MaxPayload+1)}); err == nil {
		t.Error("an oversized frame was written")
	}
}

func TestTheAuthFrameIsMadeAsTheSharedVectorSays(t *testing.T) {
	raw, _ := os.ReadFile("../testdata/frames.json")
	var file struct {
		Auth struct{ Secret, Wire string }
	}
	if err := json.Unmarshal(raw, &file); err != nil || file.Auth.Wire == "" {
		t.Fatalf("no auth vector: %v", err)
	}
	payload, _ := json.Marshal(AuthRequest{Secret: file.Auth.Secret})
	var buf bytes.Buffer
	Write(&buf, Frame{Kind: Auth, Channel: 0, Payload: payload})
	if got := hex.EncodeToString(buf.Bytes()); got != file.Auth.Wire {
		t.Errorf("made %s, want %s", got, file.Auth.Wire)
	}
	wire, _ := hex.DecodeString(file.Auth.Wire)
	read, err := ReadAuth(bytes.NewReader(wire))
	if err != nil || string(read) != string(payload) {
		t.Errorf("read back %q, %v", read, err)
	}
}

func TestAFirstFrameThatIsNotAnAuthIsRefusedAtItsHeader(t *testing.T) {
	for _, wire := range []string{
		"6f000001020000000d7b226f70223a2270696e67227d", // an open
		"6100000001000000027b7d",                       // an auth on another channel
		"6100000000ffffffff",                           // an auth too large to be one
	} {
		raw, _ := hex.DecodeString(wire)
		if _, err := ReadAuth(bytes.NewReader(raw)); err == nil {
			t.Errorf("%s was taken for an auth", wire)
		}
	}
}
