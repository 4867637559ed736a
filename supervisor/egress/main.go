// sandfleet-egress keeps sandboxes' egress allowlists on an engine's host:
// a resolver that answers only allowed names, and an nftables table that
// lets a sandbox's traffic reach only allowed addresses. It runs in a
// sandfleet-managed container on the host's network, with NET_ADMIN. It
// also keeps the host-side guard of sandfleet's app networks (guard.go).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
)

// ControlSocket is where `ctl` reaches `serve`, inside the daemon's container.
const ControlSocket = "/sandfleet-egress.sock"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: sandfleet-egress serve [--hosts FILE | --hosts-text LINES] [--upstream IP:PORT,...] [--public CIDR,...] [--engine-key KEY [--retire-tables KEY|legacy]] | ctl < request.json (op: sync, set, forget, generation or refusals) | seal GATEWAY")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		os.Exit(serve(os.Args[2:]))
	case "ctl":
		os.Exit(ctl())
	case "seal":
		os.Exit(seal(os.Args[2:]))
	default:
		fmt.Fprintf(os.Stderr, "sandfleet-egress: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

type request struct {
	Op       string    `json:"op"`
	Networks []Network `json:"networks"`
	Policies []Policy  `json:"policies"`
	// Sandbox is whose refusals the "refusals" op reads.
	Sandbox string `json:"sandbox"`
	// Held, for "set": every running sandbox on an egress network, by id, with
	// its address now; policies of sandboxes that do not hold theirs are dropped.
	Held map[string]string `json:"held"`
	// Generation, for "sync", and for "set" with Held: what "generation"
	// answered before the engine was read.
	Generation *uint64 `json:"generation"`
	// Forget, for "forget": the sandboxes whose policies go.
	Forget []string `json:"forget"`
}

func serve(args []string) int {
	flags := flag.NewFlagSet("serve", flag.ContinueOnError)
	hostsFile := flags.String("hosts", "", "a file of static `address name` lines, answered before the upstream servers")
	// The lines themselves, carried in the daemon's own configuration: a file on the host
	// may be gone when the engine restarts the daemon, which then could not start at all.
	hostsText := flags.String("hosts-text", "", "static `address name` lines, as --hosts reads them from a file")
	upstream := flags.String("upstream", "", "upstream DNS servers (IP:PORT,...); default the host's resolv.conf")
	public := flags.String("public", "", "CIDRs (a,b,...) routed on this host that answers may still open, such as a test network")
	engineKey := flags.String("engine-key", "", "names this engine's nftables tables (12 hex digits; tables.go); none keeps the legacy names")
	retireKey := flags.String("retire-tables", "", "the tables of the daemon this one replaced, by its engine key (\"legacy\": the single-name tables of a daemon from before per-engine tables), removed once this one's own are in place")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	hosts, err := ReadHosts(*hostsFile)
	if err == nil && *hostsText != "" {
		hosts, err = ParseHosts(strings.NewReader(*hostsText))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandfleet-egress: %v\n", err)
		return 1
	}
	var publicPrefixes []netip.Prefix
	for _, text := range strings.Split(*public, ",") {
		if text == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(text)
		if err != nil || !prefix.Addr().Is4() {
			fmt.Fprintf(os.Stderr, "sandfleet-egress: --public %q is not an IPv4 CIDR\n", text)
			return 2
		}
		publicPrefixes = append(publicPrefixes, prefix.Masked())
	}
	servers := Nameservers("/etc/resolv.conf")
	if *upstream != "" {
		servers = strings.Split(*upstream, ",")
	}
	tables, err := TablesFor(*engineKey)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandfleet-egress: --engine-key: %v\n", err)
		return 2
	}
	rules, err := NewRules(tables.Egress)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandfleet-egress: nftables: %v\n", err)
		return 1
	}
	resolver := NewResolver(rules, hosts, servers)
	// The host's networks are internal before the first answer is given.
	hostNetworks.Watch(publicPrefixes, func(err error) { resolver.log(map[string]any{"error": "host networks: " + err.Error()}) })
	// The app networks' guard first: it must hold before anything answers.
	retired, err := RetiredTables(*retireKey, tables)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandfleet-egress: --retire-tables: %v\n", err)
		return 2
	}
	rules.retire = retired.Egress
	guard, err := startGuard(tables, retired.Guard, func(err error) { resolver.log(map[string]any{"error": "guard: " + err.Error()}) })
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandfleet-egress: nftables: %v\n", err)
		return 1
	}
	if err := WatchRefusals(func(r Refusal) { resolver.RefusedAddress(r.Sandbox, r.Destination) }); err != nil {
		// The firewall still refuses; only its log of addresses is missing.
		resolver.log(map[string]any{"error": "cannot read refusals (NFLOG): " + err.Error()})
	}
	go resolver.CountUnlogged()
	_ = os.Remove(ControlSocket)
	listener, err := net.Listen("unix", ControlSocket)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandfleet-egress: %v\n", err)
		return 1
	}
	resolver.log(map[string]any{"started": true, "upstream": servers, "hosts": len(hosts)})
	for {
		conn, err := listener.Accept()
		if err != nil {
			continue
		}
		go func() {
			defer conn.Close()
			var req request
			reply := map[string]any{"ok": true}
			if err := json.NewDecoder(conn).Decode(&req); err != nil {
				reply = map[string]any{"error": "bad request: " + err.Error()}
			} else if req.Op == "sync" {
				problems, err := resolver.Sync(req.Networks, req.Policies, req.Generation)
				if errors.Is(err, ErrStale) {
					reply = map[string]any{"stale": true}
				} else if err != nil {
					reply = map[string]any{"error": err.Error()}
				} else if len(problems) > 0 {
					reply["problems"] = problems
				}
			} else if req.Op == "refusals" {
				reply["refusals"] = resolver.Refusals(req.Sandbox)
			} else if req.Op == "guard" {
				if err := guard.Ensure(); err != nil {
					reply = map[string]any{"error": err.Error()}
				}
			} else if req.Op == "set" {
				if err := resolver.Set(req.Networks, req.Policies, req.Held, req.Generation); err != nil {
					reply = map[string]any{"error": err.Error()}
				}
			} else if req.Op == "forget" {
				if err := resolver.Forget(req.Forget); err != nil {
					reply = map[string]any{"error": err.Error()}
				}
			} else if req.Op == "generation" {
				reply["generation"] = resolver.Generation()
			} else {
				reply = map[string]any{"error": fmt.Sprintf("unknown op %q", req.Op)}
			}
			_ = json.NewEncoder(conn).Encode(reply)
		}()
	}
}

// ctl sends the request on stdin to the daemon and prints its answer; it
// fails when the daemon refused the request.
func ctl() int {
	conn, err := net.Dial("unix", ControlSocket)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandfleet-egress: the daemon is not running: %v\n", err)
		return 1
	}
	defer conn.Close()
	if _, err := io.Copy(conn, os.Stdin); err != nil {
		fmt.Fprintf(os.Stderr, "sandfleet-egress: %v\n", err)
		return 1
	}
	var reply map[string]any
	if err := json.NewDecoder(conn).Decode(&reply); err != nil {
		fmt.Fprintf(os.Stderr, "sandfleet-egress: no answer: %v\n", err)
		return 1
	}
	if msg, failed := reply["error"]; failed {
		fmt.Fprintf(os.Stderr, "sandfleet-egress: %v\n", msg)
		return 1
	}
	// The whole answer, for what reads it (refusals, problems with a sync).
	_ = json.NewEncoder(os.Stdout).Encode(reply)
	return 0
}
