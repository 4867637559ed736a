package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

func TestConnectArgs(t *testing.T) {
	if o, err := parseConnectArgs(nil); o != nil || err != nil {
		t.Fatalf("no options: %v %v", o, err)
	}
	o, err := parseConnectArgs([]string{"--pid", "4242", "--container", "abc123", "--as", "2000000000:2000000000"})
	if err != nil || o.pid != 4242 || o.container != "abc123" || o.uid != 2000000000 || o.gid != 2000000000 {
		t.Fatalf("got %+v %v", o, err)
	}
	for _, bad := range [][]string{
		{"--pid", "4242", "--container", "abc"},
		{"--as", "5:5"},
		{"--pid", "1", "--container", "abc", "--as", "5:5"},
		{"--pid", "x", "--container", "abc", "--as", "5:5"},
		{"--pid", "4242", "--container", "", "--as", "5:5"},
		{"--pid", "4242", "--container", "a/b", "--as", "5:5"},
		{"--pid", "4242", "--container", "abc", "--as", "0:0"},
		{"--pid", "4242", "--container", "abc", "--as", "5"},
		{"--pid", "4242", "--container", "abc", "--as", "a:b"},
		{"--pid", "4242", "--container", "abc", "--as", "5:5", "--other", "y"},
		{"--pid"},
	} {
		if _, err := parseConnectArgs(bad); err == nil {
			t.Errorf("%v was taken", bad)
		}
	}
}

// cgroupWord is a word of the process's /proc cgroup file: what a container id is to a container's process.
func cgroupWord(t *testing.T, pid int) string {
	text, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	longest := ""
	for _, line := range strings.Split(string(text), "\n") {
		for _, part := range strings.FieldsFunc(line, func(r rune) bool { return r == '/' || r == ':' }) {
			if len(part) > len(longest) {
				longest = part
			}
		}
	}
	if longest == "" {
		t.Fatal("this process's cgroup file names nothing to stand for a container")
	}
	return longest
}

// A helper process (this test binary again) dials from beside: it must
// reach a listener in the namespace of the process it names, with the uid it
// was told, and refuse a process whose cgroup does not name the container.
func TestDialBesideJoinsTheContainersNetworkAndTakesTheUid(t *testing.T) {
	if os.Getenv("BESIDE_CHILD") != "" {
		var pid int
		fmt.Sscan(os.Getenv("BESIDE_PID"), &pid)
		o := &besideOptions{pid: pid, container: os.Getenv("BESIDE_CONTAINER"), uid: 4321, gid: 4321}
		conn, err := dialBeside(o, os.Getenv("BESIDE_ADDRESS"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		conn.Write([]byte("hi"))
		conn.Close()
		os.Exit(0)
	}
	if os.Getuid() != 0 {
		t.Fatal("needs root to join a namespace (the tests run as root)")
	}
	address := fmt.Sprintf("@sandfleet-beside-test-%d", os.Getpid())
	listener, err := net.Listen("unix", address)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	accepted := make(chan int, 1)
	go func() {
		c, err := listener.Accept()
		if err != nil {
			accepted <- -1
			return
		}
		uid, _ := peerUidOf(c)
		accepted <- uid
		c.Close()
	}()
	child := func(container string) ([]byte, error) {
		run := exec.Command(os.Args[0], "-test.run", "^TestDialBesideJoinsTheContainersNetworkAndTakesTheUid$")
		run.Env = append(os.Environ(), "BESIDE_CHILD=1", fmt.Sprintf("BESIDE_PID=%d", os.Getpid()),
			"BESIDE_CONTAINER="+container, "BESIDE_ADDRESS="+address)
		return run.CombinedOutput()
	}
	// Another container's id: refused before it dials.
	if out, err := child("0123456789abcdef-not-this-one"); err == nil || !strings.Contains(string(out), "is not container") {
		t.Fatalf("a process of another container: %v %s", err, out)
	}
	if out, err := child(cgroupWord(t, os.Getpid())); err != nil {
		t.Fatalf("child: %v %s", err, out)
	}
	if uid := <-accepted; uid != 4321 {
		t.Fatalf("the listener saw uid %d, want 4321", uid)
	}
}

// A process that is gone is refused, not joined.
func TestContainersNetworkRefusesAProcessThatIsGone(t *testing.T) {
	gone := exec.Command("true")
	if err := gone.Start(); err != nil {
		t.Fatal(err)
	}
	// Another test of this package reaps every child (wait4(-1)), and may reap this one first:
	// Wait then reports ECHILD. Either way the process has ended and been reaped.
	_ = gone.Wait()
	_, err := containersNetwork(&besideOptions{pid: gone.Process.Pid, container: "x", uid: 5, gid: 5})
	if err == nil || !strings.Contains(err.Error(), "holding process") {
		t.Fatalf("a reaped process: %v", err)
	}
}

func peerUidOf(c net.Conn) (int, error) {
	raw, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		return 0, err
	}
	var uid int
	var credErr error
	raw.Control(func(fd uintptr) {
		cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
		if err == nil {
			uid = int(cred.Uid)
		}
		credErr = err
	})
	return uid, credErr
}
