// Command sandfleet-supervisor runs inside every sandbox that sandfleet
// makes. As `init` it is PID 1: it starts the sandbox's main command, reaps
// orphans, ends the sandbox at its timeout or idle timeout, and serves
// execs and file calls on a Unix socket in the sandbox's own abstract
// namespace, which no other sandbox and no network can reach, to the
// connections that prove they are the host's (the sandbox's secret first,
// and on Docker the host's own uid). As `connect` it is the far end of one
// engine exec: it joins that exec's stdin and stdout to the socket, so one
// engine exec carries many commands; on the engine's own host it can
// also run beside the sandbox (see beside.go), with no engine exec at all.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"sandfleet/supervisor/guard"
	"sandfleet/supervisor/protocol"
)

// Address is the supervisor's socket: abstract (no file), so it needs no
// writable filesystem and exists only in the sandbox's network namespace.
const Address = "@sandfleet-supervisor"

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "init":
		os.Exit(runInit(os.Args[2:]))
	case "connect":
		os.Exit(runConnect(os.Args[2:]))
	case "version":
		fmt.Println(protocol.Version)
	case "install":
		if len(os.Args) != 3 {
			usage()
		}
		os.Exit(runInstall(os.Args[2]))
	case "terminate":
		os.Exit(runTerminate())
	case "stats":
		os.Exit(runStats())
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: sandfleet-supervisor init [--config JSON] --secret SECRET [--] [command...] | connect [--pid N --container ID --as UID:GID] | version | install DIR | terminate | stats")
	os.Exit(2)
}

// runConnect joins this process's stdin and stdout to the supervisor: in
// the sandbox as an engine exec, or beside it on the engine's host.
func runConnect(args []string) int {
	beside, err := parseConnectArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandfleet-supervisor connect: %v\n", err)
		return 2
	}
	// It carries the host's frames, the secret first: nothing in the sandbox may read or stop it.
	guard.NotDumpable()
	if beside == nil {
		guard.Signals(false) // not PID 1: nothing spares it a signal left at its default
		// It runs in the sandbox's pids cgroup: it makes its threads now, and waits
		// on its streams in the poller, not in a thread each, so a sandbox that fills
		// its pids limit cannot make it die for want of a thread.
		guard.ReserveThreads(connectThreads)
	}
	stdin, stdout := pollable(0, "stdin"), pollable(1, "stdout")
	var conn net.Conn
	if beside != nil {
		conn, err = dialBeside(beside, Address)
	} else {
		conn, err = dialSupervisorAt(Address)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandfleet-supervisor: cannot reach the supervisor: %v\n", err)
		return 1
	}
	if beside != nil {
		// On the host, a relay whose client died while the supervisor was not reading (a frozen
		// sandbox, a channel the sandbox stalls) would wait on its write for as long as the
		// sandbox lives: it goes with its client.
		go endWithParent(os.Getppid())
	}
	go func() {
		io.Copy(conn, stdin)
		conn.(*net.UnixConn).CloseWrite() // the client is gone: the supervisor ends its commands
	}()
	io.Copy(stdout, conn)
	return 0
}

// endWithParent exits once the process that started this one is gone (this
// one was handed to another parent).
func endWithParent(parent int) {
	for range time.Tick(time.Second) {
		if os.Getppid() != parent {
			os.Exit(0)
		}
	}
}

// connectThreads is how many OS threads a connection's relay keeps.
const connectThreads = 8

// pollable reopens a standard stream non-blocking, which Go then serves from
// its poller: a read or write that waits holds no thread.
func pollable(fd int, name string) *os.File {
	syscall.SetNonblock(fd, true)
	return os.NewFile(uintptr(fd), name)
}

// dialSupervisor connects, waiting a moment for a supervisor that is still
// starting: a sandbox's first exec can come right after its container started.
func dialSupervisorAt(address string) (net.Conn, error) {
	deadline := time.Now().Add(startWait)
	for pause := time.Millisecond; ; pause = min(2*pause, 50*time.Millisecond) {
		conn, err := net.Dial("unix", address)
		if err == nil || time.Now().After(deadline) {
			return conn, err
		}
		time.Sleep(pause)
	}
}

// startWait bounds how long a connection waits for the supervisor to listen.
const startWait = 10 * time.Second
