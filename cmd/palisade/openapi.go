package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/enrich"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/inventory"
	"github.com/palisade-sec/palisade/internal/source"
)

type openapiFlags struct {
	host   string
	specs  []string
	out    string
	title  string
	pins   []string
	ignore []string
}

func init() {
	var f openapiFlags
	cmd := &cobra.Command{
		Use:   "openapi [flags] FILE...",
		Short: "Generate an OpenAPI 3.1 document of the API observed in captured traffic",
		Long: `openapi reads exchange records (NDJSON, plain or gzip, or HAR 1.2; "-" for
stdin), learns the API inventory of one host and prints it as an OpenAPI 3.1
JSON document: path templates, parameters, JSON body schemas, observed
status codes and the security schemes seen. Declared specs (--spec) make
their templates win for their hosts. See docs/inventory.md.

Exit status: 0 on success; 2 when the command line, a spec or an input is
unusable or the host has no observed operation; 3 when the document was
written but an input ended early (truncated gzip, read error).`,
		Example: `  palisade openapi --host api.example.test traffic.ndjson.gz > observed.json
  palisade openapi --host api.example.test --spec declared.yaml --out observed.json capture.har
  palisade openapi --host svc.internal --spec api.yaml,host=svc.internal capture.ndjson`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runOpenAPI(f, args) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.host, "host", "", "host to export (default: the only host seen)")
	fl.StringArrayVar(&f.specs, "spec", nil, "declared OpenAPI/Swagger spec FILE[,host=HOST] (repeatable)")
	fl.StringVar(&f.out, "out", "", "write the document to this file instead of stdout")
	fl.StringVar(&f.title, "title", "", "info.title of the document (default: HOST (observed))")
	fl.StringArrayVar(&f.pins, "pin", nil, `pinned path template, e.g. "/v2/users/{userId}" (repeatable)`)
	fl.StringArrayVar(&f.ignore, "ignore", nil, `path glob never inventoried, e.g. "/static/**" (repeatable)`)
	root.AddCommand(cmd)
}

func runOpenAPI(f openapiFlags, files []string) error {
	cfg := inventory.DefaultConfig()
	cfg.Pinned, cfg.Ignore = f.pins, f.ignore
	inv := inventory.New(cfg)
	if err := inv.Err(); err != nil {
		return exitCode(2, err)
	}
	host := strings.ToLower(f.host)
	for _, arg := range f.specs {
		s, err := inventory.LoadSpec(arg)
		if err != nil {
			return exitCode(2, err)
		}
		if len(s.Hosts) == 0 && host != "" {
			s.Hosts = []string{host}
		}
		if err := inv.AddSpec(s); err != nil {
			return exitCode(2, err)
		}
		for _, w := range s.Warnings {
			fmt.Fprintf(os.Stderr, "palisade: warning: spec %s: %s\n", s.Name, w)
		}
	}
	enr := enrich.New(enrich.DefaultConfig(), inv, nil)
	sink := &inventorySink{enr: enr, inv: inv, hosts: map[string]int64{}}
	var damaged error
	for _, name := range files {
		src, err := source.Open(name, source.ReaderOptions{})
		if err != nil {
			return exitCode(2, err)
		}
		if err := src.Run(context.Background(), sink); err != nil {
			if sink.seq == 0 {
				return exitCode(2, err)
			}
			damaged = err
			fmt.Fprintln(os.Stderr, "palisade:", err)
			break
		}
	}
	seq, rejected, last, hosts := sink.seq, sink.rejected, sink.last, sink.hosts
	if host == "" {
		if len(hosts) != 1 {
			return exitCode(2, fmt.Errorf("--host is required: the input has %d hosts (%s)", len(hosts), hostList(hosts)))
		}
		for h := range hosts {
			host = h
		}
	}
	if slices.Contains(inv.OutboundHosts(), host) {
		return exitCode(2, fmt.Errorf("%s is a third-party API our services call (only outbound records): the export describes our APIs; see outbound[] in the analyze report", host))
	}
	eps := inv.Endpoints(last)
	doc, err := inventory.ExportOpenAPI(host, eps, f.title)
	if err != nil {
		return exitCode(2, fmt.Errorf("%w (hosts seen: %s)", err, hostList(hosts)))
	}
	if f.out == "" || f.out == "-" {
		_, err = os.Stdout.Write(doc)
	} else {
		err = os.WriteFile(f.out, doc, 0o644)
	}
	if err != nil {
		return exitCode(2, err)
	}
	n := 0
	for _, ep := range eps {
		if ep.Host == host && ep.Requests > 0 {
			n++
		}
	}
	fmt.Fprintf(os.Stderr, "palisade: %d records (%d rejected), %d operations exported for %s, %d probe paths left out\n",
		seq, rejected, n, host, len(inv.Probes()))
	if damaged != nil {
		return exitCode(3, fmt.Errorf("input ended early: %w", damaged))
	}
	return nil
}

func hostList(hosts map[string]int64) string {
	if len(hosts) == 0 {
		return "none"
	}
	list := make([]string, 0, len(hosts))
	for h, n := range hosts {
		list = append(list, fmt.Sprintf("%s (%d)", h, n))
	}
	sort.Strings(list)
	if len(list) > 10 {
		list = append(list[:10], "…")
	}
	return strings.Join(list, ", ")
}

// inventorySink enriches records and feeds them to the inventory only.
type inventorySink struct {
	enr           *enrich.Enricher
	inv           *inventory.Inventory
	seq, rejected int64
	last          time.Time
	hosts         map[string]int64
}

func (k *inventorySink) Records(recs []*exchange.Record) error {
	for _, rec := range recs {
		ev, err := k.enr.Enrich(rec, uint64(k.seq))
		k.seq++
		if err != nil {
			k.rejected++
			continue
		}
		k.inv.Observe(ev)
		k.hosts[ev.Host]++
		if ev.Time.After(k.last) {
			k.last = ev.Time
		}
	}
	return nil
}

func (k *inventorySink) Reject(re *exchange.RecordError) {
	k.rejected++
	if k.rejected <= 5 {
		fmt.Fprintln(os.Stderr, "palisade: rejected:", re)
	}
}

func (k *inventorySink) Drop(string, int64) {}
