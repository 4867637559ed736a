package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

type vectors struct {
	Accepted []struct{ Entry, Kind, Canonical string } `json:"accepted"`
	Refused  []struct{ Entry, Why string }             `json:"refused"`
}

// The same vectors test provider/egress-entries.ts: one grammar, two parsers.
func TestEntriesFollowTheSharedVectors(t *testing.T) {
	raw, err := os.ReadFile("../testdata/addresses.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	for _, c := range v.Accepted {
		e, err := ParseEntry(c.Entry)
		if err != nil {
			t.Errorf("%q refused: %v", c.Entry, err)
			continue
		}
		if string(e.Kind) != c.Kind || e.Canonical() != c.Canonical {
			t.Errorf("%q read as %s %q, want %s %q", c.Entry, e.Kind, e.Canonical(), c.Kind, c.Canonical)
		}
	}
	for _, c := range v.Refused {
		_, err := ParseEntry(c.Entry)
		if err == nil {
			t.Errorf("%q accepted", c.Entry)
		} else if !strings.Contains(err.Error(), c.Why) {
			t.Errorf("%q refused with %q, want it to say %q", c.Entry, err, c.Why)
		}
	}
}
