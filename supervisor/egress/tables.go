package main

import (
	"fmt"
	"regexp"

	"github.com/google/nftables"
)

// Every engine's daemon keeps tables of its own on the host: two engines on
// one host (a second engine beside the main one, a test's disposable one)
// each run a daemon on the host's network, and one must never replace or
// remove the other's rules. The client names the engine by a key (a hash
// of the engine's data root, which no two engines of one host share;
// provider/rules.ts) and the daemon puts it after each table's prefix.
// supervisor/testdata/tables.json holds vectors both sides test.
const (
	GuardTablePrefix  = "sandfleet_guard"
	EgressTablePrefix = "sandfleet_egress"
)

// engineKeyPattern is what a key may be: short lowercase hex, so that every
// name stays far inside the kernel's 256 bytes and names nothing else.
var engineKeyPattern = regexp.MustCompile(`^[0-9a-f]{12}$`)

// Tables are the names of one daemon's tables.
type Tables struct {
	Guard  string
	Egress string
}

// LegacyTables are the names every daemon used before tables were per
// engine: only the daemon that replaces its engine's older one removes them.
var LegacyTables = Tables{Guard: GuardTablePrefix, Egress: EgressTablePrefix}

// LegacyKey names LegacyTables in --retire-tables.
const LegacyKey = "legacy"

// TablesFor names the tables of the engine with this key; an empty key
// (a daemon placed by an older client) keeps the legacy names.
func TablesFor(key string) (Tables, error) {
	if key == "" {
		return LegacyTables, nil
	}
	if !engineKeyPattern.MatchString(key) {
		return Tables{}, fmt.Errorf("engine key %q is not 12 lowercase hex digits", key)
	}
	return Tables{Guard: GuardTablePrefix + "_" + key, Egress: EgressTablePrefix + "_" + key}, nil
}

// RetiredTables are the tables of the daemon this one replaced (its engine
// key, or LegacyKey), which this one removes as it places its own: none when
// it replaced none, or one of the same tables (the same engine, another
// version), whose tables this one's replace anyway.
func RetiredTables(key string, own Tables) (Tables, error) {
	if key == "" {
		return Tables{}, nil
	}
	retired := LegacyTables
	if key != LegacyKey {
		var err error
		if retired, err = TablesFor(key); err != nil {
			return Tables{}, err
		}
	}
	if retired == own {
		return Tables{}, nil
	}
	return retired, nil
}

// dropTable adds the removal of a table to c's transaction, whether or not
// the table exists.
func dropTable(c *nftables.Conn, name string) {
	table := &nftables.Table{Family: nftables.TableFamilyINet, Name: name}
	c.AddTable(table) // so that the delete finds one
	c.DelTable(table)
}
