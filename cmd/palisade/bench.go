package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/bus"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/sim"
)

// benchOptions are bench cluster's flags.
type benchOptions struct {
	bus         string
	workers     []int
	records     int
	batch       int
	concurrency int
	partitions  int
	replicas    int
	probes      time.Duration
	dir         string
	jsonOut     string
	keep        bool
	profile     bool
}

// BenchResult is one run of bench cluster.
type BenchResult struct {
	Workers         int     `json:"workers"`
	Partitions      int     `json:"partitions"`
	Records         int     `json:"records"`
	IngestSeconds   float64 `json:"ingest_seconds"`
	IngestPerSec    float64 `json:"ingest_records_per_second"`     // over HTTP, one ingest process
	EndToEndSeconds float64 `json:"end_to_end_seconds"`            // first post → every record analyzed and merged into the store
	EndToEndPerSec  float64 `json:"end_to_end_records_per_second"` // records / end_to_end_seconds
	LagMax          int64   `json:"lag_max_records"`               // most records a partition's worker had not received
	LagMean         float64 `json:"lag_mean_records"`
	AlertLatencyP50 float64 `json:"alert_latency_p50_seconds"` // attack record posted → its alert served by the API
	AlertLatencyMax float64 `json:"alert_latency_max_seconds"`
	Probes          int     `json:"probes"`
	ProbesSeen      int     `json:"probes_seen"`
	Rejected429     int64   `json:"answers_429_503"`
	// CPU seconds the processes used during the run (the machine may be
	// shared: records per CPU second is what the capacity model uses).
	IngestCPU     float64 `json:"ingest_cpu_seconds"`
	WorkersCPU    float64 `json:"workers_cpu_seconds"`
	APICPU        float64 `json:"api_cpu_seconds"`
	IngestPerCPU  float64 `json:"ingest_records_per_cpu_second"`
	AnalyzePerCPU float64 `json:"analysis_records_per_cpu_second"`
}

func init() {
	o := benchOptions{}
	var workers string
	bench := &cobra.Command{Use: "bench", Short: "Benchmarks of deployments"}
	cmd := &cobra.Command{
		Use:   "cluster --bus nats://HOST:PORT[,…]",
		Short: "Measure a clustered deployment: ingest and end-to-end records/s, lag and alert latency for 1 and 2 analysis workers",
		Long: `bench cluster runs, for each worker count, a clustered deployment of this
binary on the given NATS servers — one API process, one ingest process and
the analysis workers, over a SQLite store in a temporary directory — and
posts a simulated capture with attacks over HTTP (--concurrency requests at
a time). It reports:

  ingest records/s      records accepted per second by the ingest process
                        (acknowledged by JetStream on every replica)
  end-to-end records/s  records / time from the first post until the API's
                        overview counts every record analyzed
  lag                   records the slowest partition's worker had not yet
                        received (max and mean, sampled every 250 ms)
  alert latency         an SQL injection probe posted every --probes, from a
                        fresh address: time until the API serves its alert
                        (includes the event-time reorder window: a record is
                        analyzed once the watermark passes it)

Every run uses its own streams (a prefix of its own), deleted at the end
unless --keep. See docs/cluster.md for the capacity model.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, w := range strings.Split(workers, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(w))
				if err != nil || n < 1 {
					return exitCode(2, fmt.Errorf("--workers: %q", w))
				}
				o.workers = append(o.workers, n)
			}
			if o.bus == "" {
				return exitCode(2, errors.New("--bus is required (start NATS with JetStream; docs/cluster.md)"))
			}
			return runBenchCluster(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.bus, "bus", "", "NATS servers (JetStream enabled)")
	f.StringVar(&workers, "workers", "1,2", "analysis worker counts to measure")
	f.IntVar(&o.records, "records", 100000, "records to post per run (a simulated capture with attacks)")
	f.IntVar(&o.batch, "batch", 1000, "records per ingest request")
	f.IntVar(&o.concurrency, "concurrency", 4, "ingest requests in flight")
	f.IntVar(&o.partitions, "partitions", 8, "endpoint partitions")
	f.IntVar(&o.replicas, "replicas", 1, "stream replicas (3 on a cluster of three NATS servers)")
	f.DurationVar(&o.probes, "probes", 2*time.Second, "interval between alert-latency probes")
	f.StringVar(&o.dir, "dir", "", "working directory (logs, store; default a temporary one)")
	f.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	f.BoolVar(&o.keep, "keep", false, "keep the runs' streams and state on the bus")
	f.BoolVar(&o.profile, "profile", false, "write a CPU profile of every process into its run's directory")
	bench.AddCommand(cmd)
	root.AddCommand(bench)
}

func runBenchCluster(ctx context.Context, o benchOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	dir := o.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "palisade-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	lines, err := benchCapture(o.records)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: %d records (simulated, with attacks), batches of %d, %d in flight\n", len(lines), o.batch, o.concurrency)
	var results []BenchResult
	for _, w := range o.workers {
		r, err := benchRun(ctx, exe, filepath.Join(dir, fmt.Sprintf("w%d", w)), o, w, lines)
		if err != nil {
			return fmt.Errorf("bench with %d workers: %w", w, err)
		}
		results = append(results, r)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workers\tpartitions\trecords\tingest rec/s\tend-to-end rec/s\tlag max\tlag mean\talert p50 s\talert max s\tprobes seen\t429/503\tingest rec/CPU-s\tanalysis rec/CPU-s\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.0f\t%.0f\t%d\t%.0f\t%.2f\t%.2f\t%d/%d\t%d\t%.0f\t%.0f\t\n", r.Workers, r.Partitions, r.Records, r.IngestPerSec, r.EndToEndPerSec,
			r.LagMax, r.LagMean, r.AlertLatencyP50, r.AlertLatencyMax, r.ProbesSeen, r.Probes, r.Rejected429, r.IngestPerCPU, r.AnalyzePerCPU)
	}
	tw.Flush()
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(results, "", "  ")
		return os.WriteFile(o.jsonOut, append(b, '\n'), 0o644)
	}
	return nil
}

// probePayloads are SQL injections the probes send (%d: the probe's number,
// so that no two are alike).
var probePayloads = []string{
	"1' UNION SELECT username,password FROM users WHERE id=%d--",
	"%d' OR '1'='1' --",
	"%d; DROP TABLE orders; --",
	"x' AND 1=(SELECT COUNT(*) FROM accounts WHERE id=%d)--",
	"%d' UNION ALL SELECT NULL,table_name FROM information_schema.tables--",
}

// benchCapture simulates at least n records (48 h, scaled).
func benchCapture(n int) ([][]byte, error) {
	cfg := sim.DefaultConfig()
	cfg.Scale = max(0.05, float64(n)/111000)
	var lines [][]byte
	_, err := sim.Generate(cfg, func(r *exchange.Record) error {
		if len(lines) >= n {
			return nil
		}
		b, err := exchange.MarshalRecord(r)
		lines = append(lines, b)
		return err
	})
	return lines, err
}

func benchRun(ctx context.Context, exe, dir string, o benchOptions, workers int, lines [][]byte) (BenchResult, error) {
	res := BenchResult{Workers: workers, Partitions: o.partitions, Records: len(lines)}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, err
	}
	prefix := fmt.Sprintf("bench%d-%d", time.Now().UnixNano()%1_000_000, workers)
	storeSpec := "sqlite://" + filepath.Join(dir, "store.db")
	token := func(role string) (string, error) {
		var out bytes.Buffer
		c := exec.Command(exe, "token", "create", "--store", storeSpec, "--role", role)
		c.Stdout = &out
		if err := c.Run(); err != nil {
			return "", fmt.Errorf("token create: %w", err)
		}
		return strings.TrimSpace(out.String()), nil
	}
	common := []string{"serve", "--bus", o.bus, "--store", storeSpec, "--listen", "127.0.0.1:0",
		"--cluster", "prefix=" + prefix, "--cluster", "partitions=" + strconv.Itoa(o.partitions), "--cluster", "replicas=" + strconv.Itoa(o.replicas),
		"--cluster", "report_interval=500ms", "--cluster", "idle=5s", "--cluster", "max_lag=1000000000"}
	var kids []*child
	defer func() {
		for _, k := range kids {
			k.stop()
		}
		if !o.keep {
			if b, err := bus.Connect(context.Background(), bus.Options{URLs: splitList([]string{o.bus}), Prefix: prefix}); err == nil {
				_ = b.Destroy(context.Background())
				b.Close()
			}
		}
	}()
	serve := func(name, roles string) (*child, error) {
		args := append(append([]string(nil), common...), "--roles", roles, "--data", filepath.Join(dir, name))
		if o.profile {
			args = append(args, "--cpuprofile", filepath.Join(dir, name+".cpu"))
		}
		k, err := startChild(dir, name, exe, args...)
		if err == nil {
			kids = append(kids, k)
		}
		return k, err
	}
	// The API process first: it creates the store (token create needs
	// an existing one).
	api, err := serve("api", "api")
	if err != nil {
		return res, err
	}
	apiURL, err := api.waitURL(2 * time.Minute)
	if err != nil {
		return res, err
	}
	ingestTok, err := token("ingest")
	if err != nil {
		return res, err
	}
	adminTok, err := token("admin")
	if err != nil {
		return res, err
	}
	ing, err := serve("ingest", "ingest")
	if err != nil {
		return res, err
	}
	var ws []apiClient
	var wk []*child
	for i := 0; i < workers; i++ {
		k, err := serve(fmt.Sprintf("worker%d", i+1), "analyze")
		if err != nil {
			return res, err
		}
		wk = append(wk, k)
	}
	ingURL, err := ing.waitURL(2 * time.Minute)
	if err != nil {
		return res, err
	}
	for _, k := range wk {
		u, err := k.waitURL(2 * time.Minute)
		if err != nil {
			return res, err
		}
		ws = append(ws, apiClient{u, adminTok})
	}
	apiC, ingC, ingM := apiClient{apiURL, adminTok}, apiClient{ingURL, ingestTok}, apiClient{ingURL, adminTok}
	// Every partition owned before the clock starts.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		n := 0.0
		for _, w := range ws {
			n += max(0, w.metric("palisade_cluster_partitions_owned"))
		}
		if int(n) == o.partitions+1 {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("the workers own %v of %d partitions after a minute", n, o.partitions+1)
		}
	}

	var batches [][]byte
	var times []time.Time // newest event time per batch
	for i := 0; i < len(lines); i += o.batch {
		part := lines[i:min(i+o.batch, len(lines))]
		batches = append(batches, append(bytes.Join(part, []byte("\n")), '\n'))
		r, _ := exchange.DecodeRecord(part[len(part)-1])
		times = append(times, r.Time)
	}
	var posted atomic.Int64 // batches done
	var busy atomic.Int64
	post := func(body []byte, key string) error {
		for attempt := 0; ; attempt++ {
			_, retry, err := ingC.postIngest(body, key)
			if err == nil {
				return nil
			}
			if retry == 0 || attempt > 120 {
				return err
			}
			busy.Add(1)
			time.Sleep(retry)
		}
	}
	start := time.Now()
	// Lag sampler.
	stopLag := make(chan struct{})
	var lagWG sync.WaitGroup
	var lagSum float64
	var lagN int
	lagWG.Add(1)
	go func() {
		defer lagWG.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopLag:
				return
			case <-t.C:
			}
			if v := ingM.metric("palisade_cluster_lag_records"); v >= 0 {
				res.LagMax = max(res.LagMax, int64(v))
				lagSum += v
				lagN++
			}
		}
	}()
	// Alert-latency probes: an SQL injection from a fresh address, dated
	// like the newest batch posted.
	type probe struct {
		ip   string
		sent time.Time
		seen time.Duration
	}
	var probes []*probe
	var probeMu sync.Mutex
	stopProbes := make(chan struct{})
	var probeWG sync.WaitGroup
	probeWG.Add(1)
	go func() {
		defer probeWG.Done()
		for i := 1; ; i++ {
			select {
			case <-stopProbes:
				return
			case <-time.After(o.probes):
			}
			b := max(0, int(posted.Load())-1)
			p := &probe{ip: fmt.Sprintf("198.18.%d.%d", i/250, i%250+1)}
			rec := fmt.Sprintf(`{"time":%q,"client":{"ip":%q},"request":{"method":"GET","url":"https://api.shop.example.test/v1/products?q=%s","headers":{"user-agent":"Mozilla/5.0"}},"response":{"status":200,"headers":{"content-type":"application/json"},"body":"[]"}}`+"\n",
				times[b].Format(time.RFC3339Nano), p.ip, url.QueryEscape(fmt.Sprintf(probePayloads[i%len(probePayloads)], i)))
			p.sent = time.Now()
			if post([]byte(rec), "probe-"+prefix+"-"+strconv.Itoa(i)) == nil {
				probeMu.Lock()
				probes = append(probes, p)
				probeMu.Unlock()
			}
		}
	}()
	// Probe watcher.
	stopWatch := make(chan struct{})
	var watchWG sync.WaitGroup
	watchWG.Add(1)
	go func() {
		defer watchWG.Done()
		for {
			select {
			case <-stopWatch:
				return
			case <-time.After(200 * time.Millisecond):
			}
			probeMu.Lock()
			pending := []*probe{}
			for _, p := range probes {
				if p.seen == 0 {
					pending = append(pending, p)
				}
			}
			probeMu.Unlock()
			for _, p := range pending {
				var page struct {
					Items []json.RawMessage `json:"items"`
				}
				if apiC.getJSON("/api/v1/alerts?type=injection.sqli&client_ip="+url.QueryEscape(p.ip), &page) == nil && len(page.Items) > 0 {
					probeMu.Lock()
					p.seen = time.Since(p.sent)
					probeMu.Unlock()
				}
			}
		}
	}()

	// The load.
	work := make(chan int)
	errc := make(chan error, o.concurrency)
	var wg sync.WaitGroup
	for c := 0; c < o.concurrency; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := post(batches[i], prefix+"-"+strconv.Itoa(i)); err != nil {
					errc <- err
					return
				}
				posted.Add(1)
			}
		}()
	}
	for i := range batches {
		select {
		case work <- i:
		case err := <-errc:
			close(work)
			return res, err
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errc:
		return res, err
	default:
	}
	close(stopProbes) // probes measure the latency under load
	ingestDone := time.Since(start)
	res.IngestSeconds = ingestDone.Seconds()
	res.IngestPerSec = float64(len(lines)) / ingestDone.Seconds()
	// End to end: every record (and the probes) analyzed and merged.
	for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var ov struct {
			Records int64 `json:"records_processed"`
		}
		if apiC.getJSON("/api/v1/overview", &ov) == nil && ov.Records >= int64(len(lines)) {
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("the store counts fewer than %d records after 10 minutes", len(lines))
		}
	}
	e2e := time.Since(start)
	res.EndToEndSeconds = e2e.Seconds()
	res.EndToEndPerSec = float64(len(lines)) / e2e.Seconds()
	// Let the last probes through (the partitions' idle flush releases
	// what the reorder window holds).
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		probeMu.Lock()
		left := 0
		for _, p := range probes {
			if p.seen == 0 {
				left++
			}
		}
		probeMu.Unlock()
		if left == 0 {
			break
		}
	}
	close(stopLag)
	close(stopWatch)
	probeWG.Wait()
	watchWG.Wait()
	lagWG.Wait()
	if lagN > 0 {
		res.LagMean = lagSum / float64(lagN)
	}
	var lat []float64
	for _, p := range probes {
		res.Probes++
		if p.seen > 0 {
			res.ProbesSeen++
			lat = append(lat, p.seen.Seconds())
		}
	}
	sort.Float64s(lat)
	if len(lat) > 0 {
		res.AlertLatencyP50, res.AlertLatencyMax = lat[len(lat)/2], lat[len(lat)-1]
	}
	res.Rejected429 = busy.Load()
	res.IngestCPU = ingM.metric("process_cpu_seconds_total")
	res.APICPU = apiC.metric("process_cpu_seconds_total")
	for _, w := range ws {
		res.WorkersCPU += w.metric("process_cpu_seconds_total")
	}
	if res.IngestCPU > 0 {
		res.IngestPerCPU = float64(len(lines)) / res.IngestCPU
	}
	if res.WorkersCPU > 0 {
		res.AnalyzePerCPU = float64(len(lines)) / res.WorkersCPU
	}
	fmt.Fprintf(os.Stderr, "bench: %d workers done (logs in %s)\n", workers, dir)
	return res, nil
}
