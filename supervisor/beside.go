package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// CLONE_NEWNET, for setns(2): join a network namespace.
const cloneNewNet = 0x40000000

// besideOptions is how `connect` runs on the engine's host rather than in
// the sandbox: it joins the network namespace of the container's first
// process (where the supervisor's abstract socket is) for its one socket,
// and connects as the reserved uid the supervisor accepts. Nothing else of
// the sandbox is joined: not its files, not its processes, so nothing in the
// sandbox can see, signal or trace this process.
type besideOptions struct {
	pid       int
	container string
	uid       int
	gid       int
}

// parseConnectArgs reads `connect [--pid N --container ID --as UID:GID]`.
func parseConnectArgs(args []string) (*besideOptions, error) {
	if len(args) == 0 {
		return nil, nil
	}
	var o besideOptions
	var pid, as string
	for i := 0; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return nil, fmt.Errorf("%s needs a value", args[i])
		}
		switch args[i] {
		case "--pid":
			pid = args[i+1]
		case "--container":
			o.container = args[i+1]
		case "--as":
			as = args[i+1]
		default:
			return nil, fmt.Errorf("unknown option %q", args[i])
		}
	}
	if pid == "" || o.container == "" || as == "" {
		return nil, errors.New("--pid, --container and --as go together")
	}
	var err error
	if o.pid, err = strconv.Atoi(pid); err != nil || o.pid <= 1 {
		return nil, fmt.Errorf("--pid %q: want a process of the host above 1", pid)
	}
	if strings.ContainsAny(o.container, "\n/") {
		return nil, fmt.Errorf("--container %q: want a container id", o.container)
	}
	uid, gid, ok := strings.Cut(as, ":")
	if !ok {
		return nil, fmt.Errorf("--as %q: want UID:GID", as)
	}
	if o.uid, err = strconv.Atoi(uid); err != nil || o.uid <= 0 {
		return nil, fmt.Errorf("--as %q: want a uid above 0", as)
	}
	if o.gid, err = strconv.Atoi(gid); err != nil || o.gid <= 0 {
		return nil, fmt.Errorf("--as %q: want a gid above 0", as)
	}
	return &o, nil
}

// containersNetwork opens the network namespace of the container's process,
// and only that: the process is held by a pidfd before anything is read
// from /proc, its cgroup must name the container, and it must still be alive
// once the namespace is open, so a pid the container gave up and another
// process took is never joined, whatever the timing.
func containersNetwork(o *besideOptions) (*os.File, error) {
	pidfd, _, errno := syscall.Syscall(sysPidfdOpen, uintptr(o.pid), 0, 0)
	if errno != 0 {
		return nil, fmt.Errorf("holding process %d: %w", o.pid, errno)
	}
	defer syscall.Close(int(pidfd))
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", o.pid))
	if err != nil {
		return nil, err
	}
	cgroup, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", o.pid))
	if err != nil || !strings.Contains(string(cgroup), o.container) {
		ns.Close()
		return nil, fmt.Errorf("process %d is not container %s's", o.pid, o.container)
	}
	if _, _, errno := syscall.Syscall6(sysPidfdSendSignal, pidfd, 0, 0, 0, 0, 0); errno != 0 {
		ns.Close()
		return nil, fmt.Errorf("process %d of container %s is gone", o.pid, o.container)
	}
	return ns, nil
}

// dialBeside makes the connection from the host: the socket is made on a
// thread that joined the container's network namespace (a socket keeps the
// namespace it was made in; the thread is never handed back to Go's
// scheduler, so no other work runs in that namespace), after the whole
// process took the reserved uid, which the kernel records at connect(2).
func dialBeside(o *besideOptions, address string) (net.Conn, error) {
	ns, err := containersNetwork(o)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread ends with this goroutine
		if _, _, errno := syscall.RawSyscall(sysSetns, ns.Fd(), cloneNewNet, 0); errno != 0 {
			done <- result{err: fmt.Errorf("joining the network of container %s: %w", o.container, errno)}
			return
		}
		if err := dropTo(o.uid, o.gid); err != nil {
			done <- result{err: err}
			return
		}
		conn, err := dialSupervisorAt(address)
		done <- result{conn, err}
	}()
	r := <-done
	return r.conn, r.err
}

// dropTo gives up root for good, on every thread: the relay needs nothing more of it.
func dropTo(uid, gid int) error {
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("dropping groups: %w", err)
	}
	if err := syscall.Setresgid(gid, gid, gid); err != nil {
		return fmt.Errorf("taking gid %d: %w", gid, err)
	}
	if err := syscall.Setresuid(uid, uid, uid); err != nil {
		return fmt.Errorf("taking uid %d: %w", uid, err)
	}
	return nil
}
