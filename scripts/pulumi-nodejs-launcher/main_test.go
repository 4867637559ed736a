package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The launcher, built into a folder beside a host that prints what it was started with.
func TestLaunchesTheHostBesideItWithTheProjectsFlagsFirst(t *testing.T) {
	bin := t.TempDir()
	launcher := filepath.Join(bin, "pulumi-language-nodejs")
	if out, err := exec.Command("go", "build", "-o", launcher, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	host := "#!/bin/sh\nprintf '%s\\n' \"$0\" \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, hostName), []byte(host), 0o755); err != nil {
		t.Fatal(err)
	}
	project := projectIn(t, "Pulumi.yaml", "runtime:\n  name: nodejs\n  options:\n    typescript: false\n")
	cmd := exec.Command(launcher, "127.0.0.1:4242")
	cmd.Dir = project
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{filepath.Join(bin, hostName), "-typescript=false", "127.0.0.1:4242"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("host started as %q, want %q", got, want)
	}
}
