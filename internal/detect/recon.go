package detect

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"

	"github.com/palisade-sec/palisade/internal/classify/ac"
)

// Sensitive-file and admin-path probing: the vocabulary behind the
// population-free reconnaissance evidence of the spray family.
//
// A path is a probe of one class when, ASCII case-insensitively:
//
//   - it contains an entry of the OWASP Core Rule Set's restricted-files
//     list (rules/@owasp_crs/restricted-files.data of the
//     coraza-coreruleset module, Apache-2.0: .env, .git/, .htpasswd,
//     wp-config., config.*.php, secrets.yml, .aws/, …), classed by what
//     the entry names (vcs, env, credentials, config, dump, log, system,
//     dotfile);
//   - a segment is a VCS directory (.git, .svn, .hg, .bzr, CVS, _darcs),
//     or another dotfile or dot-directory (not .well-known);
//   - the file name ends like an editor or backup copy (.bak, .old,
//     .orig, .save, .sav, .swp, .swo, .tmp, .backup, .bck, .bkp, .copy,
//     .dist, ~) or a database dump (.sql, .dump, .db, .sqlite, .sqlite3,
//     .mdb), or it is an archive (.zip, .tar, .tar.gz, .tgz, .gz, .7z,
//     .rar, .bz2, .xz, .war) whose name says backup (backup, bak, old,
//     www, wwwroot, htdocs, site, web, public_html, html, db, database,
//     dump, data, archive, src, source, app, api, home, root, prod, dev,
//     test, full, latest, or the host's own name);
//   - a segment names an administration console (admin, administrator,
//     wp-admin, wp-login.php, phpmyadmin, pma, adminer, manager, console,
//     jmx-console, web-console, actuator, server-status, server-info,
//     _profiler, cpanel, webadmin, admin.php).
//
// Only refused or missing answers count (401, 403, 404, 405, 410), and an
// admin path answered 401/403 only when the request carried no
// credentials (an administrator whose session expired is not probing).
// The spray family counts, per subject window, the distinct such paths;
// at sensitive_min (5) it raises recon.endpoint_spray whatever the
// population size, with the probed paths as evidence.

// Probe classes.
const (
	probeVCS         = "vcs"
	probeEnv         = "env"
	probeCredentials = "credentials"
	probeConfig      = "config"
	probeBackup      = "backup"
	probeDump        = "dump"
	probeLog         = "log"
	probeSystem      = "system"
	probeDotfile     = "dotfile"
	probeAdmin       = "admin"
)

// probeClasses is the order classes are reported in.
var probeClasses = []string{probeVCS, probeEnv, probeCredentials, probeConfig, probeBackup, probeDump, probeLog, probeSystem, probeDotfile, probeAdmin}

type restrictedList struct {
	m       *ac.Matcher
	classes []string // by literal id
}

var (
	restrictedOnce sync.Once
	restricted     restrictedList
	restrictedErr  error
)

// restrictedFiles is the CRS list compiled (once).
func restrictedFiles() (*restrictedList, error) {
	restrictedOnce.Do(func() {
		b, err := fs.ReadFile(coreruleset.FS, "@owasp_crs/restricted-files.data")
		if err != nil {
			restrictedErr = fmt.Errorf("detect: CRS restricted-files.data: %w", err)
			return
		}
		var lits []string
		seen := map[string]bool{}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			l := strings.ToLower(strings.TrimSpace(sc.Text()))
			if l == "" || strings.HasPrefix(l, "#") || seen[l] {
				continue
			}
			seen[l] = true
			lits = append(lits, l)
			restricted.classes = append(restricted.classes, restrictedClass(l))
		}
		if len(lits) == 0 {
			restrictedErr = fmt.Errorf("detect: CRS restricted-files.data: no entries")
			return
		}
		restricted.m = ac.New(lits, true)
	})
	if restrictedErr != nil {
		return nil, restrictedErr
	}
	return &restricted, nil
}

// restrictedClass names the class of a CRS restricted-files entry.
func restrictedClass(l string) string {
	has := func(ws ...string) bool {
		for _, w := range ws {
			if strings.Contains(l, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has(".git", ".svn", ".hg", ".bzr", ".cvs", "cvs/"):
		return probeVCS
	case has(".env", "env.php", "sendgrid.env"):
		return probeEnv
	case has("passw", "secret", "credential", ".ssh", ".aws", ".azure", ".kube", ".gnupg", ".netrc", ".pgpass", ".npmrc", ".boto",
		".s3cfg", "auth.json", ".htdigest", "key", "root_password", ".pass", ".pwd", ".my.cnf", "authenticator", ".rhosts", ".docker"):
		return probeCredentials
	case has(".sql"):
		return probeDump
	case has("history", ".log", "hsts", "lesshst"):
		return probeLog
	case has("proc/", "sys/", "boot.ini", "win.ini", "system.ini"):
		return probeSystem
	case has("config", "settings", "parameters", ".ini", ".cnf", ".conf", ".yml", ".yaml", ".json", ".xml", ".toml", "web-inf",
		"dockerfile", ".lock", "gruntfile", "webpack", "php.ini", "phpinfo", ".rb"):
		return probeConfig
	}
	return probeDotfile
}

var vcsDirs = map[string]bool{".git": true, ".svn": true, ".hg": true, ".bzr": true, "cvs": true, "_darcs": true}

var adminSegments = map[string]bool{"admin": true, "administrator": true, "wp-admin": true, "wp-login.php": true, "phpmyadmin": true,
	"pma": true, "myadmin": true, "adminer": true, "adminer.php": true, "manager": true, "console": true, "jmx-console": true,
	"web-console": true, "actuator": true, "server-status": true, "server-info": true, "_profiler": true, "cpanel": true,
	"webadmin": true, "admin.php": true, "admin-console": true}

var backupSuffixes = []string{".bak", ".old", ".orig", ".save", ".sav", ".swp", ".swo", ".tmp", ".backup", ".bck", ".bkp", ".copy", ".dist", "~"}
var dumpSuffixes = []string{".sql", ".dump", ".db", ".sqlite", ".sqlite3", ".mdb"}
var archiveSuffixes = []string{".tar.gz", ".tar.bz2", ".tar.xz", ".zip", ".tar", ".tgz", ".gz", ".7z", ".rar", ".bz2", ".xz", ".war"}
var backupNames = map[string]bool{"backup": true, "backups": true, "bak": true, "old": true, "www": true, "wwwroot": true, "htdocs": true,
	"site": true, "web": true, "website": true, "public": true, "public_html": true, "html": true, "db": true, "database": true,
	"dump": true, "data": true, "archive": true, "src": true, "source": true, "app": true, "api": true, "home": true, "root": true,
	"prod": true, "production": true, "dev": true, "test": true, "staging": true, "full": true, "latest": true}

// probeStatus reports whether a status counts as a refused or missing
// answer to a probe.
func probeStatus(s int) bool {
	return s == 401 || s == 403 || s == 404 || s == 405 || s == 410
}

// sensitiveProbe returns the class of path as a sensitive-file or admin
// probe ("" when it is none). host is the request's host (an archive named
// after the site is a backup). authed: the request carried credentials
// (admin paths answered 401/403 then do not count); status is the answer.
func sensitiveProbe(host, path string, status int, authed bool) string {
	if !probeStatus(status) || path == "" {
		return ""
	}
	if len(path) > 512 {
		path = path[:512]
	}
	var lower [512]byte
	lp := lower[:len(path)]
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c >= 'A' && c <= 'Z' {
			c += 32
		}
		lp[i] = c
	}
	p := string(lp) // one small copy per refused request
	class := ""
	admin := false
	rest := p
	last := ""
	for rest != "" {
		var seg string
		seg, rest, _ = strings.Cut(strings.TrimPrefix(rest, "/"), "/")
		if seg == "" {
			continue
		}
		last = seg
		switch {
		case vcsDirs[seg]:
			return probeVCS
		case seg == ".env" || strings.HasPrefix(seg, ".env."):
			return probeEnv
		case adminSegments[seg]:
			admin = true
		case seg[0] == '.' && seg != ".well-known" && seg != "." && seg != "..":
			if class == "" {
				class = probeDotfile
			}
		}
	}
	if rl, err := restrictedFiles(); err == nil {
		best := ""
		rl.m.Each(p, func(id, _, _ int) {
			if c := rl.classes[id]; best == "" || classRank(c) < classRank(best) {
				best = c
			}
		})
		if best != "" && (class == "" || classRank(best) < classRank(class)) {
			class = best
		}
	}
	if class != "" && class != probeDotfile {
		return class
	}
	for _, s := range backupSuffixes {
		if strings.HasSuffix(last, s) && len(last) > len(s) {
			return probeBackup
		}
	}
	for _, s := range dumpSuffixes {
		if strings.HasSuffix(last, s) && len(last) > len(s) {
			return probeDump
		}
	}
	for _, s := range archiveSuffixes {
		if strings.HasSuffix(last, s) && len(last) > len(s) {
			name := last[:len(last)-len(s)]
			h := strings.ToLower(host)
			if i := strings.LastIndexByte(h, ':'); i > 0 && !strings.Contains(h[i:], "]") {
				h = h[:i]
			}
			first, _, _ := strings.Cut(h, ".")
			if backupNames[name] || strings.Contains(name, "backup") || name == h || name == first && first != "" {
				return probeBackup
			}
			break
		}
	}
	if class != "" {
		return class
	}
	if admin && (!authed || status == 404 || status == 405 || status == 410) {
		return probeAdmin
	}
	return ""
}

// classRank orders classes from the most specific.
func classRank(c string) int {
	for i, x := range probeClasses {
		if x == c {
			return i
		}
	}
	return len(probeClasses)
}
