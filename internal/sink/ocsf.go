package sink

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/palisade-sec/palisade/internal/model"
)

// OCSFVersion is the OCSF schema version the mapping targets.
const OCSFVersion = "1.2.0"

// OCSF class identifiers used here.
const (
	ocsfFindingsCategory = 2
	ocsfDetectionFinding = 2004
	ocsfAppCategory      = 6
	ocsfAPIActivity      = 6003
)

// OCSFOptions tune the mapping.
type OCSFOptions struct {
	ProductVersion string // metadata.product.version
	// CloudProvider fills cloud.provider, which the published 1.2.0 class
	// schemas require (cloud profile). Default "self-hosted".
	CloudProvider string
	// APIActivity adds one API Activity (6003) event per evidence sample,
	// linked to its finding by metadata.correlation_uid.
	APIActivity bool
}

type ocsfProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
	Version    string `json:"version,omitempty"`
}

type ocsfMetadata struct {
	Product        ocsfProduct `json:"product"`
	Version        string      `json:"version"`
	UID            string      `json:"uid,omitempty"`
	CorrelationUID string      `json:"correlation_uid,omitempty"`
	Profiles       []string    `json:"profiles,omitempty"`
	Labels         []string    `json:"labels,omitempty"`
}

type ocsfCloud struct {
	Provider string `json:"provider"`
}

type ocsfAnalytic struct {
	Name   string `json:"name,omitempty"`
	Type   string `json:"type,omitempty"`
	TypeID int    `json:"type_id"`
	UID    string `json:"uid,omitempty"`
}

type ocsfNamed struct {
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
}

type ocsfAttack struct {
	Tactic    *ocsfNamed `json:"tactic,omitempty"`
	Technique *ocsfNamed `json:"technique,omitempty"`
	Version   string     `json:"version,omitempty"`
}

type ocsfFindingInfo struct {
	UID           string        `json:"uid"`
	Title         string        `json:"title"`
	Desc          string        `json:"desc,omitempty"`
	Types         []string      `json:"types,omitempty"`
	FirstSeenTime int64         `json:"first_seen_time,omitempty"`
	LastSeenTime  int64         `json:"last_seen_time,omitempty"`
	Analytic      *ocsfAnalytic `json:"analytic,omitempty"`
	Attacks       []ocsfAttack  `json:"attacks,omitempty"`
	DataSources   []string      `json:"data_sources,omitempty"`
}

type ocsfResource struct {
	Type string `json:"type,omitempty"`
	Name string `json:"name,omitempty"`
	UID  string `json:"uid,omitempty"`
}

type ocsfEndpoint struct {
	IP       string `json:"ip,omitempty"`
	Hostname string `json:"hostname,omitempty"`
}

type ocsfUser struct {
	UID  string `json:"uid,omitempty"`
	Name string `json:"name,omitempty"`
}

type ocsfActor struct {
	User *ocsfUser `json:"user,omitempty"`
}

type ocsfEvidence struct {
	SrcEndpoint *ocsfEndpoint `json:"src_endpoint,omitempty"`
	DstEndpoint *ocsfEndpoint `json:"dst_endpoint,omitempty"`
	Actor       *ocsfActor    `json:"actor,omitempty"`
	// Data is the evidence's free-form data: the number of the alert's
	// events that came from src_endpoint.
	Data *ocsfEvidenceData `json:"data,omitempty"`
}

type ocsfEvidenceData struct {
	Events int64 `json:"events"`
	// NewToPrincipal: the principal of the alert had not used the address
	// before the alert's evidence window (clients[].new).
	NewToPrincipal bool `json:"new_to_principal,omitzero"`
}

type ocsfObservable struct {
	Name   string `json:"name"`
	Type   string `json:"type,omitempty"`
	TypeID int    `json:"type_id"`
	Value  string `json:"value,omitempty"`
}

type ocsfRemediation struct {
	Desc string `json:"desc"`
}

// OCSFDetectionFinding is an OCSF 1.2 Detection Finding (class 2004).
type OCSFDetectionFinding struct {
	ActivityID      int              `json:"activity_id"`
	ActivityName    string           `json:"activity_name"`
	CategoryUID     int              `json:"category_uid"`
	CategoryName    string           `json:"category_name"`
	ClassUID        int              `json:"class_uid"`
	ClassName       string           `json:"class_name"`
	TypeUID         int              `json:"type_uid"`
	TypeName        string           `json:"type_name"`
	SeverityID      int              `json:"severity_id"`
	Severity        string           `json:"severity"`
	StatusID        int              `json:"status_id"`
	Status          string           `json:"status"`
	ActionID        int              `json:"action_id"`
	Action          string           `json:"action"`
	DispositionID   int              `json:"disposition_id"`
	Disposition     string           `json:"disposition"`
	ConfidenceID    int              `json:"confidence_id"`
	Confidence      string           `json:"confidence"`
	ConfidenceScore int              `json:"confidence_score"`
	Time            int64            `json:"time"`
	StartTime       int64            `json:"start_time,omitempty"`
	EndTime         int64            `json:"end_time,omitempty"`
	Count           int64            `json:"count,omitempty"`
	Message         string           `json:"message"`
	Metadata        ocsfMetadata     `json:"metadata"`
	Cloud           ocsfCloud        `json:"cloud"`
	FindingInfo     ocsfFindingInfo  `json:"finding_info"`
	Attacks         []ocsfAttack     `json:"attacks,omitempty"`
	Resources       []ocsfResource   `json:"resources,omitempty"`
	Actor           *ocsfActor       `json:"actor,omitempty"`
	Evidences       []ocsfEvidence   `json:"evidences,omitempty"`
	Observables     []ocsfObservable `json:"observables,omitempty"`
	Remediation     *ocsfRemediation `json:"remediation,omitempty"`
	Unmapped        map[string]any   `json:"unmapped,omitempty"`
}

type ocsfURL struct {
	URLString   string `json:"url_string,omitempty"`
	Scheme      string `json:"scheme,omitempty"`
	Hostname    string `json:"hostname,omitempty"`
	Path        string `json:"path,omitempty"`
	QueryString string `json:"query_string,omitempty"`
}

type ocsfHTTPRequest struct {
	HTTPMethod string   `json:"http_method,omitempty"`
	URL        *ocsfURL `json:"url,omitempty"`
}

type ocsfAPIResponse struct {
	Code int `json:"code,omitempty"`
}

type ocsfAPI struct {
	Operation string           `json:"operation"`
	Response  *ocsfAPIResponse `json:"response,omitempty"`
}

// OCSFAPIActivity is an OCSF 1.2 API Activity (class 6003), one per
// evidence sample.
type OCSFAPIActivity struct {
	ActivityID   int              `json:"activity_id"`
	ActivityName string           `json:"activity_name"`
	CategoryUID  int              `json:"category_uid"`
	CategoryName string           `json:"category_name"`
	ClassUID     int              `json:"class_uid"`
	ClassName    string           `json:"class_name"`
	TypeUID      int              `json:"type_uid"`
	TypeName     string           `json:"type_name"`
	SeverityID   int              `json:"severity_id"`
	Severity     string           `json:"severity"`
	Time         int64            `json:"time"`
	Message      string           `json:"message,omitempty"`
	Metadata     ocsfMetadata     `json:"metadata"`
	Cloud        ocsfCloud        `json:"cloud"`
	API          ocsfAPI          `json:"api"`
	Actor        ocsfActor        `json:"actor"`
	SrcEndpoint  ocsfEndpoint     `json:"src_endpoint"`
	HTTPRequest  *ocsfHTTPRequest `json:"http_request,omitempty"`
	StatusCode   string           `json:"status_code,omitempty"`
	Observables  []ocsfObservable `json:"observables,omitempty"`
}

func ocsfSeverity(s string) (int, string) {
	switch s {
	case model.SevInfo:
		return 1, "Informational"
	case model.SevLow:
		return 2, "Low"
	case model.SevMedium:
		return 3, "Medium"
	case model.SevHigh:
		return 4, "High"
	case model.SevCritical:
		return 5, "Critical"
	}
	return 0, "Unknown"
}

// statistical alert families learn baselines; the others match rules or feeds.
var statisticalFamilies = map[string]bool{
	"traffic": true, "payload": true, "latency": true, "recon": true, "bola": true, "param": true,
	"bfla": true, "auth.token_reuse": true, "auth.credential_stuffing": true, "auth.brute_force": true,
	"data": true,
}

func analyticType(t string) (int, string) {
	fam, _, _ := strings.Cut(t, ".")
	if statisticalFamilies[t] || statisticalFamilies[fam] && !strings.HasPrefix(t, "auth.weak") {
		return 3, "Statistical"
	}
	return 1, "Rule"
}

// ToOCSF maps an alert to a Detection Finding and, when opts.APIActivity
// is set, one API Activity per evidence sample. Times are epoch
// milliseconds of event time. Identities appear only by their pseudonymous
// id and non-secret name.
func ToOCSF(a *model.Alert, opts OCSFOptions) (OCSFDetectionFinding, []OCSFAPIActivity) {
	provider := opts.CloudProvider
	if provider == "" {
		provider = "self-hosted"
	}
	meta := ocsfMetadata{
		Product:  ocsfProduct{Name: "Palisade", VendorName: "Palisade", Version: opts.ProductVersion},
		Version:  OCSFVersion,
		UID:      a.ID,
		Profiles: []string{"cloud", "security_control"},
	}
	sevID, sevName := ocsfSeverity(a.Severity)
	f := OCSFDetectionFinding{
		CategoryUID: ocsfFindingsCategory, CategoryName: "Findings",
		ClassUID: ocsfDetectionFinding, ClassName: "Detection Finding",
		SeverityID: sevID, Severity: sevName,
		// Palisade observes mirrored traffic; it neither allowed nor blocked
		// the request, so the action is unknown and the disposition "Detected".
		ActionID: 0, Action: "Unknown",
		DispositionID: 15, Disposition: "Detected",
		Time:     a.LastSeen.UnixMilli(),
		Count:    a.Count,
		Message:  a.Title,
		Metadata: meta,
		Cloud:    ocsfCloud{Provider: provider},
	}
	if !a.FirstSeen.IsZero() {
		f.StartTime = a.FirstSeen.UnixMilli()
	}
	if !a.LastSeen.IsZero() {
		f.EndTime = a.LastSeen.UnixMilli()
	}
	switch a.Status {
	case "acknowledged":
		f.ActivityID, f.ActivityName, f.StatusID, f.Status = 2, "Update", 2, "In Progress"
	case "resolved":
		f.ActivityID, f.ActivityName, f.StatusID, f.Status = 3, "Close", 4, "Resolved"
	case "false_positive":
		f.ActivityID, f.ActivityName, f.StatusID, f.Status = 3, "Close", 3, "Suppressed"
	default:
		f.ActivityID, f.ActivityName, f.StatusID, f.Status = 1, "Create", 1, "New"
	}
	f.TypeUID = ocsfDetectionFinding*100 + f.ActivityID
	f.TypeName = "Detection Finding: " + f.ActivityName
	f.ConfidenceScore = int(a.Confidence*100 + 0.5)
	switch {
	case a.Confidence >= 0.8:
		f.ConfidenceID, f.Confidence = 3, "High"
	case a.Confidence >= 0.5:
		f.ConfidenceID, f.Confidence = 2, "Medium"
	default:
		f.ConfidenceID, f.Confidence = 1, "Low"
	}
	atype, aname := analyticType(a.Type)
	for _, m := range a.MITRE {
		at := ocsfAttack{Version: "v15"}
		if m.Tactic != "" {
			at.Tactic = &ocsfNamed{Name: m.Tactic}
		}
		if m.TechniqueID != "" || m.TechniqueName != "" {
			at.Technique = &ocsfNamed{Name: m.TechniqueName, UID: m.TechniqueID}
		}
		f.Attacks = append(f.Attacks, at)
	}
	f.FindingInfo = ocsfFindingInfo{
		UID:         a.ID,
		Title:       a.Title,
		Desc:        a.Evidence.Reason,
		Types:       []string{a.Type},
		Analytic:    &ocsfAnalytic{Name: a.Type, Type: aname, TypeID: atype, UID: a.Type},
		Attacks:     f.Attacks,
		DataSources: []string{"http_traffic"},
	}
	if !a.FirstSeen.IsZero() {
		f.FindingInfo.FirstSeenTime = a.FirstSeen.UnixMilli()
	}
	if !a.LastSeen.IsZero() {
		f.FindingInfo.LastSeenTime = a.LastSeen.UnixMilli()
	}
	if a.Endpoint != nil {
		f.Resources = append(f.Resources, ocsfResource{Type: "api_endpoint", Name: a.Endpoint.Key(), UID: a.Endpoint.Key()})
	}
	var actor *ocsfActor
	if a.Identity != nil && a.Identity.ID != "" {
		// user.type is OCSF's account type (User, Admin, …), which is not
		// known here; the credential kind goes to unmapped.
		actor = &ocsfActor{User: &ocsfUser{UID: a.Identity.ID, Name: a.Identity.Name}}
		f.Actor = actor
		f.Observables = append(f.Observables, ocsfObservable{Name: "actor.user.uid", Type: "Other", TypeID: 99, Value: a.Identity.ID})
		if a.Identity.Name != "" {
			f.Observables = append(f.Observables, ocsfObservable{Name: "actor.user.name", Type: "User Name", TypeID: 4, Value: a.Identity.Name})
		}
	}
	f.Evidences, f.Observables = ocsfEvidences(a, actor, f.Observables)
	if a.Remediation != "" {
		f.Remediation = &ocsfRemediation{Desc: a.Remediation}
	}
	un := map[string]any{"alert_type": a.Type, "subject": a.Subject}
	if len(a.OWASP) > 0 {
		un["owasp"] = a.OWASP
	}
	for k, v := range map[string]any{"observed": a.Evidence.Observed, "baseline": a.Evidence.Baseline, "threshold": a.Evidence.Threshold} {
		if v != nil {
			un[k] = v
		}
	}
	if a.Evidence.Window != "" {
		un["window"] = a.Evidence.Window
	}
	if a.Identity != nil && a.Identity.Kind != "" {
		un["identity_kind"] = a.Identity.Kind
	}
	if a.ClientsOther > 0 {
		un["clients_other"] = a.ClientsOther // events from addresses beyond clients[]
	}
	if a.ClientsOtherNew > 0 {
		un["clients_other_new"] = a.ClientsOtherNew // of those, from addresses new to the principal
	}
	f.Unmapped = map[string]any{"palisade": un}

	if !opts.APIActivity {
		return f, nil
	}
	var acts []OCSFAPIActivity
	for i, s := range a.Evidence.Samples {
		actID, actName := apiActivity(s.Method)
		m := meta
		m.UID = a.ID + "/" + strconv.Itoa(i)
		m.CorrelationUID = a.ID
		aa := OCSFAPIActivity{
			ActivityID: actID, ActivityName: actName,
			CategoryUID: ocsfAppCategory, CategoryName: "Application Activity",
			ClassUID: ocsfAPIActivity, ClassName: "API Activity",
			TypeUID: ocsfAPIActivity*100 + actID, TypeName: "API Activity: " + actName,
			SeverityID: sevID, Severity: sevName,
			Time:     s.Time.UnixMilli(),
			Message:  s.Note,
			Metadata: m,
			Cloud:    ocsfCloud{Provider: provider},
			API:      ocsfAPI{Operation: s.Method},
		}
		if actor != nil {
			aa.Actor = *actor
		}
		client := s.Client
		if client == "" && a.Client != nil {
			client = a.Client.IP
		}
		aa.SrcEndpoint = ocsfEndpoint{IP: client}
		if s.Status > 0 {
			aa.API.Response = &ocsfAPIResponse{Code: s.Status}
			aa.StatusCode = strconv.Itoa(s.Status)
		}
		hr := &ocsfHTTPRequest{HTTPMethod: s.Method}
		if s.URL != "" {
			hr.URL = &ocsfURL{URLString: s.URL}
			if u, err := url.Parse(s.URL); err == nil {
				hr.URL.Scheme, hr.URL.Hostname, hr.URL.Path, hr.URL.QueryString = u.Scheme, u.Hostname(), u.EscapedPath(), u.RawQuery
			}
		}
		aa.HTTPRequest = hr
		if client != "" {
			aa.Observables = []ocsfObservable{{Name: "src_endpoint.ip", Type: "IP Address", TypeID: 2, Value: client}}
		}
		acts = append(acts, aa)
	}
	return f, acts
}

// ocsfEvidences builds the evidence artifacts of a finding: one per client
// address of the alert (clients[], most events first, with the number of
// its events in data.events and data.new_to_principal when the address is
// new to the alert's principal), led by the alert's client when clients[]
// does not list it; each carries the destination host and the actor. An
// alert without client addresses gets one artifact with what it has. Every
// source address is also an observable.
func ocsfEvidences(a *model.Alert, actor *ocsfActor, obs []ocsfObservable) ([]ocsfEvidence, []ocsfObservable) {
	var dst *ocsfEndpoint
	if a.Endpoint != nil && a.Endpoint.Host != "" {
		dst = &ocsfEndpoint{Hostname: a.Endpoint.Host}
	}
	var out []ocsfEvidence
	add := func(ip string, events int64, fresh bool) {
		ev := ocsfEvidence{SrcEndpoint: &ocsfEndpoint{IP: ip}, DstEndpoint: dst, Actor: actor}
		if events > 0 || fresh {
			ev.Data = &ocsfEvidenceData{Events: events, NewToPrincipal: fresh}
		}
		out = append(out, ev)
		obs = append(obs, ocsfObservable{Name: "evidences.src_endpoint.ip", Type: "IP Address", TypeID: 2, Value: ip})
	}
	if a.Client != nil && a.Client.IP != "" && !slices.ContainsFunc(a.Clients, func(c model.ClientCount) bool { return c.IP == a.Client.IP }) {
		add(a.Client.IP, 0, false)
	}
	for _, c := range a.Clients {
		if c.IP != "" {
			add(c.IP, c.Count, c.New)
		}
	}
	if dst != nil {
		obs = append(obs, ocsfObservable{Name: "evidences.dst_endpoint.hostname", Type: "Hostname", TypeID: 1, Value: dst.Hostname})
	}
	if len(out) == 0 && (dst != nil || actor != nil) {
		out = append(out, ocsfEvidence{DstEndpoint: dst, Actor: actor})
	}
	return out, obs
}

func apiActivity(method string) (int, string) {
	switch strings.ToUpper(method) {
	case "POST":
		return 1, "Create"
	case "GET", "HEAD":
		return 2, "Read"
	case "PUT", "PATCH":
		return 3, "Update"
	case "DELETE":
		return 4, "Delete"
	}
	return 99, "Other"
}

// EncodeOCSF appends the NDJSON lines of a batch (findings first, then the
// API activities of each alert, in alert order).
func EncodeOCSF(buf *bytes.Buffer, alerts []model.Alert, opts OCSFOptions) error {
	for i := range alerts {
		f, acts := ToOCSF(&alerts[i], opts)
		b, err := json.Marshal(f, json.Deterministic(true))
		if err != nil {
			return fmt.Errorf("alert %s: %w", alerts[i].ID, err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
		for _, aa := range acts {
			b, err := json.Marshal(aa, json.Deterministic(true))
			if err != nil {
				return fmt.Errorf("alert %s: %w", alerts[i].ID, err)
			}
			buf.Write(b)
			buf.WriteByte('\n')
		}
	}
	return nil
}

// OCSFHTTP POSTs batches of OCSF events as NDJSON (application/x-ndjson).
type OCSFHTTP struct {
	name   string
	url    string
	header http.Header
	opts   OCSFOptions
	client *http.Client
	now    func() time.Time
}

// NewOCSFHTTP returns an OCSF sink posting to url.
func NewOCSFHTTP(name, url string, header http.Header, opts OCSFOptions, client *http.Client) *OCSFHTTP {
	if client == nil {
		client = &http.Client{}
	}
	return &OCSFHTTP{name: name, url: url, header: header, opts: opts, client: client, now: time.Now}
}

// Name of the sink.
func (o *OCSFHTTP) Name() string { return o.name }

// Send posts one batch.
func (o *OCSFHTTP) Send(ctx context.Context, alerts []model.Alert) error {
	var buf bytes.Buffer
	if err := EncodeOCSF(&buf, alerts, o.opts); err != nil {
		return Permanent(err)
	}
	h := http.Header{}
	for k, vs := range o.header {
		h[k] = vs
	}
	h.Set("Content-Type", "application/x-ndjson")
	return postHTTP(ctx, o.client, o.url, buf.Bytes(), h, o.now())
}

// OCSFFile appends OCSF events as NDJSON to a file rotated by size.
type OCSFFile struct {
	name string
	w    *RotatingFile
	opts OCSFOptions
}

// NewOCSFFile returns an OCSF file sink.
func NewOCSFFile(name string, w *RotatingFile, opts OCSFOptions) *OCSFFile {
	return &OCSFFile{name: name, w: w, opts: opts}
}

// Name of the sink.
func (o *OCSFFile) Name() string { return o.name }

// Send appends one batch (whole lines; rotation happens between batches).
func (o *OCSFFile) Send(_ context.Context, alerts []model.Alert) error {
	var buf bytes.Buffer
	if err := EncodeOCSF(&buf, alerts, o.opts); err != nil {
		return Permanent(err)
	}
	return o.w.Write(buf.Bytes())
}

// Close closes the file.
func (o *OCSFFile) Close() error { return o.w.Close() }
