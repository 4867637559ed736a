package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestInstallCopiesTheRunningBinary(t *testing.T) {
	dir := t.TempDir()
	if err := install(dir); err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	want, _ := os.ReadFile(self)
	got, err := os.ReadFile(filepath.Join(dir, "sandfleet-supervisor"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("installed %d bytes, want the running binary's %d", len(got), len(want))
	}
	info, _ := os.Stat(filepath.Join(dir, "sandfleet-supervisor"))
	if info.Mode().Perm() != 0o555 {
		t.Fatalf("mode %v, want r-xr-xr-x", info.Mode().Perm())
	}
}
