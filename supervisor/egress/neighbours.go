package main

import (
	"bytes"
	"net"
	"net/netip"
	"syscall"
	"unsafe"
)

// neighbourMAC is the MAC address this host's neighbour table holds for an
// IPv4 address: the sender of the frames that reached the host from it (a
// sandbox asking its gateway first asks for the gateway's own MAC address,
// and the host learns the asker's from that request). False when none is known.
func neighbourMAC(addr netip.Addr) (net.HardwareAddr, bool) {
	raw, err := syscall.NetlinkRIB(syscall.RTM_GETNEIGH, syscall.AF_INET)
	if err != nil {
		return nil, false
	}
	messages, err := syscall.ParseNetlinkMessage(raw)
	if err != nil {
		return nil, false
	}
	want := addr.AsSlice()
	const ndmsgSize = int(unsafe.Sizeof(ndmsg{}))
	for _, m := range messages {
		if m.Header.Type != syscall.RTM_NEWNEIGH || len(m.Data) < ndmsgSize {
			continue
		}
		var ip, mac []byte
		for _, a := range neighbourAttributes(m.Data[ndmsgSize:]) {
			switch a.kind {
			case ndaDST:
				ip = a.value
			case ndaLLADDR:
				mac = a.value
			}
		}
		if bytes.Equal(ip, want) && len(mac) == 6 {
			return net.HardwareAddr(mac), true
		}
	}
	return nil, false
}

// ndmsg is the kernel's struct ndmsg, which the attributes follow.
type ndmsg struct {
	family  uint8
	pad1    uint8
	pad2    uint16
	ifindex int32
	state   uint16
	flags   uint8
	kind    uint8
}

const (
	ndaDST    = 1
	ndaLLADDR = 2
)

type attribute struct {
	kind  uint16
	value []byte
}

// neighbourAttributes reads netlink attributes (length, type, value, padded to 4 bytes).
func neighbourAttributes(b []byte) []attribute {
	var out []attribute
	for len(b) >= 4 {
		length := int(b[0]) | int(b[1])<<8
		kind := uint16(b[2]) | uint16(b[3])<<8
		if length < 4 || length > len(b) {
			break
		}
		out = append(out, attribute{kind: kind & 0x3fff, value: b[4:length]})
		step := (length + 3) &^ 3
		if step > len(b) {
			break
		}
		b = b[step:]
	}
	return out
}
