package sim

import (
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
)

func TestSmoke(t *testing.T) {
	t0 := time.Now()
	var n int
	hosts := map[string]int{}
	lab, err := Generate(DefaultConfig(), func(r *exchange.Record) error { n++; hosts[r.Source]++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("records %d in %s; %v", n, time.Since(t0), hosts)
	for _, s := range lab.Scenarios {
		t.Logf("%-40s %-36s %6d %s %s ips=%d", s.Name, s.AlertType, s.Records, s.Start.Format("01-02T15:04"), s.End.Format("01-02T15:04"), len(s.ClientIPs))
	}
}
