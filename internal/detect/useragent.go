package detect

import (
	"strings"

	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/model"
)

// The user-agent family: intel.suspicious_user_agent when the User-Agent
// names an attack tool (scanners, fuzzers, exploitation frameworks) or
// carries an exploit (JNDI lookups, shellshock, script injection, SQL, OAST
// call-back domains). Ordinary HTTP clients (curl, wget, python-requests,
// Go-http-client, Postman, okhttp…) and search-engine or monitoring bots are
// NOT attacks: ClassifyUserAgent tells them apart ("client", "bot") so that
// reports can show them, but they raise no alert.
//
// One hit per request; the emitter folds repeats per client. No state.
func init() {
	Register("useragent", func(c Config) Detector { return NewUserAgent(c) })
}

// UserAgent is the suspicious user-agent detector. Verdicts are cached per
// distinct user agent (at most uaCacheSize entries; the cache is emptied
// when full, so memory stays bounded and results do not depend on it).
type UserAgent struct {
	cache map[string]UAVerdict
}

const uaCacheSize = 4096

// NewUserAgent returns the detector.
func NewUserAgent(Config) *UserAgent { return &UserAgent{cache: map[string]UAVerdict{}} }

// Name implements Detector.
func (d *UserAgent) Name() string { return "useragent" }

// UA classes.
const (
	UAAttack  = "attack"  // attack tool or exploit
	UABot     = "bot"     // crawler, search engine, monitoring or preview bot
	UAClient  = "client"  // programmatic HTTP client or library
	UABrowser = "browser" // looks like a browser
	UAEmpty   = "empty"
	UAOther   = "other"
)

// UAVerdict is the classification of a user agent.
type UAVerdict struct {
	Class      string
	Reason     string // the tool or exploit found (attack), or the bot/client token
	Confidence float64
	Start, End int
}

// attack tools: lower-case tokens matched as words (a token followed or
// preceded by a letter does not count, so "vegan" is not "vega").
var uaTools = []string{
	"sqlmap", "nikto", "nuclei", "masscan", "zgrab", "nmap", "acunetix", "netsparker", "invicti", "wpscan", "dirbuster", "dirb", "gobuster",
	"feroxbuster", "ffuf", "fuzz faster", "wfuzz", "hydra", "openvas", "nessus", "w3af", "arachni", "skipfish", "havij", "commix",
	"joomscan", "droopescan", "cmsmap", "whatweb", "whatwaf", "fimap", "jbrofuzz", "libwhisker", "morfeus", "zmeu", "jorgee", "webshag",
	"webbandit", "wapiti", "vega", "appspider", "ironwasp", "qualysguard", "n-stalker", "sqlninja", "xsstrike", "xsser", "ghauri",
	"tplmap", "sstimap", "dotdotpwn", "lfisuite", "lfimap", "kadimus", "panoptic", "graphw00f", "graphql-cop", "jsql", "noseyparker",
	"trufflehog", "nettacker", "bewica-security-scan", "sysscan", "tsunamisecurityscanner", "detectify", "hexometer", "betabot",
	"securityagent", "sitelockspider", "netlab360", "l9explore", "l9tcpid", "wprecon", "wpprobe", "tinja", "shortscan", "appscan",
	"yeswehack", "bfac", "burpcollaborator", "interactsh", "zaproxy", "owasp zap", "metasploit", "msfconsole", "httprint", "paros",
	"webinspect", "grendel-scan", "brutus", "crowdstrike falcon sandbox", "nuclei-scanner", "xray", "dalfox", "katana", "jaeles",
	"nimbostratus", "zgrab2", "censysinspect", "internet-measurement", "expanseinc", "masscan-ng", "log4shell", "struts-pwn",
}

// exploit fragments in a user agent.
var uaExploits = []struct{ tok, why string }{
	{"${jndi:", "JNDI lookup (Log4Shell)"}, {"${${", "nested lookup (Log4Shell evasion)"}, {"${lower:", "Log4j lookup"}, {"${env:", "Log4j lookup"},
	{"${::-", "Log4j lookup"}, {"() {", "shellshock"}, {"(){", "shellshock"}, {"<script", "script tag"}, {"javascript:", "javascript URL"},
	{"<?php", "PHP code"}, {"${@", "PHP/expression injection"}, {"%{(", "OGNL expression"}, {"#{", "expression injection"},
	{".burpcollaborator.net", "OAST call-back domain"}, {".oastify.com", "OAST call-back domain"}, {".interact.sh", "OAST call-back domain"},
	{".oast.", "OAST call-back domain"}, {".dnslog.cn", "OAST call-back domain"}, {".ceye.io", "OAST call-back domain"},
	{"/etc/passwd", "file path"}, {"../..", "path traversal"}, {"union select", "SQL"}, {"sleep(", "SQL time delay"}, {"waitfor delay", "SQL time delay"},
	{"' or '", "SQL"}, {"' or 1", "SQL"}, {"\" or \"", "SQL"}, {"onerror=", "event handler"}, {"onload=", "event handler"},
	{"$(", "command substitution"}, {"`", "command substitution"}, {"|id", "command"}, {";id", "command"}, {"/bin/sh", "shell"}, {"/bin/bash", "shell"},
	{"wget http", "downloader"}, {"curl http", "downloader"}, {"{{", "template expression"},
}

var uaClients = []string{"curl/", "wget/", "python-requests", "python-urllib", "python-httpx", "aiohttp", "go-http-client", "okhttp", "postmanruntime",
	"insomnia", "httpie", "axios/", "node-fetch", "undici", "got ", "java/", "apache-httpclient", "jersey", "restsharp", "guzzlehttp", "ruby",
	"faraday", "libcurl", "powershell", "winhttp", "reqwest", "dart:io", "cfnetwork", "alamofire", "grpc-", "unirest", "http.rb", "mechanize",
	"lwp::", "libwww-perl", "php/", "symfony", "dotnet", ".net", "k6/", "vegeta", "hey/", "wrk", "locust", "jmeter", "gatling", "kube-probe", "elb-healthchecker",
	"prometheus", "datadog", "newrelic", "pingdom", "uptimerobot", "statuscake", "site24x7", "amazon cloudfront", "aws-sdk", "botocore", "google-api", "azure"}

var uaBots = []string{"bot", "crawler", "spider", "slurp", "crawl", "archiver", "facebookexternalhit", "facebot", "preview", "fetcher", "bingpreview",
	"mediapartners", "adsbot", "feedfetcher", "feedburner", "ia_archiver", "yandex", "baidu", "duckduck", "sogou", "exabot", "seznam", "qwant",
	"petalsearch", "applebot", "semrush", "ahrefs", "mj12", "dotbot", "bytespider", "gptbot", "claude", "ccbot", "scrapy", "headlesschrome",
	"phantomjs", "linkcheck", "validator", "lighthouse", "scraper", "fetch", "checker", "uptime", "indexer", "favicon", "feed", "podcast", "audit", "archive", "healthcheck", "synthetic", "preview", "unfurl", "proxy", "capture", "screenshot", "pagespeed", "whatsapp", "telegram", "slack", "discord", "skype", "embedly", "outbrain",
	"pinterest", "tumblr", "vkshare", "w3c_", "rss", "reader", "monitor", "check_http", "nagios", "zabbix", "zgrab-bot"}

// wordAt reports whether tok occurs in s as a token: not glued to a letter
// on either side.
func wordAt(s, tok string) int {
	for off := 0; ; {
		i := strings.Index(s[off:], tok)
		if i < 0 {
			return -1
		}
		i += off
		j := i + len(tok)
		left := i == 0 || !isLetter(s[i-1])
		right := j >= len(s) || !isLetter(s[j]) || tok[len(tok)-1] == ' ' || tok[len(tok)-1] == '/'
		if left && right {
			return i
		}
		off = i + 1
	}
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// ClassifyUserAgent classifies a User-Agent value.
func ClassifyUserAgent(ua string) UAVerdict {
	t := strings.TrimSpace(ua)
	if t == "" || t == "-" {
		return UAVerdict{Class: UAEmpty}
	}
	l := asciiLower(t)
	for _, e := range uaExploits {
		if i := strings.Index(l, e.tok); i >= 0 {
			if e.tok == "`" && strings.Count(l, "`") < 2 || e.tok == "{{" && !strings.Contains(l[i:], "}}") {
				continue
			}
			return UAVerdict{Class: UAAttack, Reason: e.why, Confidence: 0.9, Start: i, End: min(len(t), i+80)}
		}
	}
	// Structural exploit check with the injection matchers (user agents are
	// ';'-separated token lists, so PartUserAgent turns off the
	// "metacharacter + command word" rule).
	dec := DecodeLayers(t).Text
	for _, m := range MatchInjection(PartUserAgent, dec) {
		if m.Confidence >= 0.75 && m.Class != ClassPathTraversal {
			if dec != t { // offsets refer to the decoded text
				m.Start, m.End = 0, min(len(t), 80)
			}
			return UAVerdict{Class: UAAttack, Reason: m.Class.String() + " payload (" + m.Reason + ")", Confidence: m.Confidence, Start: m.Start, End: m.End}
		}
	}
	for _, tool := range uaTools {
		if i := wordAt(l, tool); i >= 0 {
			return UAVerdict{Class: UAAttack, Reason: "attack tool " + tool, Confidence: 0.9, Start: i, End: min(len(t), i+len(tool)+20)}
		}
	}
	// Forged browser tokens: "Mozlila", "Mozilla/5.g", "Mozilla/4.0 (Hydra)".
	if strings.HasPrefix(l, "moz") {
		if !strings.HasPrefix(l, "mozilla/") {
			return UAVerdict{Class: UAAttack, Reason: "misspelled Mozilla token", Confidence: 0.7, Start: 0, End: min(len(t), 40)}
		}
		v := l[len("mozilla/"):]
		if len(v) < 3 || v[0] < '0' || v[0] > '9' || v[1] != '.' || v[2] < '0' || v[2] > '9' {
			return UAVerdict{Class: UAAttack, Reason: "malformed Mozilla version", Confidence: 0.7, Start: 0, End: min(len(t), 40)}
		}
	}
	for _, b := range uaBots {
		if strings.Contains(l, b) {
			return UAVerdict{Class: UABot, Reason: b, Confidence: 0.8}
		}
	}
	// Self-identifying automation: a product token with a contact URL or
	// address ("Foo/1.0 (+https://foo.example)", "compatible; Bar/2; +http…").
	if strings.Contains(l, "+http") || strings.Contains(l, "(http") || strings.Contains(l, "; http") || strings.Contains(l, "compatible;") && (strings.Contains(l, "http://") || strings.Contains(l, "https://")) && !strings.Contains(l, "msie") {
		return UAVerdict{Class: UABot, Reason: "self-identified agent with contact URL", Confidence: 0.6}
	}
	for _, c := range uaClients {
		if strings.Contains(l, c) {
			return UAVerdict{Class: UAClient, Reason: strings.TrimRight(c, "/ "), Confidence: 0.8}
		}
	}
	if strings.HasPrefix(l, "mozilla/") || strings.HasPrefix(l, "opera/") {
		return UAVerdict{Class: UABrowser, Confidence: 0.6}
	}
	return UAVerdict{Class: UAOther}
}

// Observe implements Detector.
func (d *UserAgent) Observe(ev *event.Event, out *Emitter) {
	if ev.Outbound || ev.UserAgent == "" {
		return
	}
	v, ok := d.cache[ev.UserAgent]
	if !ok {
		v = ClassifyUserAgent(ev.UserAgent)
		if len(d.cache) >= uaCacheSize {
			clear(d.cache)
		}
		if len(ev.UserAgent) <= 512 {
			d.cache[strings.Clone(ev.UserAgent)] = v // not a view of the record
		}
	}
	if v.Class != UAAttack {
		return
	}
	ep := ev.Endpoint
	frag := Fragment(ev.UserAgent, v.Start, v.End)
	out.Emit(Hit{Type: alert.IntelSuspiciousUserAgent, Time: ev.Time, Confidence: v.Confidence, Client: sigClient(ev), Identity: sigIdentity(ev), Endpoint: &ep,
		Evidence: model.Evidence{Observed: v.Confidence, Reason: v.Reason + " in User-Agent",
			Details: map[string]any{"location": "header:user-agent", "match": v.Reason, "fragment": frag}},
		Sample: sigSample(ev, "user-agent: "+frag),
	})
}
