package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// QueryLabels reads a DNS name as it travels on the wire, label by label,
// and returns its labels in lower case (ASCII only). A name is judged by
// its labels, never by its text: in presentation form a label holding a
// dot ("x\.ok.example") would end in ".ok.example" like a name below
// ok.example. So any label holding a byte other than an ASCII letter, a
// digit or '-' (a dot, an escape, a byte past ASCII, '_'), or starting or
// ending with '-', makes the name refused. The root name has no labels and
// is refused too.
func QueryLabels(name string) ([]string, error) {
	if strings.ContainsRune(name, '\\') {
		// An escaped form is never a hostname: miekg/dns escapes every byte outside
		// what a hostname label may hold, and an escaped letter is refused as well.
		return nil, errors.New("it holds an escaped character")
	}
	wire := make([]byte, 256)
	end, err := dns.PackDomainName(dns.Fqdn(name), wire, 0, nil, false)
	if err != nil {
		return nil, fmt.Errorf("it is not a valid DNS name: %v", err)
	}
	var labels []string
	for at := 0; at < end; {
		length := int(wire[at])
		if length == 0 {
			break
		}
		if length > 63 || at+1+length > end {
			return nil, errors.New("it is not a valid DNS name")
		}
		label := string(wire[at+1 : at+1+length])
		if why := labelProblem(label); why != "" {
			return nil, fmt.Errorf("label %d %s", len(labels)+1, why)
		}
		labels = append(labels, asciiLower(label))
		at += 1 + length
	}
	if len(labels) == 0 {
		return nil, errors.New("it is the root name")
	}
	return labels, nil
}

// CanonicalName is a name's labels joined: lower case, no final dot.
func CanonicalName(labels []string) string { return strings.Join(labels, ".") }
