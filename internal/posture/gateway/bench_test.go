package gateway

import (
	"fmt"

	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/testutil"
)

// BenchmarkAuditFixtures: configurations audited per second (read, detect,
// normalize, every static rule) over the rule fixtures of every format.
func BenchmarkAuditFixtures(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join("testdata", "rules", "*", "*"))
	type in struct {
		name string
		data []byte
	}
	var ins []in
	for _, f := range files {
		d, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		ins = append(ins, in{f, d})
	}
	b.ResetTimer()
	c0 := testutil.ProcessCPU()
	n := 0
	for i := 0; i < b.N; i++ {
		for _, x := range ins {
			cfg, err := Parse(x.name, x.data, "")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := Audit(cfg, Options{}); err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "configs/s")
	b.ReportMetric(float64(n)/(testutil.ProcessCPU()-c0).Seconds(), "configs/cpu-s")
}

// writeNGINXTree writes an NGINX tree: nginx.conf including sites/*.conf
// (sites files), each site including snippets (a shared security snippet
// and its own locations file).
func writeNGINXTree(tb testing.TB, dir string, sites, locations int) int {
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "sites"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "snippets"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "locations"), 0o755))
	files := 1
	must(os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(`worker_processes auto;
events { worker_connections 1024; }
http {
    log_format palisade escape=json '{"msec":"$msec","host":"$host","request_uri":"$request_uri","status":"$status"}';
    access_log /var/log/nginx/palisade.log palisade;
    limit_req_zone $binary_remote_addr zone=api:10m rate=10r/s;
    include snippets/upstreams.conf;
    include sites/*.conf;
}
`), 0o644))
	var up strings.Builder
	for s := 0; s < sites; s++ {
		fmt.Fprintf(&up, "upstream app%d {\n    server 10.0.%d.%d:8080;\n    server 10.0.%d.%d:8080 backup;\n}\n", s, s/250, s%250+1, s/250, s%250+2)
	}
	must(os.WriteFile(filepath.Join(dir, "snippets", "upstreams.conf"), []byte(up.String()), 0o644))
	must(os.WriteFile(filepath.Join(dir, "snippets", "security.conf"), []byte(`add_header Strict-Transport-Security "max-age=31536000" always;
add_header X-Content-Type-Options nosniff always;
client_max_body_size 2m;
`), 0o644))
	files += 2
	for s := 0; s < sites; s++ {
		var loc strings.Builder
		for l := 0; l < locations; l++ {
			auth := "auth_request /_auth;"
			if l%7 == 0 {
				auth = ""
			}
			fmt.Fprintf(&loc, "location /v%d/resource%d/ {\n    %s\n    limit_req zone=api burst=20;\n    proxy_set_header Host $host;\n    proxy_pass http://app%d;\n}\n", 1+l%3, l/3, auth, s)
		}
		must(os.WriteFile(filepath.Join(dir, "locations", fmt.Sprintf("site%d.conf", s)), []byte(loc.String()), 0o644))
		must(os.WriteFile(filepath.Join(dir, "sites", fmt.Sprintf("site%d.conf", s)), []byte(fmt.Sprintf(`server {
    listen 443 ssl;
    server_name site%d.example.com;
    ssl_certificate /etc/nginx/tls/site%d.crt;
    ssl_certificate_key /etc/nginx/tls/site%d.key;
    include snippets/security.conf;
    include locations/site%d.conf;
    location = /_auth { internal; proxy_pass https://auth.internal/verify; }
}
`, s, s, s, s)), 0o644))
		files += 2
	}
	return files
}

// BenchmarkNGINXTree audits a generated NGINX tree of 300 sites (901 files:
// every site includes a shared snippet and its own 20 locations).
func BenchmarkNGINXTree(b *testing.B) {
	dir := b.TempDir()
	files := writeNGINXTree(b, dir, 300, 20)
	b.ResetTimer()
	c0 := testutil.ProcessCPU()
	var cfg *Config
	for i := 0; i < b.N; i++ {
		var err error
		cfg, err = Load(filepath.Join(dir, "nginx.conf"), "")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Audit(cfg, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(testutil.ProcessCPU()-c0)/float64(b.N)/1e6, "cpu-ms/op")
	if len(cfg.Files) != files || len(cfg.Routes) != 300*20 {
		b.Fatalf("read %d files (want %d) and %d routes", len(cfg.Files), files, len(cfg.Routes))
	}
	b.ReportMetric(float64(files), "files")
	b.ReportMetric(float64(len(cfg.Routes)), "routes")
}

// TestNGINXTree checks the generated tree is read whole (includes, shared
// snippets included 300 times, positions in the included files).
func TestNGINXTree(t *testing.T) {
	dir := t.TempDir()
	files := writeNGINXTree(t, dir, 12, 7)
	cfg, err := Load(filepath.Join(dir, "nginx.conf"), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Files) != files || len(cfg.Routes) != 12*7 {
		t.Fatalf("read %d files (want %d) and %d routes (want %d)", len(cfg.Files), files, len(cfg.Routes), 12*7)
	}
	fs, err := Audit(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, f := range fs {
		count[f.Rule]++
		checkLocated(t, f.Location.File, f.Location.Line, f.Location.Column)
		if f.Rule == "PAL-G001" && !strings.Contains(f.Location.File, "locations") {
			t.Errorf("G001 located in %s, want the included locations file", f.Location.File)
		}
	}
	// Every 7th location has no auth_request; backends are plain HTTP
	// (one finding per upstream server... per route location).
	if count["PAL-G001"] != 12 {
		t.Errorf("G001 = %d, want 12", count["PAL-G001"])
	}
	if count["PAL-G009"] == 0 {
		t.Error("v1 next to v2/v3: G009 expected")
	}
	if count["PAL-G012"] != 0 || count["PAL-G005"] != 0 || count["PAL-G010"] != 0 {
		t.Errorf("included snippets not applied: %v", count)
	}
}
