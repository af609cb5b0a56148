package injeval

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/types"
	"github.com/palisade-sec/palisade/internal/detect/crs"
)

// Coraza evaluates cases with Coraza and the OWASP CRS (request phases
// only, anomaly-scoring mode with the default inbound threshold of 5):
// a case is detected when the WAF interrupts the transaction. The request
// carries a Content-Length when it has a body, as every HTTP client sends
// one (without it CRS 920180 adds 3 points to every POST).
type Coraza struct {
	pl    int
	waf   coraza.WAF
	rules *crs.Set // the attack class of each CRS rule, by id
}

// coraClass: the classes CRS has rule files of (the (class) column of a
// Coraza engine is "-" for the others: NoSQL, XXE, SSTI — CRS tags its
// template rules in the generic file 934, which Palisade does not compile).
var coraClass = map[string]bool{"sqli": true, "xss": true, "cmd": true, "path_traversal": true}

// NewCoraza builds a WAF at the given paranoia level (1–4).
func NewCoraza(paranoia int) (*Coraza, error) {
	if paranoia < 1 || paranoia > 4 {
		return nil, fmt.Errorf("coraza: paranoia level %d out of range 1-4", paranoia)
	}
	directives := `
Include @coraza.conf-recommended
SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 13107200
SecRequestBodyInMemoryLimit 13107200
SecRequestBodyLimitAction ProcessPartial
SecResponseBodyAccess Off
Include @crs-setup.conf.example
SecAction "id:900000,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level=` + strconv.Itoa(paranoia) + `"
SecAction "id:900110,phase:1,pass,t:none,nolog,setvar:tx.inbound_anomaly_score_threshold=5"
Include @owasp_crs/*.conf
`
	waf, err := coraza.NewWAF(coraza.NewWAFConfig().WithRootFS(coreruleset.FS).WithDirectives(directives))
	if err != nil {
		return nil, fmt.Errorf("coraza: %w", err)
	}
	rules, err := crs.Default()
	if err != nil {
		return nil, fmt.Errorf("coraza: rule classes: %w", err)
	}
	return &Coraza{pl: paranoia, waf: waf, rules: rules}, nil
}

// Name implements Engine.
func (c *Coraza) Name() string { return "coraza-crs-pl" + strconv.Itoa(c.pl) }

// Detect implements Engine: when the WAF interrupted, the rule id that
// did ("crs:949110") and the alert type of each attack class whose rules
// matched ("injection.sqli" …); empty when it did not interrupt.
func (c *Coraza) Detect(cs *Case) ([]string, error) {
	rec := cs.Rec
	u, err := url.Parse(rec.Request.URL)
	if err != nil {
		return nil, err
	}
	tx := c.waf.NewTransaction()
	defer func() {
		tx.ProcessLogging()
		tx.Close()
	}()
	tx.ProcessConnection(rec.Client.IP, 40000, "203.0.113.1", 443)
	tx.ProcessURI(u.RequestURI(), rec.Request.Method, "HTTP/1.1")
	tx.AddRequestHeader("Host", u.Host)
	names := make([]string, 0, len(rec.Request.Headers))
	for k := range rec.Request.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	body := rec.Request.BodyText()
	hasLen := false
	for _, k := range names {
		tx.AddRequestHeader(k, rec.Request.Headers[k])
		hasLen = hasLen || strings.EqualFold(k, "content-length")
	}
	if body != "" && !hasLen {
		tx.AddRequestHeader("Content-Length", strconv.Itoa(len(body)))
	}
	if it := tx.ProcessRequestHeaders(); it != nil {
		return c.interrupted(tx, it), nil
	}
	if body != "" {
		if it, _, err := tx.WriteRequestBody([]byte(body)); err != nil {
			return nil, err
		} else if it != nil {
			return c.interrupted(tx, it), nil
		}
	}
	it, err := tx.ProcessRequestBody()
	if err != nil {
		return nil, err
	}
	if it != nil {
		return c.interrupted(tx, it), nil
	}
	return nil, nil
}

func (c *Coraza) interrupted(tx types.Transaction, it *types.Interruption) []string {
	out := []string{"crs:" + strconv.Itoa(it.RuleID)}
	seen := map[string]bool{}
	for _, m := range tx.MatchedRules() {
		if r := c.rules.Rule(m.Rule().ID()); r != nil && !seen[r.Class] {
			seen[r.Class] = true
			out = append(out, "injection."+r.Class)
		}
	}
	return out
}
