package injeval

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/types"
)

// Coraza evaluates cases with Coraza and the OWASP CRS (request phases
// only, anomaly-scoring mode with the default inbound threshold of 5):
// a case is detected when the WAF interrupts the transaction.
type Coraza struct {
	pl  int
	waf coraza.WAF
}

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
	return &Coraza{pl: paranoia, waf: waf}, nil
}

// Name implements Engine.
func (c *Coraza) Name() string { return "coraza-crs-pl" + strconv.Itoa(c.pl) }

// Detect implements Engine: the rule id that interrupted, empty when none.
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
	for _, k := range names {
		tx.AddRequestHeader(k, rec.Request.Headers[k])
	}
	if it := tx.ProcessRequestHeaders(); it != nil {
		return interrupted(it), nil
	}
	if rec.Request.Body != "" {
		if it, _, err := tx.WriteRequestBody([]byte(rec.Request.BodyText())); err != nil {
			return nil, err
		} else if it != nil {
			return interrupted(it), nil
		}
	}
	it, err := tx.ProcessRequestBody()
	if err != nil {
		return nil, err
	}
	if it != nil {
		return interrupted(it), nil
	}
	return nil, nil
}

func interrupted(it *types.Interruption) []string { return []string{"crs:" + strconv.Itoa(it.RuleID)} }
