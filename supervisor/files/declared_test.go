package files

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// The entry and event types this package sends are the ones
// protocol/protocol.json declares (EntryType, WatchEventType), every one of them.
func TestEntryAndEventTypesAreTheDeclaredOnes(t *testing.T) {
	raw, err := os.ReadFile("../protocol/protocol.json")
	if err != nil {
		t.Fatal(err)
	}
	var declared struct{ Enums map[string][]string }
	if err := json.Unmarshal(raw, &declared); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), nil, 0o644)
	os.Symlink("f", filepath.Join(dir, "l"))
	var entries []string
	for _, path := range []string{dir, filepath.Join(dir, "f"), filepath.Join(dir, "l"), "/dev/null"} {
		entry, err := Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, entry.Type)
	}
	var events []string
	for _, mask := range []uint32{syscall.IN_CREATE, syscall.IN_MODIFY, syscall.IN_DELETE} {
		events = append(events, eventType(mask))
	}
	for name, made := range map[string][]string{"EntryType": entries, "WatchEventType": events} {
		want := slices.Clone(declared.Enums[name])
		slices.Sort(want)
		slices.Sort(made)
		if !slices.Equal(made, want) {
			t.Errorf("%s: this package makes %v, protocol.json declares %v", name, made, want)
		}
	}
}
