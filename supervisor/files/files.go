// Package files is the sandbox's file API, done by the supervisor itself
// with the sandbox user's own permissions: no shell, no cat, nothing needed
// from the image.
package files

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"sandfleet/supervisor/protocol"
)

// Error carries one of protocol's Err* codes with a message for people.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func fail(code, op, path, reason string) error {
	return &Error{Code: code, Message: fmt.Sprintf("cannot %s %s: %s", op, path, reason)}
}

// fromErrno turns what the kernel said into a typed failure.
func fromErrno(op, path string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT):
		return fail(protocol.ErrNotFound, op, path, "no such file or folder")
	case errors.Is(err, syscall.EISDIR):
		return fail(protocol.ErrIsADirectory, op, path, "is a folder")
	case errors.Is(err, syscall.ENOTDIR):
		return fail(protocol.ErrNotADirectory, op, path, "is not a folder, or a part of it is a file")
	case errors.Is(err, syscall.EEXIST):
		return fail(protocol.ErrAlreadyExists, op, path, "already exists")
	case errors.Is(err, syscall.ENOTEMPTY):
		return fail(protocol.ErrNotEmpty, op, path,
			"is a folder that is not empty; pass { recursive: true } to remove it with everything in it")
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EROFS):
		return fail(protocol.ErrPermission, op, path, "permission denied")
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return fail(protocol.ErrFailed, op, path, errno.Error())
	}
	return fail(protocol.ErrFailed, op, path, err.Error())
}

// CheckPath refuses what is not an absolute, clean-enough path.
func CheckPath(op, path string) error {
	if path == "" || !filepath.IsAbs(path) {
		return fail(protocol.ErrInvalid, op, fmt.Sprintf("%q", path), "the path must be absolute")
	}
	for i := 0; i < len(path); i++ {
		if path[i] == 0 {
			return fail(protocol.ErrInvalid, op, fmt.Sprintf("%q", path), "the path holds a NUL byte")
		}
	}
	return nil
}

// Entry is one listed path, as the protocol sends it.
type Entry = protocol.Entry

func entryOf(name, path string, info fs.FileInfo) Entry {
	e := Entry{Name: name, SizeBytes: info.Size(), Mode: uint32(info.Mode().Perm()), ModifiedMs: info.ModTime().UnixMilli()}
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		e.Type = "symlink"
		e.Target, _ = os.Readlink(path)
	case info.IsDir():
		e.Type = "directory"
	case info.Mode().IsRegular():
		e.Type = "file"
	default:
		e.Type = "other"
	}
	return e
}

// Stat describes a path without following a final symlink.
func Stat(path string) (Entry, error) {
	info, err := os.Lstat(path)
	if err != nil {
		return Entry{}, fromErrno("stat", path, err)
	}
	return entryOf(filepath.Base(path), path, info), nil
}

// List gives a folder's entries sorted by name; a file or symlink lists as itself.
func List(path string) ([]Entry, error) {
	info, err := os.Lstat(path)
	if err != nil {
		return nil, fromErrno("list", path, err)
	}
	if !info.IsDir() {
		return []Entry{entryOf(filepath.Base(path), path, info)}, nil
	}
	dir, err := os.ReadDir(path)
	if err != nil {
		return nil, fromErrno("list", path, err)
	}
	entries := make([]Entry, 0, len(dir))
	for _, d := range dir {
		full := filepath.Join(path, d.Name())
		info, err := os.Lstat(full)
		if err != nil {
			continue // removed meanwhile
		}
		entries = append(entries, entryOf(d.Name(), full, info))
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	return entries, nil
}

// Read sends the file, or the part of it from offset of at most length
// bytes, to out. A file bigger than maxBytes (the part asked for) is
// refused, not cut short.
func Read(path string, offset, length, maxBytes int64, out func([]byte) error) error {
	f, err := openFile("read", path, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fromErrno("read", path, err)
	}
	want := info.Size() - offset
	if want < 0 {
		want = 0
	}
	if length > 0 && length < want {
		want = length
	}
	if maxBytes > 0 && want > maxBytes {
		return fail(protocol.ErrTooLarge, "read", path,
			fmt.Sprintf("it has %d bytes, more than maxBytes (%d)", want, maxBytes))
	}
	reader := io.NewSectionReader(f, offset, want)
	buf := make([]byte, 256*1024)
	for {
		n, err := reader.Read(buf)
		if n > 0 {
			if err := out(buf[:n]); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fromErrno("read", path, err)
		}
	}
}

// Writer writes a file as its data arrives, making its folder first. It
// replaces the file's contents unless appending.
type Writer struct {
	f    *os.File
	path string
}

// Where a Writer puts its bytes.
type WriteMode int

const (
	Replace WriteMode = iota // truncate, then write from the start
	Append                   // after what is there
	At                       // from an offset, keeping the rest
)

func OpenWriter(path string, mode WriteMode, offset int64) (*Writer, error) {
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return nil, fail(protocol.ErrIsADirectory, "write", path, "is a folder")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fromErrno("write", path, err)
	}
	flags := map[WriteMode]int{
		Replace: os.O_WRONLY | os.O_CREATE | os.O_TRUNC,
		Append:  os.O_WRONLY | os.O_CREATE | os.O_APPEND,
		At:      os.O_WRONLY | os.O_CREATE,
	}[mode]
	f, err := openFile("write", path, flags, 0o644)
	if err != nil {
		return nil, err
	}
	if mode == At {
		if _, err := f.Seek(offset, 0); err != nil {
			f.Close()
			return nil, fromErrno("write", path, err)
		}
	}
	return &Writer{f: f, path: path}, nil
}

// openFile opens a regular file and nothing else. A pipe (a FIFO a sandbox
// process put where the host will read or write) would block the open until
// its other end came, and a device could stream without end: so the open
// never waits (O_NONBLOCK, which changes nothing for a regular file), and
// what it opened is checked, whatever stood at the path a moment before.
func openFile(op, path string, flags int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flags|syscall.O_NONBLOCK, perm)
	if err != nil {
		if errors.Is(err, syscall.ENXIO) { // a FIFO with no reader, opened for writing
			return nil, fail(protocol.ErrInvalid, op, path, "is not a regular file (a pipe, socket or device)")
		}
		return nil, fromErrno(op, path, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fromErrno(op, path, err)
	}
	switch {
	case info.IsDir():
		f.Close()
		return nil, fail(protocol.ErrIsADirectory, op, path, "is a folder")
	case !info.Mode().IsRegular():
		f.Close()
		return nil, fail(protocol.ErrInvalid, op, path, "is not a regular file (a pipe, socket or device)")
	}
	return f, nil
}

func (w *Writer) Write(data []byte) error {
	if _, err := w.f.Write(data); err != nil {
		return fromErrno("write", w.path, err)
	}
	return nil
}

func (w *Writer) Close() error {
	if err := w.f.Close(); err != nil {
		return fromErrno("write", w.path, err)
	}
	return nil
}

// Mkdir makes a folder. With parents, missing parents are made too and an
// existing folder is fine; an existing file is not.
func Mkdir(path string, parents bool) error {
	if parents {
		if info, err := os.Stat(path); err == nil && !info.IsDir() {
			return fail(protocol.ErrAlreadyExists, "make folder", path, "already exists")
		}
		if err := os.MkdirAll(path, 0o755); err != nil {
			return fromErrno("make folder", path, err)
		}
		return nil
	}
	if err := os.Mkdir(path, 0o755); err != nil {
		return fromErrno("make folder", path, err)
	}
	return nil
}

// Remove removes a file, a symlink or an empty folder; recursive removes a
// folder with everything in it. A missing path fails unless force.
func Remove(path string, recursive, force bool) error {
	if filepath.Clean(path) == "/" {
		return fail(protocol.ErrInvalid, "remove", path, "refusing to remove /")
	}
	info, err := os.Lstat(path)
	if err != nil {
		if force && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fromErrno("remove", path, err)
	}
	if info.IsDir() && recursive {
		err = os.RemoveAll(path)
	} else if info.IsDir() {
		err = syscall.Rmdir(path)
	} else {
		err = syscall.Unlink(path)
	}
	if err != nil {
		return fromErrno("remove", path, err)
	}
	return nil
}
