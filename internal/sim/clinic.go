package sim

import (
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"
)

type patient struct {
	mrn string
	p   person
}

type clinician struct {
	sub, name string
	roles     []string
	ip        string
	ward      int
	token     string
	tokExp    time.Time
	night     bool // works the night shift (19:00–07:00)
}

type clinicWorld struct {
	patients   []*patient
	byWard     [][]*patient
	clinicians []*clinician
}

const clinicWards = 8

func newClinicWorld(g *gen) *clinicWorld {
	r := g.stream("clinic-world")
	w := &clinicWorld{byWard: make([][]*patient, clinicWards)}
	n := scaled(2500, g.cfg.Scale*or1(g.cfg.Variant.Patients), 200)
	mrn := 412000
	for i := 0; i < n; i++ {
		mrn += 1 + r.IntN(3) // MRNs are allocated with gaps (merged and retired records)
		p := &patient{mrn: "MRN" + pad(mrn, 7), p: newPerson(r, i+7)}
		w.patients = append(w.patients, p)
		w.byWard[i%clinicWards] = append(w.byWard[i%clinicWards], p)
	}
	nc := scaled(48, g.cfg.Scale*or1(g.cfg.Variant.Clinicians), 16)
	for i := 0; i < nc; i++ {
		p := newPerson(r, i+3)
		role, prefix := "clinician", "dr."
		if i%3 == 1 {
			role, prefix = "nurse", "rn."
		}
		c := &clinician{sub: prefix + asciiLower(p.First)[:1] + asciiLower(p.Last) + strconv.Itoa(i), name: p.First + " " + p.Last,
			roles: []string{role}, ward: i % clinicWards, night: i%2 == 1}
		// Ward subnets hold 200 workstations each; larger populations
		// (Scale > 1) spill into further /24s of the ward's block.
		c.ip = "10.50." + strconv.Itoa(c.ward+1+clinicWards*(i/200)) + "." + strconv.Itoa(20+i%200)
		w.clinicians = append(w.clinicians, c)
	}
	return w
}

func clinicURL(path string, q url.Values) string {
	u := "https://" + ClinicHost + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

const clinicianUA = "EHRDesk/11.2 (Windows NT 10.0; Win64; x64) Electron/31.7.0"

// clinicSrc: radiology (ward 0) is behind the batch sidecar when the trap is on.
func (g *gen) clinicSrc(c *clinician) string {
	if g.batch != nil && c.ward == 0 {
		return BatchSource
	}
	return srcClinic
}

func (g *gen) clinicianToken(r *rand.Rand, c *clinician, now time.Time) {
	if c.token != "" && now.Before(c.tokExp.Add(-10*time.Minute)) {
		return
	}
	c.token = mintJWT(r, "RS256", "ehr-idp-1", jwtClaims{Sub: c.sub, Iss: "https://idp.clinic.example.test", Aud: "ehr-api",
		Iat: now, Exp: now.Add(12 * time.Hour), Roles: c.roles, Scope: "patient/*.read patient/*.write"})
	c.tokExp = now.Add(12 * time.Hour)
	rec := mk(r, now, g.clinicSrc(c), c.ip, clinicianUA, "POST", clinicURL("/v1/auth/token", nil))
	body(rec, "application/x-www-form-urlencoded", "grant_type=password&username="+url.QueryEscape(c.sub)+"&password="+alnum(r, 14)+"&client_id=ehr-desk")
	replyJSON(rec, 200, newObj().s("access_token", c.token).s("token_type", "Bearer").i("expires_in", 43200).String(), latency(r, 120, 0.3))
	g.emit(rec, g.clinicScen(c))
}

func (g *gen) clinicScen(c *clinician) *scenState {
	if g.batch != nil && c.ward == 0 {
		return g.trapBatch
	}
	return nil
}

func patientJSON(p *patient) string {
	return newObj().s("mrn", p.mrn).s("first_name", p.p.First).s("last_name", p.p.Last).s("date_of_birth", p.p.DOB).
		s("phone", p.p.Phone).s("email", p.p.Email).s("ssn", p.p.SSN).
		raw("address", newObj().s("street", p.p.Street).s("city", p.p.City).s("postcode", p.p.Zip).String()).
		s("insurance_id", "INS-"+p.mrn[3:]).String()
}

var diagnoses = []string{"J06.9 Acute upper respiratory infection", "I10 Essential hypertension", "E11.9 Type 2 diabetes mellitus",
	"M54.5 Low back pain", "S52.5 Fracture of lower end of radius", "F41.1 Generalized anxiety disorder", "K21.9 GERD"}

func recordsJSON(r *rand.Rand, p *patient) string {
	n := 3 + r.IntN(8)
	items := make([]string, 0, n)
	for i := 0; i < n; i++ {
		items = append(items, newObj().s("date", "2026-"+pad(1+(i+len(p.mrn))%11, 2)+"-"+pad(1+i*2, 2)).s("diagnosis", pick(r, diagnoses)).
			s("note", "Patient's symptoms improving; continue current plan & review in 2 weeks.").s("author", "dr.on-call").String())
	}
	return newObj().s("mrn", p.mrn).raw("entries", arr(items)).String()
}

type clinicianSession struct {
	c    *clinician
	left int
	pats []*patient // patients to open (shift start) or nil
	sc   *scenState
}

func (g *gen) startClinicianSession(_ *gen, now time.Time) {
	r := g.r
	day := now.Hour() >= 7 && now.Hour() < 19
	var c *clinician
	for i := 0; i < 6; i++ {
		c = pick(r, g.clinic.clinicians)
		if c.night != day {
			break
		}
	}
	g.schedule(now, &clinicianSession{c: c, left: 3 + r.IntN(7)})
}

func (s *clinicianSession) step(g *gen, now time.Time) (time.Time, bool) {
	r := g.r
	c := s.c
	g.clinicianToken(r, c, now)
	src := g.clinicSrc(c)
	sc := s.sc
	if sc == nil {
		sc = g.clinicScen(c)
	}
	if s.pats != nil { // shift start: open the ward's patients one by one
		if len(s.pats) == 0 {
			return now, false
		}
		p := s.pats[0]
		s.pats = s.pats[1:]
		rec := mk(r, now, src, c.ip, clinicianUA, "GET", clinicURL("/v1/patients/"+p.mrn, nil))
		bearer(rec, c.token)
		replyJSON(rec, 200, patientJSON(p), latency(r, 45, 0.4))
		g.emit(rec, sc)
		if chance(r, 0.6) {
			rec = mk(r, now.Add(time.Duration(800+r.IntN(2000))*time.Millisecond), src, c.ip, clinicianUA, "GET", clinicURL("/v1/patients/"+p.mrn+"/records", nil))
			bearer(rec, c.token)
			replyJSON(rec, 200, recordsJSON(r, p), latency(r, 80, 0.4))
			g.later(rec.Time, func(g *gen, _ time.Time) { g.emit(rec, sc) })
		}
		return now.Add(thinkTime(r, 25*time.Second)), true
	}
	if s.left <= 0 {
		return now, false
	}
	s.left--
	ward := g.clinic.byWard[c.ward]
	p := pick(r, ward)
	var rec *recT
	switch x := r.IntN(100); {
	case x < 15:
		rec = mk(r, now, src, c.ip, clinicianUA, "GET", clinicURL("/v1/patients", url.Values{"name": {p.p.Last}, "limit": {"20"}}))
		items := make([]string, 0, 4)
		for i := 0; i < 3; i++ {
			q := ward[(i*7+len(p.p.Last))%len(ward)]
			items = append(items, newObj().s("mrn", q.mrn).s("name", q.p.First+" "+q.p.Last).s("date_of_birth", q.p.DOB).String())
		}
		replyJSON(rec, 200, newObj().raw("items", arr(items)).String(), latency(r, 150, 0.6))
	case x < 45:
		rec = mk(r, now, src, c.ip, clinicianUA, "GET", clinicURL("/v1/patients/"+p.mrn, nil))
		replyJSON(rec, 200, patientJSON(p), latency(r, 45, 0.4))
	case x < 65:
		rec = mk(r, now, src, c.ip, clinicianUA, "GET", clinicURL("/v1/patients/"+p.mrn+"/records", nil))
		replyJSON(rec, 200, recordsJSON(r, p), latency(r, 80, 0.4))
	case x < 75:
		rec = mk(r, now, src, c.ip, clinicianUA, "GET", clinicURL("/v1/patients/"+p.mrn+"/medications", nil))
		replyJSON(rec, 200, newObj().s("mrn", p.mrn).raw("medications", `[{"name":"Amlodipine","dose":"5 mg","frequency":"daily"},{"name":"Metformin","dose":"500 mg","frequency":"twice daily"}]`).String(), latency(r, 40, 0.4))
	case x < 85:
		rec = mk(r, now, src, c.ip, clinicianUA, "GET", clinicURL("/v1/appointments", url.Values{"date": {now.Format("2006-01-02")}, "clinician": {c.sub}}))
		replyJSON(rec, 200, newObj().raw("items", arr([]string{newObj().s("time", "09:30").s("mrn", p.mrn).s("patient", p.p.First+" "+p.p.Last).String()})).String(), latency(r, 60, 0.4))
	case x < 93:
		file := "lab/2026/" + pad(int(now.Month()), 2) + "/" + p.mrn + "-" + pick(r, []string{"cbc", "lipid-panel", "xray-chest", "ecg"}) + ".pdf"
		rec = mk(r, now, src, c.ip, clinicianUA, "GET", clinicURL("/v1/documents/download", url.Values{"file": {file}}))
		replySized(rec, 200, "application/pdf", "", int64(80_000+r.IntN(400_000)), latency(r, 120, 0.5))
	default:
		other := pick(r, g.clinic.clinicians)
		rec = mk(r, now, src, c.ip, clinicianUA, "GET", clinicURL("/v1/staff/directory", url.Values{"name": {other.name[len(other.name)/2:]}}))
		replyJSON(rec, 200, newObj().raw("items", arr([]string{newObj().s("uid", other.sub).s("name", other.name).s("pager", "4"+digits(r, 3)).String()})).String(), latency(r, 30, 0.4))
	}
	bearer(rec, c.token)
	g.emit(rec, sc)
	return now.Add(thinkTime(r, 30*time.Second)), true
}

// shiftStart: at 07:00 and 19:00 the incoming clinicians open the records
// of their ward's patients (a trap for enumeration detectors).
func (g *gen) shiftStart(_ *gen, now time.Time) {
	day := now.Hour() == 7
	r := g.r
	for _, c := range g.clinic.clinicians {
		if c.night == day {
			continue
		}
		ward := g.clinic.byWard[c.ward]
		n := min(25+r.IntN(16), len(ward))
		off := r.IntN(len(ward))
		pats := make([]*patient, 0, n)
		for i := 0; i < n; i++ {
			pats = append(pats, ward[(off+i)%len(ward)])
		}
		g.schedule(now.Add(time.Duration(r.IntN(600))*time.Second), &clinicianSession{c: c, pats: pats, sc: g.trapShiftStart})
	}
}

// ---- patient portal (external, mobile) ----

type portalSession struct {
	p      *patient
	ip, ua string
	token  string
	left   int
}

func (g *gen) startPortalSession(_ *gen, now time.Time) {
	r := g.r
	p := pick(r, g.clinic.patients)
	s := &portalSession{p: p, left: 2 + r.IntN(4), ua: "MyClinic/2.8.0 (iPhone; iOS 18.1)"}
	if chance(r, 0.5) {
		s.ip, s.ua = carrierIP(r), "MyClinic/2.8.0 (Android 14)"
	} else {
		s.ip = residentialIP(r)
	}
	s.token = mintJWT(r, "RS256", "ehr-idp-1", jwtClaims{Sub: "pt-" + p.mrn[3:], Iss: "https://idp.clinic.example.test", Aud: "ehr-portal",
		Iat: now, Exp: now.Add(30 * time.Minute), Roles: []string{"patient"}})
	rec := mk(r, now, srcClinic, s.ip, s.ua, "POST", clinicURL("/v1/portal/login", nil))
	body(rec, "application/json", newObj().s("email", p.p.Email).s("password", alnum(r, 12)).String())
	replyJSON(rec, 200, newObj().s("access_token", s.token).i("expires_in", 1800).String(), latency(r, 110, 0.3))
	g.emit(rec, nil)
	g.schedule(now.Add(thinkTime(r, 4*time.Second)), s)
}

func (s *portalSession) step(g *gen, now time.Time) (time.Time, bool) {
	r := g.r
	if s.left <= 0 {
		return now, false
	}
	s.left--
	var rec *recT
	switch r.IntN(4) {
	case 0:
		rec = mk(r, now, srcClinic, s.ip, s.ua, "GET", clinicURL("/v1/me", nil))
		replyJSON(rec, 200, patientJSON(s.p), latency(r, 40, 0.4))
	case 1:
		rec = mk(r, now, srcClinic, s.ip, s.ua, "GET", clinicURL("/v1/me/appointments", nil))
		replyJSON(rec, 200, `{"items":[{"date":"2026-11-24","time":"10:15","department":"Cardiology"}]}`, latency(r, 50, 0.4))
	case 2:
		rec = mk(r, now, srcClinic, s.ip, s.ua, "GET", clinicURL("/v1/me/results", nil))
		replyJSON(rec, 200, recordsJSON(r, s.p), latency(r, 70, 0.4))
	default:
		rec = mk(r, now, srcClinic, s.ip, s.ua, "POST", clinicURL("/v1/appointments", nil))
		body(rec, "application/json", newObj().s("mrn", s.p.mrn).s("department", pick(r, []string{"Cardiology", "Dermatology", "General Practice"})).s("preferred_date", now.Add(72*time.Hour).Format("2006-01-02")).s("reason", "Follow-up").String())
		replyJSON(rec, 201, newObj().s("appointment_id", "ap_"+alnum(r, 10)).s("status", "requested").String(), latency(r, 140, 0.4))
		addr := s.p.p.Street + ", " + s.p.p.City
		g.later(now.Add(200*time.Millisecond), func(g *gen, t time.Time) { g.geocode(g.r, t, addr, "10.30.3.11") })
	}
	bearer(rec, s.token)
	g.emit(rec, nil)
	return now.Add(thinkTime(r, 10*time.Second)), true
}
