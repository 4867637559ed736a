package main

import (
	"strings"
	"testing"
)

func TestQueryLabelsReadsTheWireForm(t *testing.T) {
	for name, want := range map[string]string{
		"pypi.org.":        "pypi.org",
		"PyPI.Org":         "pypi.org",
		"XN--BCHER-KVA.de": "xn--bcher-kva.de",
		"a-b.c":            "a-b.c",
	} {
		labels, err := QueryLabels(name)
		if err != nil || CanonicalName(labels) != want {
			t.Errorf("QueryLabels(%q) = %v, %v; want %q", name, labels, err, want)
		}
	}
	for _, name := range []string{
		`x\.ok.example.`,     // a dot inside the first label
		`x\046ok.example.`,   // the same dot, in decimal
		`\120.ok.example.`,   // an escaped letter
		`x\000.ok.example.`,  // NUL
		`b\195\188cher.de.`,  // UTF-8 bytes
		`_dmarc.ok.example.`, // outside LDH
		`-x.ok.example.`,     // a leading hyphen
		`x y.ok.example.`,    // a space
		`.`,                  // the root
		strings.Repeat("a", 64) + ".example.",
	} {
		if labels, err := QueryLabels(name); err == nil {
			t.Errorf("QueryLabels(%q) = %v, want an error", name, labels)
		}
	}
}

func TestAllowlistComparesLabelsNotText(t *testing.T) {
	a, err := ParseAllowlist([]string{"*.ok.example", "exact.example", "xn--bcher-kva.de"})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"a.ok.example.":        true,
		"A.B.OK.EXAMPLE":       true,
		"ok.example":           false,
		"notok.example":        false,
		"exact.example.":       true,
		"EXACT.example":        true,
		"a.exact.example":      false,
		"XN--BCHER-KVA.DE.":    true,
		"exact.example.evil.":  false,
		`x\.ok.example.`:       false,
		`exact\.example.`:      false,
		"ok.example.attacker.": false,
	} {
		labels, err := QueryLabels(name)
		if got := err == nil && a.AllowsLabels(labels); got != want {
			t.Errorf("%q allowed = %v, want %v", name, got, want)
		}
	}
}
