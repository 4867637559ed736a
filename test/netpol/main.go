// Command sandfleet-test-netpol enforces NetworkPolicy on one node of
// sandfleet's test cluster (scripts/cluster), in that node's network
// namespace, with nftables. It exists because the cluster's network plugin
// (the bridge CNI plugin) enforces none, and the policy enforcers that queue
// packets to user space need nftables' queue expression, which some kernels
// lack. It reads pods, namespaces and policies from the API server every
// pass and replaces its table whenever the answer changes. Test use only:
// it knows the peers and ipBlocks of NetworkPolicy, and a rule naming ports
// allows nothing.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/netip"
	"os"
	"reflect"
	"time"

	"github.com/google/nftables"
)

type list[T any] struct {
	Items []T `json:"items"`
}

type meta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
}

func main() {
	server := flag.String("server", "", "the API server's URL")
	ca := flag.String("ca", "", "the cluster CA's certificate")
	cert := flag.String("cert", "", "a client certificate that may list pods, namespaces and network policies")
	key := flag.String("key", "", "its key")
	podRange := flag.String("pod-range", "10.244.0.0/16", "the addresses pods get")
	every := flag.Duration("every", 250*time.Millisecond, "how often to read the API")
	ready := flag.String("ready-file", "", "a file written once the first table is in place")
	flag.Parse()
	pods, err := netip.ParsePrefix(*podRange)
	if err != nil || !pods.Addr().Is4() {
		log.Fatalf("--pod-range %q is not an IPv4 prefix", *podRange)
	}
	client, err := apiClient(*ca, *cert, *key)
	if err != nil {
		log.Fatal(err)
	}
	conn, err := nftables.New()
	if err != nil {
		log.Fatal(err)
	}
	var applied map[netip.Addr]Verdict
	for first := true; ; first = false {
		if !first {
			time.Sleep(*every)
		}
		verdicts, err := read(client, *server)
		if err != nil {
			log.Printf("reading the API: %v", err)
			continue
		}
		if applied != nil && reflect.DeepEqual(verdicts, applied) {
			continue
		}
		if err := Apply(conn, pods, verdicts); err != nil {
			log.Printf("applying %d pods' verdicts: %v", len(verdicts), err)
			continue
		}
		if applied == nil && *ready != "" {
			if err := os.WriteFile(*ready, []byte("ready\n"), 0o644); err != nil {
				log.Fatal(err)
			}
		}
		applied = verdicts
	}
}

func apiClient(ca, cert, key string) (*http.Client, error) {
	pem, err := os.ReadFile(ca)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no certificate", ca)
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, err
	}
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}}},
	}, nil
}

func get(client *http.Client, url string, into any) error {
	response, err := client.Get(url)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, response.Status)
	}
	return json.NewDecoder(response.Body).Decode(into)
}

func read(client *http.Client, server string) (map[netip.Addr]Verdict, error) {
	var pods list[struct {
		Metadata meta `json:"metadata"`
		Spec     struct {
			HostNetwork bool `json:"hostNetwork"`
		} `json:"spec"`
		Status struct {
			PodIP string `json:"podIP"`
			Phase string `json:"phase"`
		} `json:"status"`
	}]
	var namespaces list[struct {
		Metadata meta `json:"metadata"`
	}]
	var policies list[struct {
		Metadata meta `json:"metadata"`
		Spec     struct {
			PodSelector Selector `json:"podSelector"`
			PolicyTypes []string `json:"policyTypes"`
			Ingress     []Rule   `json:"ingress"`
			Egress      []Rule   `json:"egress"`
		} `json:"spec"`
	}]
	if err := get(client, server+"/api/v1/pods", &pods); err != nil {
		return nil, err
	}
	if err := get(client, server+"/api/v1/namespaces", &namespaces); err != nil {
		return nil, err
	}
	if err := get(client, server+"/apis/networking.k8s.io/v1/networkpolicies", &policies); err != nil {
		return nil, err
	}
	var in []Pod
	for _, p := range pods.Items {
		ip, err := netip.ParseAddr(p.Status.PodIP)
		if p.Spec.HostNetwork || err != nil || !ip.Is4() || p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed" {
			continue
		}
		in = append(in, Pod{Namespace: p.Metadata.Namespace, Labels: p.Metadata.Labels, IP: ip})
	}
	labels := map[string]map[string]string{}
	for _, n := range namespaces.Items {
		labels[n.Metadata.Name] = n.Metadata.Labels
	}
	var ps []Policy
	for _, p := range policies.Items {
		ps = append(ps, Policy{
			Namespace: p.Metadata.Namespace, PodSelector: p.Spec.PodSelector, Types: p.Spec.PolicyTypes,
			Ingress: p.Spec.Ingress, Egress: p.Spec.Egress,
		})
	}
	return Decide(in, labels, ps), nil
}
