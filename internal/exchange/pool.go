package exchange

// RecordPool recycles decoded records and their header maps. A caller that
// knows nothing keeps a record after it is done with it (the engine, once
// every analyzer has seen the event) puts it back, and the decoders that
// use the pool (Decoder.UsePool) fill the recycled records and maps instead
// of allocating new ones. Only records that a pooled decoder produced are
// taken back; Put ignores any other record. Not safe for concurrent use.
type RecordPool struct {
	recs []*Record
	maps []map[string]string
}

// Bounds of what the pool keeps.
const (
	poolMaxRecords = 4096
	poolMaxMaps    = 8192
)

// Put returns rec to the pool. The caller must not use rec afterwards.
func (p *RecordPool) Put(rec *Record) {
	if p == nil || rec == nil || !rec.pooled {
		return
	}
	for _, h := range []map[string]string{rec.Request.Headers, rec.Response.Headers} {
		if h != nil && len(p.maps) < poolMaxMaps {
			clear(h)
			p.maps = append(p.maps, h)
		}
	}
	*rec = Record{}
	if len(p.recs) < poolMaxRecords {
		p.recs = append(p.recs, rec)
	}
}

func (p *RecordPool) record() *Record {
	if p != nil {
		if n := len(p.recs); n > 0 {
			r := p.recs[n-1]
			p.recs = p.recs[:n-1]
			r.pooled = true
			return r
		}
		return &Record{pooled: true}
	}
	return new(Record)
}

// headerMap returns an empty map with room for n entries.
func (p *RecordPool) headerMap(n int) map[string]string {
	if p != nil {
		if k := len(p.maps); k > 0 {
			h := p.maps[k-1]
			p.maps = p.maps[:k-1]
			return h
		}
	}
	return make(map[string]string, n)
}

// UsePool makes the decoder take records and header maps from p (nil: stop).
func (d *Decoder) UsePool(p *RecordPool) {
	d.pool = p
	d.fast.pool = p
}

// Len returns how many records the pool holds for reuse.
func (p *RecordPool) Len() int { return len(p.recs) }
