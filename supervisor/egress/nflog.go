package main

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// LogGroup is the NFLOG group the firewall's refusals are sent to.
const LogGroup = 7

// The nfnetlink_log protocol (linux/netfilter/nfnetlink_log.h), which x/sys does not define.
const (
	nfulnlMsgPacket    = 0
	nfulnlMsgConfig    = 1
	nfulaCfgCmd        = 1
	nfulaCfgMode       = 2
	nfulaCfgQthresh    = 4
	nfulnlCfgCmdBind   = 1
	nfulnlCfgCmdPfBind = 3
	nfulnlCopyPacket   = 2
	nfulaPayload       = 9
	nfulaPrefix        = 10
	refusalPrefixLabel = "sfeg "
)

// Refusal is one packet the firewall refused, as the kernel logged it.
type Refusal struct {
	Sandbox     string
	Destination string
}

// WatchRefusals binds to the firewall's log group and calls back for each
// refused packet: the sandbox (from the rule's prefix) and where it was going.
func WatchRefusals(onRefusal func(Refusal)) error {
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		return err
	}
	config := func(family byte, attrs func(*netlink.AttributeEncoder)) error {
		encoder := netlink.NewAttributeEncoder()
		attrs(encoder)
		payload, err := encoder.Encode()
		if err != nil {
			return err
		}
		header := []byte{family, 0, 0, 0}
		binary.BigEndian.PutUint16(header[2:], LogGroup)
		_, err = conn.Execute(netlink.Message{
			Header: netlink.Header{
				Type:  netlink.HeaderType(unix.NFNL_SUBSYS_ULOG<<8 | nfulnlMsgConfig),
				Flags: netlink.Request | netlink.Acknowledge,
			},
			Data: append(header, payload...),
		})
		return err
	}
	// The kernel's log backend for IPv4 (older kernels need it named), then the group.
	_ = config(unix.AF_INET, func(e *netlink.AttributeEncoder) { e.Bytes(nfulaCfgCmd, []byte{nfulnlCfgCmdPfBind}) })
	if err := config(unix.AF_UNSPEC, func(e *netlink.AttributeEncoder) { e.Bytes(nfulaCfgCmd, []byte{nfulnlCfgCmdBind}) }); err != nil {
		return fmt.Errorf("bind the log group: %w", err)
	}
	mode := make([]byte, 6)
	binary.BigEndian.PutUint32(mode, 128) // enough of each packet for its headers
	mode[4] = nfulnlCopyPacket
	if err := config(unix.AF_UNSPEC, func(e *netlink.AttributeEncoder) { e.Bytes(nfulaCfgMode, mode) }); err != nil {
		return fmt.Errorf("set the log mode: %w", err)
	}
	// Each refusal at once, not in batches of the kernel's default hundred.
	one := binary.BigEndian.AppendUint32(nil, 1)
	if err := config(unix.AF_UNSPEC, func(e *netlink.AttributeEncoder) { e.Bytes(nfulaCfgQthresh, one) }); err != nil {
		return fmt.Errorf("set the log threshold: %w", err)
	}
	go func() {
		for {
			messages, err := conn.Receive()
			if err != nil {
				continue
			}
			for _, m := range messages {
				if m.Header.Type != netlink.HeaderType(unix.NFNL_SUBSYS_ULOG<<8|nfulnlMsgPacket) || len(m.Data) < 4 {
					continue
				}
				if r, ok := parseRefusal(m.Data[4:]); ok {
					onRefusal(r)
				}
			}
		}
	}()
	return nil
}

func parseRefusal(attrs []byte) (Refusal, bool) {
	decoder, err := netlink.NewAttributeDecoder(attrs)
	if err != nil {
		return Refusal{}, false
	}
	var prefix string
	var packet []byte
	for decoder.Next() {
		switch decoder.Type() {
		case nfulaPrefix:
			prefix = strings.TrimRight(string(decoder.Bytes()), "\x00")
		case nfulaPayload:
			packet = decoder.Bytes()
		}
	}
	if !strings.HasPrefix(prefix, refusalPrefixLabel) {
		return Refusal{}, false
	}
	destination, ok := destinationOf(packet)
	return Refusal{Sandbox: strings.TrimSpace(strings.TrimPrefix(prefix, refusalPrefixLabel)), Destination: destination}, ok
}

// destinationOf reads an IPv4 packet's destination: address, and port for TCP and UDP.
func destinationOf(packet []byte) (string, bool) {
	if len(packet) < 20 || packet[0]>>4 != 4 {
		return "", false
	}
	addr, _ := netip.AddrFromSlice(packet[16:20])
	headerLen := int(packet[0]&0x0f) * 4
	switch packet[9] {
	case unix.IPPROTO_TCP, unix.IPPROTO_UDP:
		if len(packet) >= headerLen+4 {
			proto := map[byte]string{unix.IPPROTO_TCP: "tcp", unix.IPPROTO_UDP: "udp"}[packet[9]]
			port := binary.BigEndian.Uint16(packet[headerLen+2 : headerLen+4])
			return fmt.Sprintf("%s:%d (%s)", addr, port, proto), true
		}
	}
	return addr.String(), true
}
