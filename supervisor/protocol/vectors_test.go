package protocol

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
)

// The shared vectors (vectors.json), which test/unit/supervisor-protocol.test.ts reads too.
type vectorFile struct {
	Frames []struct {
		Name, Kind, Payload, Wire string
		Channel                   uint32
	}
	Largest struct {
		Kind, Fill, Header string
		Channel            uint32
		Bytes              int
	}
	Refused []struct {
		Name, Wire, Error string
		Before            int
	}
	Unwritable []struct {
		Name, Kind, Error string
		Channel           uint32
		Bytes             int
	}
	FirstFrames []struct {
		Name, Wire string
		Admitted   bool
	}
	Requests []struct {
		Channel uint32
		Request map[string]any
		Wire    string
	}
	Replies []struct {
		Kind, Message, Wire string
		Channel             uint32
		Line                bool
		Reply               json.RawMessage
	}
}

func readVectors(t *testing.T) vectorFile {
	t.Helper()
	raw, err := os.ReadFile("vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFramesAreWrittenAsTheSharedVectorsSay(t *testing.T) {
	for _, v := range readVectors(t).Frames {
		var buf bytes.Buffer
		if err := Write(&buf, Frame{Kind: Kind(v.Kind[0]), Channel: v.Channel, Payload: unhex(t, v.Payload)}); err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(buf.Bytes()); got != v.Wire {
			t.Errorf("%s: wrote %s, want %s", v.Name, got, v.Wire)
		}
	}
}

func TestFramesAreReadFromTheSharedVectors(t *testing.T) {
	vectors := readVectors(t).Frames
	var stream bytes.Buffer
	for _, v := range vectors {
		stream.Write(unhex(t, v.Wire))
	}
	for _, v := range vectors {
		f, err := Read(&stream)
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		if string(rune(f.Kind)) != v.Kind || f.Channel != v.Channel || hex.EncodeToString(f.Payload) != v.Payload {
			t.Errorf("%s: read %c/%d/%x", v.Name, f.Kind, f.Channel, f.Payload)
		}
	}
	if _, err := Read(&stream); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}
}

func TestTheLargestPayloadGoesBothWays(t *testing.T) {
	l := readVectors(t).Largest
	payload := bytes.Repeat(unhex(t, l.Fill), l.Bytes)
	var buf bytes.Buffer
	if err := Write(&buf, Frame{Kind: Kind(l.Kind[0]), Channel: l.Channel, Payload: payload}); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(buf.Bytes()[:HeaderSize]); got != l.Header {
		t.Errorf("header %s, want %s", got, l.Header)
	}
	f, err := Read(&buf)
	if err != nil || !bytes.Equal(f.Payload, payload) {
		t.Errorf("read back %d bytes, %v", len(f.Payload), err)
	}
}

func TestStreamsTheVectorsRefuseAreRefusedInTheSameWords(t *testing.T) {
	for _, v := range readVectors(t).Refused {
		r := bytes.NewReader(unhex(t, v.Wire))
		for i := 0; i < v.Before; i++ {
			if _, err := Read(r); err != nil {
				t.Fatalf("%s: frame %d: %v", v.Name, i, err)
			}
		}
		_, err := Read(r)
		if err == nil || !strings.Contains(err.Error(), v.Error) {
			t.Errorf("%s: %v, want it to say %q", v.Name, err, v.Error)
		}
	}
}

func TestACutStreamIsStillAnUnexpectedEnd(t *testing.T) {
	if _, err := Read(bytes.NewReader(unhex(t, "31000000010000000300ff"))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("got %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestPayloadsTheVectorsCallUnwritableAreRefusedInTheSameWords(t *testing.T) {
	for _, v := range readVectors(t).Unwritable {
		var buf bytes.Buffer
		err := Write(&buf, Frame{Kind: Kind(v.Kind[0]), Channel: v.Channel, Payload: make([]byte, v.Bytes)})
		if err == nil || !strings.Contains(err.Error(), v.Error) || buf.Len() != 0 {
			t.Errorf("%s: %v (%d bytes written), want it to say %q", v.Name, err, buf.Len(), v.Error)
		}
	}
}

func TestFirstFramesAreAdmittedAsTheVectorsSay(t *testing.T) {
	for _, v := range readVectors(t).FirstFrames {
		payload, err := ReadAuth(bytes.NewReader(unhex(t, v.Wire)))
		if admitted := err == nil; admitted != v.Admitted {
			t.Errorf("%s: admitted %v (%v), want %v", v.Name, admitted, err, v.Admitted)
		}
		if err == nil {
			var auth AuthRequest
			if json.Unmarshal(payload, &auth) != nil || auth.Secret == "" {
				t.Errorf("%s: no secret in %q", v.Name, payload)
			}
		}
	}
}

// A request the client sends is read back whole: no field unknown here, none
// changed (a field left at its zero value is one omitempty leaves out).
func TestRequestsAreReadAsTheClientMeantThem(t *testing.T) {
	for _, v := range readVectors(t).Requests {
		f, err := Read(bytes.NewReader(unhex(t, v.Wire)))
		if err != nil || f.Kind != Open || f.Channel != v.Channel {
			t.Fatalf("%v: %c/%d, %v", v.Request, f.Kind, f.Channel, err)
		}
		decoder := json.NewDecoder(bytes.NewReader(f.Payload))
		decoder.DisallowUnknownFields()
		var req Request
		if err := decoder.Decode(&req); err != nil {
			t.Errorf("%s: %v", f.Payload, err)
			continue
		}
		again, _ := json.Marshal(req)
		var read map[string]any
		json.Unmarshal(again, &read)
		if want := withoutZeros(v.Request); !reflect.DeepEqual(read, want) {
			t.Errorf("%s: read as %s", f.Payload, again)
		}
	}
}

func withoutZeros(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if v != false && v != float64(0) && v != "" {
			out[k] = v
		}
	}
	return out
}

// Each reply is made as the vectors say, byte for byte, from its Go type.
func TestRepliesAreMadeAsTheSharedVectorsSay(t *testing.T) {
	for _, v := range readVectors(t).Replies {
		kind, ok := declaredKinds[v.Kind]
		typ, known := goMessages[v.Message]
		if !ok || !known {
			t.Fatalf("%s %s: no such frame kind or message here", v.Kind, v.Message)
		}
		value := reflect.New(typ)
		decoder := json.NewDecoder(bytes.NewReader(v.Reply))
		decoder.DisallowUnknownFields()
		if err := decoder.Decode(value.Interface()); err != nil {
			t.Errorf("%s %s: %v", v.Message, v.Reply, err)
			continue
		}
		payload, _ := json.Marshal(value.Interface())
		if v.Line {
			payload = append(payload, '\n')
		}
		var buf bytes.Buffer
		Write(&buf, Frame{Kind: kind, Channel: v.Channel, Payload: payload})
		if got := hex.EncodeToString(buf.Bytes()); got != v.Wire {
			t.Errorf("%s %s: made %s, want %s", v.Message, v.Reply, got, v.Wire)
		}
	}
}

func TestTheAuthFrameIsMadeAsTheSharedVectorSays(t *testing.T) {
	raw, _ := os.ReadFile("vectors.json")
	var file struct{ Auth struct{ Secret, Wire string } }
	if err := json.Unmarshal(raw, &file); err != nil || file.Auth.Wire == "" {
		t.Fatalf("no auth vector: %v", err)
	}
	payload, _ := json.Marshal(AuthRequest{Secret: file.Auth.Secret})
	var buf bytes.Buffer
	Write(&buf, Frame{Kind: Auth, Channel: 0, Payload: payload})
	if got := hex.EncodeToString(buf.Bytes()); got != file.Auth.Wire {
		t.Errorf("made %s, want %s", got, file.Auth.Wire)
	}
}

// Every declared frame kind, operation and reply message has vectors.
func TestTheVectorsCoverTheDeclaration(t *testing.T) {
	d, v := readDeclaration(t), readVectors(t)
	kinds, ops, messages := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, f := range v.Frames {
		kinds[f.Kind] = true
	}
	for _, r := range v.Requests {
		op, _ := r.Request["op"].(string)
		ops[op] = true
	}
	for _, r := range v.Replies {
		messages[r.Message] = true
	}
	for name, frame := range d.Frames {
		if !kinds[frame.Byte] {
			t.Errorf("no vector for frame %s", name)
		}
	}
	for name, op := range d.Ops {
		if !ops[name] {
			t.Errorf("no request vector for op %s", name)
		}
		if !messages[op.Done+op.Exit] {
			t.Errorf("no reply vector for %s, which op %s ends with", op.Done+op.Exit, name)
		}
	}
}
