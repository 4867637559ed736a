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
	o, err := parseConnectArgs([]string{"--netns", "/proc/1/ns/net", "--as", "2000000000:2000000000"})
	if err != nil || o.netns != "/proc/1/ns/net" || o.uid != 2000000000 || o.gid != 2000000000 {
		t.Fatalf("got %+v %v", o, err)
	}
	for _, bad := range [][]string{
		{"--netns", "/x"},
		{"--as", "5:5"},
		{"--netns", "/x", "--as", "0:0"},
		{"--netns", "/x", "--as", "5"},
		{"--netns", "/x", "--as", "a:b"},
		{"--netns", "/x", "--as", "5:5", "--other", "y"},
		{"--netns"},
	} {
		if _, err := parseConnectArgs(bad); err == nil {
			t.Errorf("%v was taken", bad)
		}
	}
}

// A helper process (this test binary again) dials from beside: it must
// reach a listener in the namespace it names, with the uid it was told.
func TestDialBesideJoinsTheNamespaceAndTakesTheUid(t *testing.T) {
	if os.Getenv("BESIDE_CHILD") != "" {
		o := &besideOptions{netns: os.Getenv("BESIDE_NETNS"), uid: 4321, gid: 4321}
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
	child := exec.Command(os.Args[0], "-test.run", "^TestDialBesideJoinsTheNamespaceAndTakesTheUid$")
	child.Env = append(os.Environ(), "BESIDE_CHILD=1", "BESIDE_NETNS=/proc/self/ns/net", "BESIDE_ADDRESS="+address)
	if out, err := child.CombinedOutput(); err != nil {
		t.Fatalf("child: %v %s", err, out)
	}
	if uid := <-accepted; uid != 4321 {
		t.Fatalf("the listener saw uid %d, want 4321", uid)
	}
	// A namespace it cannot open is an error, not a connection in the host's own namespace.
	bad := exec.Command(os.Args[0], "-test.run", "^TestDialBesideJoinsTheNamespaceAndTakesTheUid$")
	bad.Env = append(os.Environ(), "BESIDE_CHILD=1", "BESIDE_NETNS=/proc/0/ns/net", "BESIDE_ADDRESS="+address)
	out, err := bad.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no such file") {
		t.Fatalf("a missing namespace: %v %s", err, out)
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
