package main

import "testing"

func TestDestinationOfReadsAddressPortAndProtocol(t *testing.T) {
	packet := make([]byte, 40)
	packet[0] = 0x45 // IPv4, 20-byte header
	packet[9] = 6    // TCP
	copy(packet[16:20], []byte{203, 0, 113, 9})
	packet[22], packet[23] = 0x01, 0xbb // port 443
	if got, ok := destinationOf(packet); !ok || got != "203.0.113.9:443 (tcp)" {
		t.Fatalf("got %q %v", got, ok)
	}
	packet[9] = 1 // ICMP: no port
	if got, _ := destinationOf(packet); got != "203.0.113.9" {
		t.Fatalf("got %q", got)
	}
	if _, ok := destinationOf([]byte{0x60}); ok {
		t.Fatal("an IPv6 packet was read as IPv4")
	}
}
