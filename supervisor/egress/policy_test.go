package main

import "testing"

func TestAllowlistMatchesNamesWildcardsAndAddresses(t *testing.T) {
	a, err := ParseAllowlist([]string{"pypi.org", "*.pythonhosted.org", "203.0.113.0/24", "198.51.100.7"})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"pypi.org": true, "PyPI.org.": true, "files.pythonhosted.org": true, "a.b.pythonhosted.org": true,
		"pythonhosted.org": false, "evilpythonhosted.org": false, "pypi.org.evil.com": false, "example.com": false,
	} {
		if got := a.AllowsName(name); got != want {
			t.Errorf("AllowsName(%q) = %v, want %v", name, got, want)
		}
	}
	if len(a.Prefixes()) != 2 || a.Prefixes()[1].String() != "198.51.100.7/32" {
		t.Fatalf("prefixes %v", a.Prefixes())
	}
}

func TestAllowlistRefusesWhatItCannotEnforce(t *testing.T) {
	for _, bad := range []string{"*", "*.", "http://pypi.org", "pypi.org/simple", "::1", "2001:db8::/32", "a..b", "-a.com",
		"\u212Aube.io", "ｅｘａｍｐｌｅ.com", "py\u200bpi.org", "\ufeffpypi.org", "pypi.org\u00a0"} {
		if _, err := ParseAllowlist([]string{bad}); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}
