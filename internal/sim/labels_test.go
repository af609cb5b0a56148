package sim

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/testutil"
)

// TestLabelsGolden pins the labels of a small 48 h run: any change to a
// scenario (timing, addresses, record counts) shows up as a diff.
func TestLabelsGolden(t *testing.T) {
	lab, err := Generate(Config{Seed: 1, Duration: 48 * time.Hour, Scale: 0.1, Attacks: true, Traps: true}, func(*exchange.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := lab.WriteJSON(&got); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "labels-seed1-scale0.1.golden.json")
	testutil.Golden(t, path, got.Bytes())
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The golden document reads back to the same labels.
	back, err := ReadLabels(bytes.NewReader(want), path)
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := back.WriteJSON(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), want) {
		t.Errorf("labels do not survive a read/write round trip")
	}
}

func TestReadLabelsErrors(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"empty", "", "empty labels document"},
		{"syntax", "{\n\"seed\": 1,\n\"scenarios\": [\n{\"name\": \"x\",,}]}", "labels.json:4: malformed JSON"},
		{"wrong type", "{\n\"seed\": \"one\"}", `labels.json:2: field seed: wrong type`},
		{"no name", `{"scenarios":[{"subject":"client","alert_type":"auth.brute_force"}]}`, `scenarios[0] (""): field name: missing`},
		{"bad subject", `{"scenarios":[{"name":"a","subject":"user","alert_type":"auth.brute_force"}]}`, `field subject: must be client, identity or endpoint, got "user"`},
		{"trap with type", `{"scenarios":[{"name":"a","subject":"client","trap":true,"alert_type":"auth.brute_force"}]}`, "field alert_type: a trap has no alert type"},
		{"attack without type", `{"scenarios":[{"name":"a","subject":"client"}]}`, "field alert_type: missing"},
		{"end before start", `{"scenarios":[{"name":"a","subject":"client","alert_type":"x","start":"2026-11-16T02:00:00Z","end":"2026-11-16T01:00:00Z"}]}`, "field end: before start"},
		{"bad ip", `{"scenarios":[{"name":"a","subject":"client","alert_type":"x","client_ips":["1.2.3.4","nope"]}]}`, `field client_ips[1]: not an IP address: "nope"`},
		{"bad intel", `{"scenarios":[],"intel":{"tor":["1.2.3"]}}`, `intel entry 0: not an address or CIDR`},
		{"trailing", "{}\n{}", "labels.json:2: trailing data"},
	}
	for _, c := range cases {
		_, err := ReadLabels(strings.NewReader(c.doc), "labels.json")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Seed: 2, Duration: 3 * time.Hour, Scale: 0.1, Attacks: true, Traps: true}
	out := Output{Records: filepath.Join(dir, "traffic.ndjson.gz"), Labels: filepath.Join(dir, "labels.json"), IntelDir: filepath.Join(dir, "intel")}
	lab, err := WriteFiles(cfg, out)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out.Records)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec, err := exchange.NewDecoder(out.Records, f)
	if err != nil {
		t.Fatal(err)
	}
	if !dec.Gzip() {
		t.Errorf("%s is not gzip", out.Records)
	}
	var n int64
	for {
		_, err := dec.Next()
		if err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatalf("record %d: %v", n+1, err)
		}
		n++
	}
	if n != lab.Records || n == 0 {
		t.Errorf("file holds %d records, labels say %d", n, lab.Records)
	}
	lf, err := os.Open(out.Labels)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if back, err := ReadLabels(lf, out.Labels); err != nil || back.Records != lab.Records {
		t.Errorf("labels file: %v (%+v)", err, back)
	}
	tor, err := os.ReadFile(filepath.Join(out.IntelDir, "tor-exit-nodes.txt"))
	if err != nil || !strings.Contains(string(tor), "185.220.101.33\n") {
		t.Errorf("tor feed: %v %q", err, tor)
	}
	bl, err := os.ReadFile(filepath.Join(out.IntelDir, "blocklist.txt"))
	if err != nil || !strings.Contains(string(bl), "45.155.205.91\t") {
		t.Errorf("blocklist: %v %q", err, bl)
	}
	// Plain NDJSON to a writer.
	var buf bytes.Buffer
	if _, err := WriteFiles(Config{Seed: 2, Duration: 10 * time.Minute, Scale: 0.1}, Output{Records: "-", Stdout: &buf}); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte(`{"time":"2026-11-16T00:00:00Z"`)) {
		t.Errorf("stdout output starts with %q", buf.String()[:min(buf.Len(), 80)])
	}
}

func FuzzReadLabels(f *testing.F) {
	f.Add([]byte(`{"seed":1,"scenarios":[{"name":"a","subject":"client","alert_type":"auth.brute_force","client_ips":["203.0.113.5"]}],"intel":{"tor":["185.220.101.1"]}}`))
	f.Add([]byte(`{"scenarios":[{"name":"t","trap":true,"trap_for":["x"],"subject":"endpoint","start":"2026-11-16T00:00:00Z","end":"2026-11-16T01:00:00Z"}]}`))
	f.Add([]byte("{\n\"seed\":"))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ReadLabels(bytes.NewReader(data), "fuzz.json")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.json") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		var b bytes.Buffer
		if err := l.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadLabels(&b, "again.json"); err != nil {
			t.Fatalf("accepted labels do not read back: %v", err)
		}
	})
}

// FuzzGenerate runs short simulations with arbitrary seeds, starts and
// sizes: records stay valid and ordered (apart from the documented lag).
func FuzzGenerate(f *testing.F) {
	f.Add(int64(1), uint16(60), uint8(10), int64(0), true)
	f.Add(int64(-5), uint16(1), uint8(1), int64(86399), false)
	f.Add(int64(42), uint16(180), uint8(30), int64(3600*7), true)
	f.Fuzz(func(t *testing.T, seed int64, minutes uint16, scale uint8, startOff int64, attacks bool) {
		cfg := Config{Seed: seed, Duration: time.Duration(1+minutes%240) * time.Minute, Scale: 0.01 + float64(scale%40)/100,
			Start: DefaultStart.Add(time.Duration(startOff%(7*86400)) * time.Second), Attacks: attacks, Traps: true}
		var maxT time.Time
		_, err := Generate(cfg, func(r *exchange.Record) error {
			b, err := exchange.MarshalRecord(r)
			if err != nil {
				return err
			}
			if _, err := exchange.DecodeRecord(b); err != nil {
				t.Fatalf("invalid record: %v: %s", err, b)
			}
			if r.Time.Before(maxT) && (r.Source != BatchSource || maxT.Sub(r.Time) > MaxDisorder) {
				t.Fatalf("record at %s from %s after %s", r.Time, r.Source, maxT)
			}
			if r.Source != BatchSource && r.Time.After(maxT) {
				maxT = r.Time
			}
			if r.Time.Before(cfg.Start.UTC()) || !r.Time.Before(cfg.Start.Add(cfg.Duration+MaxDisorder)) {
				t.Fatalf("record at %s outside the window", r.Time)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// BenchmarkGenerate measures generation of about 500k records (48 h at
// scale 5.7), without encoding.
func BenchmarkGenerate(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Scale = 5.7
	var n int64
	for b.Loop() {
		n = 0
		if _, err := Generate(cfg, func(*exchange.Record) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n), "records/op")
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkGenerateNDJSON includes encoding each record as a JSON line.
func BenchmarkGenerateNDJSON(b *testing.B) {
	cfg := DefaultConfig()
	var n int64
	var bytesOut int64
	for b.Loop() {
		n, bytesOut = 0, 0
		if _, err := Generate(cfg, func(r *exchange.Record) error {
			buf, err := exchange.MarshalRecord(r)
			n++
			bytesOut += int64(len(buf)) + 1
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n), "records/op")
	b.ReportMetric(float64(bytesOut)/float64(n), "bytes/record")
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// TestReadmeCounts: the README states how many labelled attacks and benign
// traps the simulator produces; it must say what the simulator does.
func TestReadmeCounts(t *testing.T) {
	path := filepath.Join("testdata", "labels-seed1-scale0.1.golden.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lab, err := ReadLabels(bytes.NewReader(b), path)
	if err != nil {
		t.Fatal(err)
	}
	attacks, traps := 0, 0
	for _, s := range lab.Scenarios {
		if s.Trap {
			traps++
		} else {
			attacks++
		}
	}
	readme, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d labelled attacks, %d benign traps", attacks, traps)
	if !strings.Contains(string(readme), want) {
		t.Errorf("README.md should say %q (the simulator's labels)", want)
	}
}
