package files

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"syscall"

	"sandfleet/supervisor/protocol"
)

// Event is one change seen under a watched path, as the protocol sends it.
type Event = protocol.WatchEvent

const watchMask = syscall.IN_CREATE | syscall.IN_MODIFY | syscall.IN_CLOSE_WRITE | syscall.IN_DELETE |
	syscall.IN_DELETE_SELF | syscall.IN_MOVED_FROM | syscall.IN_MOVED_TO | syscall.IN_ATTRIB

// Watcher reports changes under a path through the kernel's inotify, a
// folder's subfolders too when recursive.
type Watcher struct {
	f         *os.File
	dirs      map[int32]string
	recursive bool
}

func Watch(path string, recursive bool) (*Watcher, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fromErrno("watch", path, err)
	}
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, fromErrno("watch", path, err)
	}
	w := &Watcher{f: os.NewFile(uintptr(fd), "inotify"), dirs: map[int32]string{}, recursive: recursive && info.IsDir()}
	if err := w.add(path); err != nil {
		w.Close()
		return nil, fromErrno("watch", path, err)
	}
	return w, nil
}

func (w *Watcher) add(path string) error {
	wd, err := syscall.InotifyAddWatch(int(w.f.Fd()), path, watchMask)
	if err != nil {
		return err
	}
	w.dirs[int32(wd)] = path
	if !w.recursive {
		return nil
	}
	entries, _ := os.ReadDir(path)
	for _, e := range entries {
		if e.IsDir() {
			w.add(filepath.Join(path, e.Name())) // a folder that went meanwhile is no error
		}
	}
	return nil
}

// Next blocks until changes come and returns them; it fails once closed.
func (w *Watcher) Next() ([]Event, error) {
	buf := make([]byte, 64*1024)
	n, err := w.f.Read(buf)
	if err != nil {
		return nil, err
	}
	var events []Event
	for at := 0; at+syscall.SizeofInotifyEvent <= n; {
		wd := int32(binary.LittleEndian.Uint32(buf[at:]))
		mask := binary.LittleEndian.Uint32(buf[at+4:])
		length := int(binary.LittleEndian.Uint32(buf[at+12:]))
		nameBytes := buf[at+syscall.SizeofInotifyEvent : at+syscall.SizeofInotifyEvent+length]
		at += syscall.SizeofInotifyEvent + length
		name := string(nameBytes[:clen(nameBytes)])
		path := w.dirs[wd]
		if name != "" {
			path = filepath.Join(path, name)
		}
		kind := eventType(mask)
		if kind == "" {
			continue
		}
		if w.recursive && mask&syscall.IN_ISDIR != 0 && mask&(syscall.IN_CREATE|syscall.IN_MOVED_TO) != 0 {
			w.add(path)
		}
		events = append(events, Event{Type: kind, Path: path})
	}
	return events, nil
}

func eventType(mask uint32) string {
	switch {
	case mask&(syscall.IN_CREATE|syscall.IN_MOVED_TO) != 0:
		return "create"
	case mask&(syscall.IN_DELETE|syscall.IN_DELETE_SELF|syscall.IN_MOVED_FROM) != 0:
		return "remove"
	case mask&(syscall.IN_MODIFY|syscall.IN_CLOSE_WRITE|syscall.IN_ATTRIB) != 0:
		return "modify"
	}
	return ""
}

func clen(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}

// Close stops the watch; a blocked Next returns.
func (w *Watcher) Close() error { return w.f.Close() }
