package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/google/nftables"
)

// The names are the ones the TypeScript side gives the daemon and looks for.
func TestTableNamesMatchTheSharedVectors(t *testing.T) {
	raw, err := os.ReadFile("../testdata/tables.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors struct {
		GuardPrefix  string `json:"guardPrefix"`
		EgressPrefix string `json:"egressPrefix"`
		Legacy       struct{ Guard, Egress string }
		Engines      []struct {
			EngineKey string `json:"engineKey"`
			Guard     string `json:"guard"`
			Egress    string `json:"egress"`
		} `json:"engines"`
	}
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	if vectors.GuardPrefix != GuardTablePrefix || vectors.EgressPrefix != EgressTablePrefix {
		t.Fatalf("tables.json has prefixes %q/%q, tables.go %q/%q", vectors.GuardPrefix, vectors.EgressPrefix, GuardTablePrefix, EgressTablePrefix)
	}
	if (Tables{Guard: vectors.Legacy.Guard, Egress: vectors.Legacy.Egress}) != LegacyTables {
		t.Fatalf("tables.json has legacy names %+v, tables.go %+v", vectors.Legacy, LegacyTables)
	}
	for _, engine := range vectors.Engines {
		got, err := TablesFor(engine.EngineKey)
		if err != nil {
			t.Fatal(err)
		}
		if got != (Tables{Guard: engine.Guard, Egress: engine.Egress}) {
			t.Fatalf("key %s: got %+v, want %s/%s", engine.EngineKey, got, engine.Guard, engine.Egress)
		}
	}
}

func TestAKeyThatIsNotTwelveHexDigitsIsRefused(t *testing.T) {
	for _, key := range []string{"abc", "0123456789AB", "0123456789abc", "../../etc", "0123456789a ", strings.Repeat("a", 300)} {
		if _, err := TablesFor(key); err == nil {
			t.Fatalf("key %q was taken", key)
		}
	}
	if tables, err := TablesFor(""); err != nil || tables != LegacyTables {
		t.Fatalf("no key gave %+v, %v", tables, err)
	}
}

func TestTheTablesOfTheReplacedDaemonAreRetiredOnlyWhenTheyAreAnothers(t *testing.T) {
	own, _ := TablesFor("0123456789ab")
	moved, _ := TablesFor("ba9876543210")
	for _, c := range []struct {
		key  string
		want Tables
	}{
		{"", Tables{}},
		{LegacyKey, LegacyTables},
		{"ba9876543210", moved},
		{"0123456789ab", Tables{}}, // its own engine's: replaced by its own tables anyway
	} {
		got, err := RetiredTables(c.key, own)
		if err != nil || got != c.want {
			t.Fatalf("retire %q: got %+v, %v; want %+v", c.key, got, err, c.want)
		}
	}
	if _, err := RetiredTables("sandfleet_guard_x", own); err == nil {
		t.Fatal("a key that names no engine was taken")
	}
	if got, _ := RetiredTables(LegacyKey, LegacyTables); got != (Tables{}) {
		t.Fatal("a daemon on the legacy names retired its own tables")
	}
}

// Two engines' daemons on one host: each places, replaces and removes its
// own tables only, and a daemon told to retire the legacy ones removes them
// in the transaction that places its own. In a network namespace of its own.
func TestEachEngineTouchesOnlyItsOwnTables(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	fd := newNetNS(t)
	inNS := nftables.WithNetNSFd(fd)
	mine, _ := TablesFor("0123456789ab")
	theirs, _ := TablesFor("ba9876543210")
	conn, err := nftables.New(inNS)
	if err != nil {
		t.Fatal(err)
	}
	// A table that was replaced loses the chain marked here: what remains is the same table.
	mark := func(names ...string) {
		t.Helper()
		for _, name := range names {
			conn.AddChain(&nftables.Chain{Name: "untouched", Table: &nftables.Table{Family: nftables.TableFamilyINet, Name: name}})
		}
		if err := conn.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	// handles says, by table name, whether the table still holds its mark.
	handles := func() map[string]bool {
		t.Helper()
		chains, err := conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, chain := range chains {
			out[chain.Table.Name] = out[chain.Table.Name] || chain.Name == "untouched"
		}
		return out
	}
	place := func(tables Tables, retire bool) (*Guard, *Rules) {
		t.Helper()
		guard, err := NewGuard(tables.Guard, inNS)
		if err != nil {
			t.Fatal(err)
		}
		rules, err := NewRules(tables.Egress, inNS)
		if err != nil {
			t.Fatal(err)
		}
		if retire {
			guard.retire, rules.retire = LegacyTables.Guard, LegacyTables.Egress
		}
		if err := guard.Place(); err != nil {
			t.Fatal(err)
		}
		networks := []Network{{Subnet: "172.30.0.0/16", Gateway: "172.30.0.1"}}
		if err := rules.Apply(networks, nil, map[string]*Allowlist{}, nil); err != nil {
			t.Fatal(err)
		}
		return guard, rules
	}
	// What an older daemon left: the legacy tables.
	place(LegacyTables, false)
	_, theirRules := place(theirs, false)
	mark(theirs.Guard, theirs.Egress)
	before := handles()
	for _, name := range []string{LegacyTables.Guard, LegacyTables.Egress} {
		if _, placed := before[name]; !placed {
			t.Fatalf("table %s was not placed: %v", name, before)
		}
	}
	// Mine replaces the legacy ones (its engine's older daemon) and leaves theirs as they were.
	myGuard, myRules := place(mine, true)
	after := handles()
	if _, left := after[LegacyTables.Guard]; left {
		t.Fatalf("the legacy guard is still there: %v", after)
	}
	if _, left := after[LegacyTables.Egress]; left {
		t.Fatalf("the legacy egress table is still there: %v", after)
	}
	for _, name := range []string{theirs.Guard, theirs.Egress} {
		if !after[name] {
			t.Fatalf("table %s was replaced or removed: %v", name, after)
		}
	}
	// Replacing mine again, and removing my egress table, leave theirs too.
	if err := myGuard.Place(); err != nil {
		t.Fatal(err)
	}
	if err := myRules.Remove(); err != nil {
		t.Fatal(err)
	}
	last := handles()
	if _, left := last[mine.Egress]; left {
		t.Fatal("my egress table is still there after Remove")
	}
	for _, name := range []string{theirs.Guard, theirs.Egress} {
		if !last[name] {
			t.Fatalf("table %s was touched by the other engine's daemon", name)
		}
	}
	// And theirs, removed, leaves my guard.
	mark(mine.Guard)
	if err := theirRules.Remove(); err != nil {
		t.Fatal(err)
	}
	if !handles()[mine.Guard] {
		t.Fatal("my guard was touched by the other engine's daemon")
	}
}
