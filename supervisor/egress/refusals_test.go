package main

import (
	"sync"
	"testing"
	"time"
)

func TestRefusalLogBoundsAFloodAndCountsTheRest(t *testing.T) {
	var mu sync.Mutex
	written := map[string]int{}
	var summaries []map[string]any
	log := NewRefusalLog(func(line map[string]any) {
		mu.Lock()
		defer mu.Unlock()
		if line["more"] != nil {
			summaries = append(summaries, line)
			return
		}
		written[line["sandbox"].(string)]++
	})
	now := time.Unix(1000, 0)
	log.now = func() time.Time { return now }
	for i := 0; i < 100_000; i++ {
		log.Add("flooder", "203.0.113.9:80 (udp)", "the address is not in the egress allowlist")
	}
	log.Count("flooder", 5)
	log.Add("quiet", "198.51.100.1:443 (tcp)", "the address is not in the egress allowlist")
	log.Flush()
	if written["flooder"] != sandboxLineBurst || written["quiet"] != 1 {
		t.Fatalf("written %v", written)
	}
	if len(summaries) != 1 || summaries[0]["more"].(uint64) != 100_000-sandboxLineBurst+5 {
		t.Fatalf("summaries %v", summaries)
	}
	// The ring keeps the newest only.
	for i := 0; i < 2000; i++ {
		now = now.Add(time.Second)
		log.Add("flooder", "x", "y")
	}
	if got := len(log.Recent("flooder")); got != keptPerSandbox {
		t.Fatalf("kept %d", got)
	}
	if got := log.Recent("quiet"); len(got) != 1 || got[0].Destination != "198.51.100.1:443 (tcp)" {
		t.Fatalf("quiet %v", got)
	}
}
