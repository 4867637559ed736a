package main

import (
	"fmt"
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// An upstream server whose answer (300 addresses, about 5 KB) fits in no UDP
// reply: over UDP it answers cut short, as a real server does, and whole over TCP.
func TestAnAnswerTooLargeForUDPIsAskedAgainOverTCP(t *testing.T) {
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		reply := new(dns.Msg)
		reply.SetReply(req)
		for i := range 300 {
			reply.Answer = append(reply.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A:   net.IPv4(93, 184, byte(i/250), byte(i%250+1)),
			})
		}
		if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
			size := dns.MinMsgSize
			if opt := req.IsEdns0(); opt != nil {
				size = int(opt.UDPSize())
			}
			reply.Truncate(size)
		}
		_ = w.WriteMsg(reply)
	})
	packet, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := packet.LocalAddr().(*net.UDPAddr).Port
	stream, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	servers := []*dns.Server{{PacketConn: packet, Handler: handler}, {Listener: stream, Handler: handler}}
	for _, s := range servers {
		go func() { _ = s.ActivateAndServe() }()
		defer func() { _ = s.Shutdown() }()
	}
	r := NewResolver(nil, map[string][]netip.Addr{}, []string{fmt.Sprintf("127.0.0.1:%d", port)})
	list, err := ParseAllowlist([]string{"big.ok.example"})
	if err != nil {
		t.Fatal(err)
	}
	addrs, _, err := r.lookup("big.ok.example", list)
	if err != nil || len(addrs) != 300 {
		t.Fatalf("got %d addresses, %v", len(addrs), err)
	}
}
