package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func projectIn(t *testing.T, name, text string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestHostFlags(t *testing.T) {
	cases := []struct {
		name, file, text string
		want             []string
	}{
		{"typescript off", "Pulumi.yaml", "name: p\nruntime:\n  name: nodejs\n  options:\n    typescript: false\nmain: index.ts\n", []string{"-typescript=false"}},
		{"typescript on", "Pulumi.yaml", "name: p\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n", []string{"-typescript=true"}},
		{"every option", "Pulumi.yml", "runtime:\n  name: nodejs\n  options:\n    typescript: false\n    nodeargs: --max-old-space-size=512 --no-warnings\n    tsconfig: tsconfig.build.json\n",
			[]string{"-typescript=false", "-nodeargs=--max-old-space-size=512 --no-warnings", "-tsconfig=tsconfig.build.json"}},
		{"a runtime by name alone keeps the host's defaults", "Pulumi.yaml", "name: p\nruntime: nodejs\n", nil},
		{"no options", "Pulumi.yaml", "name: p\nruntime:\n  name: nodejs\n", nil},
		{"a file that is not YAML", "Pulumi.yaml", "runtime: [\n", nil},
		{"an option of the wrong type", "Pulumi.yaml", "runtime:\n  name: nodejs\n  options:\n    typescript: [1]\n", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := hostFlags(projectIn(t, c.file, c.text))
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("hostFlags = %q, want %q", got, c.want)
			}
		})
	}
}

func TestHostFlagsFromAFolderBelowTheProject(t *testing.T) {
	dir := projectIn(t, "Pulumi.yaml", "runtime:\n  name: nodejs\n  options:\n    typescript: false\n")
	below := filepath.Join(dir, "src", "deeper")
	if err := os.MkdirAll(below, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := hostFlags(below); !reflect.DeepEqual(got, []string{"-typescript=false"}) {
		t.Fatalf("hostFlags = %q", got)
	}
}

func TestNoProjectNoFlags(t *testing.T) {
	if got := hostFlags(t.TempDir()); got != nil {
		t.Fatalf("hostFlags = %q, want none", got)
	}
}
