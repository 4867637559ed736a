package server

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"sandfleet/supervisor/protocol"
)

const testSecret = "0123456789abcdef0123456789abcdef"

func gate() *Gate {
	return &Gate{Secret: []byte(testSecret), MaxPending: 4, AuthWait: 2 * time.Second}
}

func authFrame(secret string) protocol.Frame {
	payload, _ := json.Marshal(protocol.AuthRequest{Secret: secret})
	return protocol.Frame{Kind: protocol.Auth, Payload: payload}
}

// admits runs the gate on one end of a pipe and the client on the other.
func admits(t *testing.T, g *Gate, client func(net.Conn)) (bool, net.Conn) {
	t.Helper()
	server, peer := net.Pipe()
	t.Cleanup(func() { peer.Close() })
	result := make(chan bool, 1)
	go func() { result <- g.Admit(server) }()
	go client(peer)
	select {
	case ok := <-result:
		return ok, peer
	case <-time.After(10 * time.Second):
		t.Fatal("the gate never decided")
	}
	return false, peer
}

// closedWithNothing says the peer's end reads nothing but its end.
func closedWithNothing(t *testing.T, peer net.Conn) {
	t.Helper()
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := peer.Read(make([]byte, 1))
	if n != 0 || !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("a refused connection read %d bytes, %v; want its end and nothing else", n, err)
	}
}

func TestTheRightSecretIsAdmitted(t *testing.T) {
	ok, _ := admits(t, gate(), func(c net.Conn) { protocol.Write(c, authFrame(testSecret)) })
	if !ok {
		t.Error("the right secret was refused")
	}
}

func TestAWrongOrMissingSecretIsClosedWithNothingServed(t *testing.T) {
	openLifetime, _ := json.Marshal(protocol.Request{Op: protocol.OpLifetime, TimeoutMs: -1, IdleTimeoutMs: -1})
	for name, first := range map[string]protocol.Frame{
		"wrong secret":       authFrame("0123456789abcdef0123456789abcdeX"),
		"a prefix of it":     authFrame(testSecret[:31]),
		"empty secret":       authFrame(""),
		"no auth, an open":   {Kind: protocol.Open, Channel: 1, Payload: openLifetime},
		"auth on channel 1":  {Kind: protocol.Auth, Channel: 1, Payload: authFrame(testSecret).Payload},
		"not JSON":           {Kind: protocol.Auth, Payload: []byte(testSecret)},
		"secret as a number": {Kind: protocol.Auth, Payload: []byte(`{"secret":1}`)},
	} {
		ok, peer := admits(t, gate(), func(c net.Conn) { protocol.Write(c, first) })
		if ok {
			t.Errorf("%s: admitted", name)
			continue
		}
		closedWithNothing(t, peer)
	}
}

func TestASilentConnectionIsClosedAtTheAuthWait(t *testing.T) {
	g := gate()
	g.AuthWait = 100 * time.Millisecond
	ok, peer := admits(t, g, func(net.Conn) {})
	if ok {
		t.Fatal("a silent connection was admitted")
	}
	closedWithNothing(t, peer)
}

func TestAFloodOfSilentConnectionsPushesOutTheOldestNotTheHost(t *testing.T) {
	g := gate()
	g.AuthWait = time.Minute
	closed := make(chan struct{}, 3*g.MaxPending)
	for i := 0; i < 3*g.MaxPending; i++ {
		server, peer := net.Pipe()
		defer peer.Close()
		go g.Admit(server)
		go func() {
			if n, _ := peer.Read(make([]byte, 1)); n == 0 {
				closed <- struct{}{}
			}
		}()
	}
	// Every connection beyond MaxPending closed an older one, with nothing sent.
	for i := 0; i < 2*g.MaxPending; i++ {
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of the silent connections were pushed out", i)
		}
	}
	ok, _ := admits(t, g, func(c net.Conn) { protocol.Write(c, authFrame(testSecret)) })
	if !ok {
		t.Error("the host was shut out by a flood")
	}
}

func TestAConnectionFromAnotherUidIsRefusedBeforeItsSecretIsRead(t *testing.T) {
	dir := t.TempDir()
	listener, err := net.Listen("unix", dir+"/s")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	for _, tc := range []struct {
		uid  int
		want bool
	}{{os.Getuid(), true}, {os.Getuid() + 1, false}} {
		g := gate()
		g.ControlUid = &tc.uid
		client, err := net.Dial("unix", dir+"/s")
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		server, _ := listener.Accept()
		protocol.Write(client, authFrame(testSecret))
		if got := g.Admit(server); got != tc.want {
			t.Errorf("peer uid %d against control uid %d: admitted %v", os.Getuid(), tc.uid, got)
		}
	}
}

func TestServeSaysHelloOnlyAfterTheGate(t *testing.T) {
	// The hello is Serve's first frame: a client hears it only once the gate admitted it.
	server, peer := net.Pipe()
	defer peer.Close()
	srv := &Server{BaseEnv: os.Environ()}
	srv.Tracker = nil
	go func() {
		if gate().Admit(server) {
			srv.Serve(server)
		}
	}()
	protocol.Write(peer, authFrame(testSecret))
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if f, err := protocol.Read(peer); err != nil || f.Kind != protocol.Hello {
		t.Errorf("after the secret: %v %v, want a hello", f, err)
	}
}
