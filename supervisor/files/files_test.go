package files

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"sandfleet/supervisor/protocol"
)

func codeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func readAll(t *testing.T, path string, offset, length, max int64) ([]byte, error) {
	t.Helper()
	var buf bytes.Buffer
	err := Read(path, offset, length, max, func(b []byte) error { buf.Write(b); return nil })
	return buf.Bytes(), err
}

func TestWriteMakesFoldersAndReplacesOrAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "f.txt")
	for _, step := range []struct {
		data   string
		append bool
	}{{"one", false}, {"two", false}, {"+three", true}} {
		mode := Replace
		if step.append {
			mode = Append
		}
		w, err := OpenWriter(path, mode, 0)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(step.data))
		w.Close()
	}
	got, err := readAll(t, path, 0, 0, 0)
	if err != nil || string(got) != "two+three" {
		t.Errorf("got %q, %v", got, err)
	}
	part, _ := readAll(t, path, 3, 3, 0)
	if string(part) != "+th" {
		t.Errorf("offset read: %q", part)
	}
	w, _ := OpenWriter(path, At, 1)
	w.Write([]byte("WO"))
	w.Close()
	if got, _ := readAll(t, path, 0, 0, 0); string(got) != "tWO+three" {
		t.Errorf("positioned write: %q", got)
	}
}

func TestReadRefusesFoldersAndFilesOverTheCap(t *testing.T) {
	dir := t.TempDir()
	if _, err := readAll(t, dir, 0, 0, 0); codeOf(err) != protocol.ErrIsADirectory {
		t.Errorf("folder: %v", err)
	}
	if _, err := readAll(t, dir+"/missing", 0, 0, 0); codeOf(err) != protocol.ErrNotFound {
		t.Errorf("missing: %v", err)
	}
	os.WriteFile(dir+"/big", make([]byte, 100), 0o644)
	if _, err := readAll(t, dir+"/big", 0, 0, 99); codeOf(err) != protocol.ErrTooLarge {
		t.Errorf("over the cap: %v", err)
	}
	if got, err := readAll(t, dir+"/big", 0, 0, 100); err != nil || len(got) != 100 {
		t.Errorf("at the cap: %d bytes, %v", len(got), err)
	}
}

func TestListSortsAndShowsSymlinkTargetsAndListsAFileAsItself(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(dir+"/b", []byte("12"), 0o600)
	os.Mkdir(dir+"/a", 0o755)
	os.Symlink("/etc/hostname", dir+"/c")
	entries, err := List(dir)
	if err != nil || len(entries) != 3 {
		t.Fatalf("%v %v", entries, err)
	}
	if entries[0].Name != "a" || entries[0].Type != "directory" || entries[1].Type != "file" || entries[1].SizeBytes != 2 {
		t.Errorf("entries: %+v", entries)
	}
	if entries[2].Type != "symlink" || entries[2].Target != "/etc/hostname" {
		t.Errorf("symlink: %+v", entries[2])
	}
	one, err := List(dir + "/b")
	if err != nil || len(one) != 1 || one[0].Name != "b" || one[0].Mode != 0o600 {
		t.Errorf("file listed as itself: %+v %v", one, err)
	}
}

func TestMkdirWithAndWithoutParents(t *testing.T) {
	dir := t.TempDir()
	if err := Mkdir(dir+"/x/y", false); codeOf(err) != protocol.ErrNotFound {
		t.Errorf("missing parent: %v", err)
	}
	if err := Mkdir(dir+"/x/y", true); err != nil {
		t.Fatal(err)
	}
	if err := Mkdir(dir+"/x/y", true); err != nil {
		t.Errorf("existing folder with parents: %v", err)
	}
	if err := Mkdir(dir+"/x/y", false); codeOf(err) != protocol.ErrAlreadyExists {
		t.Errorf("existing folder without parents: %v", err)
	}
	os.WriteFile(dir+"/f", nil, 0o644)
	if err := Mkdir(dir+"/f/z", true); codeOf(err) != protocol.ErrNotADirectory {
		t.Errorf("under a file: %v", err)
	}
	if err := Mkdir(dir+"/f", true); codeOf(err) != protocol.ErrAlreadyExists {
		t.Errorf("over a file: %v", err)
	}
}

func TestRemoveIsCarefulUnlessTold(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(dir+"/full/sub", 0o755)
	if err := Remove(dir+"/full", false, false); codeOf(err) != protocol.ErrNotEmpty {
		t.Errorf("non-empty folder: %v", err)
	}
	if err := Remove(dir+"/full", true, false); err != nil {
		t.Errorf("recursive: %v", err)
	}
	if err := Remove(dir+"/full", false, false); codeOf(err) != protocol.ErrNotFound {
		t.Errorf("missing: %v", err)
	}
	if err := Remove(dir+"/full", false, true); err != nil {
		t.Errorf("missing with force: %v", err)
	}
	if err := Remove("/", true, true); codeOf(err) != protocol.ErrInvalid {
		t.Errorf("root: %v", err)
	}
	os.Symlink(dir, dir+"/link")
	if err := Remove(dir+"/link", false, false); err != nil {
		t.Errorf("a symlink to a folder is removed as a link: %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Error("removing the link removed its target")
	}
}

func TestWatchSeesCreateModifyAndRemoveInSubfolders(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(dir+"/sub", 0o755)
	w, err := Watch(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	os.WriteFile(dir+"/sub/f.txt", []byte("x"), 0o644)
	os.Remove(dir + "/sub/f.txt")
	seen := map[string]bool{}
	for len(seen) < 3 {
		events, err := w.Next()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			if e.Path == dir+"/sub/f.txt" {
				seen[e.Type] = true
			}
		}
	}
	if !seen["create"] || !seen["modify"] || !seen["remove"] {
		t.Errorf("saw %v", seen)
	}
}

func TestAPipeOrADeviceIsRefusedWithoutWaiting(t *testing.T) {
	fifo := t.TempDir() + "/fifo"
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, "/dev/zero"} {
		err := Read(path, 0, 0, 0, func([]byte) error { return nil })
		var typed *Error
		if !errors.As(err, &typed) || typed.Code != protocol.ErrInvalid {
			t.Errorf("read %s: %v, want a refusal", path, err)
		}
		if _, err := OpenWriter(path, Append, 0); !errors.As(err, &typed) || typed.Code != protocol.ErrInvalid {
			t.Errorf("write %s: %v, want a refusal", path, err)
		}
	}
}
