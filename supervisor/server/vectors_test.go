package server

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"sandfleet/supervisor/protocol"
)

// openRaw starts a channel with a payload as it came, whatever it holds.
func (c *client) openRaw(channel uint32, payload []byte) {
	c.mu.Lock()
	c.done[channel] = make(chan struct{})
	c.mu.Unlock()
	c.send(protocol.Open, channel, payload)
}

func failureOf(t *testing.T, r result) (protocol.FailureReply, bool) {
	t.Helper()
	var failure protocol.FailureReply
	if r.end.Kind != protocol.Failure {
		return failure, false
	}
	if err := json.Unmarshal(r.end.Payload, &failure); err != nil {
		t.Fatalf("failure %q: %v", r.end.Payload, err)
	}
	return failure, true
}

// The requests the shared vectors (protocol/vectors.json) say the supervisor
// refuses: each fails with its code, in its words.
func TestRequestsTheVectorsRefuseFailInTheirWords(t *testing.T) {
	raw, err := os.ReadFile("../protocol/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		RefusedRequests []struct{ Name, Payload, Code, Words string }
	}
	if err := json.Unmarshal(raw, &file); err != nil || len(file.RefusedRequests) == 0 {
		t.Fatalf("no refused requests: %v", err)
	}
	c, _ := connect(t)
	for i, v := range file.RefusedRequests {
		payload, _ := hex.DecodeString(v.Payload)
		channel := uint32(i + 1)
		c.openRaw(channel, payload)
		failure, failed := failureOf(t, c.wait(channel))
		if !failed || failure.Code != v.Code || !strings.Contains(failure.Message, v.Words) {
			t.Errorf("%s: %+v (failed %v), want %s saying %q", v.Name, failure, failed, v.Code, v.Words)
		}
	}
}

// Every operation protocol.json declares is one this server knows: asked
// with no arguments worth doing, none answers that it is unknown.
func TestEveryDeclaredOperationIsServed(t *testing.T) {
	raw, err := os.ReadFile("../protocol/protocol.json")
	if err != nil {
		t.Fatal(err)
	}
	var declared struct{ Ops map[string]json.RawMessage }
	if err := json.Unmarshal(raw, &declared); err != nil || len(declared.Ops) == 0 {
		t.Fatalf("no operations: %v", err)
	}
	c, _ := connect(t)
	channel := uint32(0)
	for op := range declared.Ops {
		channel++
		// A relative path: the file operations refuse it before they touch anything.
		c.open(channel, protocol.Request{Op: protocol.Op(op), Path: "relative"})
		r := c.wait(channel)
		if failure, failed := failureOf(t, r); failed && strings.Contains(failure.Message, "unknown operation") {
			t.Errorf("%s: %s", op, failure.Message)
		}
	}
}
