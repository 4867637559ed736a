package main

import (
	"bytes"
	"encoding/json"
	"os"
	"runtime"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The prefixes are the ones the TypeScript side names bridges with.
func TestGuardPrefixesMatchTheSharedVectors(t *testing.T) {
	raw, err := os.ReadFile("../testdata/guard.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors struct {
		LocalPrefix    string `json:"localPrefix"`
		InternetPrefix string `json:"internetPrefix"`
	}
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatal(err)
	}
	if vectors.LocalPrefix != LocalBridgePrefix || vectors.InternetPrefix != InternetBridgePrefix {
		t.Fatalf("guard.json has %q/%q, guard.go %q/%q", vectors.LocalPrefix, vectors.InternetPrefix, LocalBridgePrefix, InternetBridgePrefix)
	}
	// A bridge name is at most 15 bytes (IFNAMSIZ - 1): the prefixes leave room for a hash.
	if len(LocalBridgePrefix) > 4 || len(InternetBridgePrefix) > 4 {
		t.Fatal("prefixes longer than 4 bytes leave too little of a bridge name")
	}
}

// No rule may touch traffic of anything but a guarded bridge: each starts by
// matching one by name, on the interface the packet came in on or goes out of.
func TestEveryGuardRuleMatchesAGuardedBridgeFirst(t *testing.T) {
	input, forward := guardRules()
	check := func(chain string, rules [][]expr.Any, keys ...expr.MetaKey) {
		for i, rule := range rules {
			meta, ok := rule[0].(*expr.Meta)
			cmp, ok2 := rule[1].(*expr.Cmp)
			if !ok || !ok2 || cmp.Op != expr.CmpOpEq ||
				(!bytes.Equal(cmp.Data, []byte(LocalBridgePrefix)) && !bytes.Equal(cmp.Data, []byte(InternetBridgePrefix))) {
				t.Fatalf("%s rule %d does not start with a guarded bridge: %#v", chain, i, rule[:2])
			}
			found := false
			for _, k := range keys {
				found = found || meta.Key == k
			}
			if !found {
				t.Fatalf("%s rule %d matches meta key %d", chain, i, meta.Key)
			}
		}
	}
	check("input", input, expr.MetaKeyIIFNAME)
	check("forward", forward, expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME)
	// Each chain ends each bridge's part with a refusal, so what is not let through is refused.
	last := func(rule []expr.Any) expr.Any { return rule[len(rule)-1] }
	if _, ok := last(input[len(input)-1]).(*expr.Reject); !ok {
		t.Fatal("the input chain does not end with a refusal")
	}
	if _, ok := last(forward[len(forward)-1]).(*expr.Reject); !ok {
		t.Fatal("the forward chain does not end with a refusal")
	}
}

// The kernel takes the table as built (every expression, the output
// interface's kind among them), and Ensure puts back a table someone removed.
// Run in a network namespace of its own, so the host's rules are untouched.
func TestTheKernelTakesTheGuardAndEnsurePutsItBack(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	fd := newNetNS(t)
	guard, err := NewGuard("sandfleet_guard_0123456789ab", nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	if err := guard.Place(); err != nil {
		t.Fatalf("the kernel refused the guard: %v", err)
	}
	if whole, err := guard.whole(); err != nil || !whole {
		t.Fatalf("after Place the table is not whole (%v)", err)
	}
	// Placing again replaces it, with nothing doubled.
	if err := guard.Place(); err != nil {
		t.Fatal(err)
	}
	if whole, err := guard.whole(); err != nil || !whole {
		t.Fatalf("after a second Place the table is not whole (%v)", err)
	}
	conn, err := nftables.New(nftables.WithNetNSFd(fd))
	if err != nil {
		t.Fatal(err)
	}
	conn.DelTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: guard.name})
	if err := conn.Flush(); err != nil {
		t.Fatal(err)
	}
	if whole, _ := guard.whole(); whole {
		t.Fatal("the table still looks whole after it was removed")
	}
	if err := guard.Ensure(); err != nil {
		t.Fatal(err)
	}
	if whole, err := guard.whole(); err != nil || !whole {
		t.Fatalf("Ensure did not put the table back (%v)", err)
	}
}

// newNetNS makes a network namespace and returns a descriptor of it, leaving
// this thread in the one it was in.
func newNetNS(t *testing.T) int {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	original, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer original.Close()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Skipf("cannot make a network namespace: %v", err)
	}
	made, openErr := os.Open("/proc/thread-self/ns/net")
	if err := unix.Setns(int(original.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatalf("cannot return to the original namespace: %v", err)
	}
	if openErr != nil {
		t.Fatal(openErr)
	}
	t.Cleanup(func() { made.Close() })
	return int(made.Fd())
}

// A rule that matches replies must also let them through: a match with no
// verdict falls on to the refusals below it.
func TestGuardRepliesAreAccepted(t *testing.T) {
	input, forward := guardRules()
	for _, rule := range append(append([][]expr.Any{}, input...), forward...) {
		matchesState := false
		for _, e := range rule {
			if ct, ok := e.(*expr.Ct); ok && ct.Key == expr.CtKeySTATE {
				matchesState = true
			}
		}
		if !matchesState {
			continue
		}
		last, ok := rule[len(rule)-1].(*expr.Verdict)
		if !ok || last.Kind != expr.VerdictAccept {
			t.Fatalf("a rule matching replies ends without accepting them: %#v", rule[len(rule)-1])
		}
	}
}
