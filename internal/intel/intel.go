// Package intel loads threat-intel feeds (Tor exit lists, IP blocklists,
// ipsum-style scored lists, FireHOL netsets) and answers, for a client
// address, whether a feed lists it or one of its networks. Lookups use a
// prefix table (github.com/gaissmai/bart) per feed; a Set swaps its feeds
// atomically so that lookups never block while feeds reload.
//
// Memory: each feed costs roughly its number of distinct prefixes times a few
// dozen bytes (bart's popcount-compressed nodes); ipsum's full list
// (≈120k addresses) stays in the low megabytes.
package intel

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gaissmai/bart"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/pipeline"
)

var _ pipeline.IntelLookup = (*Set)(nil)

// Kinds of feed.
const (
	KindTor       = "tor"
	KindBlocklist = "blocklist"
)

// Options tune one feed.
type Options struct {
	// MinCount is the minimum list count for ipsum-style "IP count" lines
	// (default 1: every listed address). Lines without a count always count as 1.
	MinCount int
	// Name of the feed in alerts and reports (default: the file name without
	// extension, or the URL host).
	Name string
}

// MaxFeedBytes bounds what one feed source may contain.
const MaxFeedBytes = 256 << 20

// Feed is one loaded feed with its parse report.
type Feed struct {
	Info     model.FeedInfo
	Name     string
	Filtered int         // entries below MinCount
	Errors   []LineError // first rejected lines (Info.Rejected counts all)
	opts     Options
	table    *bart.Table[int]
	mmdb     *mmdbFeed
	// LookupErrors counts MMDB records that failed to decode during lookups.
	lookupErrors *atomic.Int64
}

// Set is a collection of feeds. Lookup is safe for concurrent use, also
// while Load or Reload replace feeds.
type Set struct {
	mu    sync.Mutex // serializes Load/Reload
	feeds atomic.Pointer[[]*Feed]
	// Now is the clock used for the Loaded time of feeds (wall clock by
	// default; loading is not domain logic).
	Now func() time.Time
	// Client fetches http(s) sources.
	Client *http.Client
}

// NewSet returns an empty set.
func NewSet() *Set {
	s := &Set{Now: time.Now, Client: &http.Client{Timeout: 60 * time.Second}}
	s.feeds.Store(&[]*Feed{})
	return s
}

// Load reads a feed and adds it to the set (replacing a feed of the same
// kind and source). kind is "tor" or "blocklist"; source is a file path or
// an http(s) URL. Rejected lines are counted in the returned FeedInfo (see
// Details for their locations); a source without a single valid entry is an
// error and leaves the set unchanged.
func (s *Set) Load(kind, source string, opts Options) (model.FeedInfo, error) {
	if kind != KindTor && kind != KindBlocklist && kind != KindAnonymizer {
		return model.FeedInfo{}, fmt.Errorf("intel: unknown feed kind %q (want tor, blocklist or anonymizer)", kind)
	}
	if source == "" {
		return model.FeedInfo{}, fmt.Errorf("intel: %s feed: empty source", kind)
	}
	f, err := s.read(kind, source, opts)
	if err != nil {
		return model.FeedInfo{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.feeds.Load()
	next := make([]*Feed, 0, len(old)+1)
	replaced := false
	for _, o := range old {
		if o.Info.Kind == kind && o.Info.Source == source {
			next = append(next, f)
			replaced = true
		} else {
			next = append(next, o)
		}
	}
	if !replaced {
		next = append(next, f)
	}
	s.feeds.Store(&next)
	return f.Info, nil
}

// Reload re-reads every source. A source that fails keeps its previous
// contents; the errors are joined.
func (s *Set) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.feeds.Load()
	next := make([]*Feed, len(old))
	var errs []error
	for i, o := range old {
		f, err := s.read(o.Info.Kind, o.Info.Source, o.opts)
		if err != nil {
			errs = append(errs, err)
			next[i] = o
			continue
		}
		next[i] = f
	}
	s.feeds.Store(&next)
	return errors.Join(errs...)
}

func (s *Set) read(kind, source string, opts Options) (*Feed, error) {
	if opts.MinCount < 1 {
		opts.MinCount = 1
	}
	var (
		rc       io.ReadCloser
		modified time.Time
	)
	if strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://") {
		resp, err := s.Client.Get(source)
		if err != nil {
			return nil, fmt.Errorf("intel: %s feed %s: %w", kind, source, err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("intel: %s feed %s: HTTP status %d", kind, source, resp.StatusCode)
		}
		if lm := resp.Header.Get("Last-Modified"); lm != "" {
			modified, _ = http.ParseTime(lm)
		}
		rc = resp.Body
	} else {
		fh, err := os.Open(source)
		if err != nil {
			return nil, fmt.Errorf("intel: %s feed: %w", kind, err)
		}
		if st, err := fh.Stat(); err == nil {
			modified = st.ModTime()
		}
		rc = fh
	}
	defer rc.Close()
	name := opts.Name
	if name == "" {
		name = defaultName(source)
	}
	now := s.Now().UTC()
	if kind == KindAnonymizer {
		data, err := io.ReadAll(io.LimitReader(rc, MaxFeedBytes+1))
		if err != nil {
			return nil, fmt.Errorf("intel: %s feed %s: %w", kind, source, err)
		}
		if len(data) > MaxFeedBytes {
			return nil, fmt.Errorf("intel: %s feed %s: larger than %d bytes", kind, source, MaxFeedBytes)
		}
		m, md, err := openMMDB(data, source)
		if err != nil {
			return nil, fmt.Errorf("intel: %s feed: %w", kind, err)
		}
		info := model.FeedInfo{Kind: kind, Source: source, Format: "mmdb:" + md.DatabaseType, Entries: int(md.NodeCount), Loaded: now, Age: mmdbAge(md, now)}
		if md.BuildEpoch != 0 {
			built := md.BuildTime().UTC()
			info.Modified = &built
		}
		return &Feed{Info: info, Name: name, opts: opts, mmdb: m, lookupErrors: new(atomic.Int64)}, nil
	}
	lr := &io.LimitedReader{R: rc, N: MaxFeedBytes + 1}
	p, err := Parse(lr, source, opts.MinCount)
	if err != nil {
		return nil, fmt.Errorf("intel: %s feed: %w", kind, err)
	}
	if lr.N <= 0 {
		return nil, fmt.Errorf("intel: %s feed %s: larger than %d bytes", kind, source, MaxFeedBytes)
	}
	t := new(bart.Table[int])
	for _, e := range p.Entries {
		if old, ok := t.Get(e.Prefix); ok && old >= e.Count {
			continue
		}
		t.Insert(e.Prefix, e.Count)
	}
	info := model.FeedInfo{Kind: kind, Source: source, Format: p.Format, Entries: t.Size(), Rejected: p.Rejected, Loaded: now}
	if !modified.IsZero() {
		info.Age = formatAge(now.Sub(modified))
		m := modified.UTC()
		info.Modified = &m
	}
	return &Feed{Info: info, Name: name, Filtered: p.Filtered, Errors: p.Errors, opts: opts, table: t}, nil
}

func defaultName(source string) string {
	if i := strings.Index(source, "://"); i >= 0 {
		h := source[i+3:]
		if j := strings.IndexAny(h, "/?#"); j >= 0 {
			h = h[:j]
		}
		return h
	}
	b := filepath.Base(source)
	if ext := filepath.Ext(b); ext != "" && ext != b {
		b = strings.TrimSuffix(b, ext)
	}
	return b
}

func formatAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// Lookup implements pipeline.IntelLookup: which feeds list the address or
// one of its networks. Feed names are reported in load order.
func (s *Set) Lookup(ip netip.Addr) event.IntelMatch {
	var m event.IntelMatch
	if !ip.IsValid() {
		return m
	}
	ip = ip.Unmap().WithZone("")
	for _, f := range *s.feeds.Load() {
		if f.mmdb != nil {
			tor, flags, err := f.mmdb.lookup(ip)
			if err != nil {
				f.lookupErrors.Add(1)
				continue
			}
			if tor {
				m.Tor = true
			}
			if len(flags) > 0 {
				m.Feeds = append(m.Feeds, mmdbFeedName(flags, f.Name))
			}
			continue
		}
		c, ok := f.table.Lookup(ip)
		if !ok {
			continue
		}
		if f.Info.Kind == KindTor {
			m.Tor = true
			continue
		}
		m.Feeds = append(m.Feeds, f.Name)
		if c > m.Score {
			m.Score = c
		}
	}
	return m
}

// Feeds describes the loaded feeds, in load order.
func (s *Set) Feeds() []model.FeedInfo {
	fs := *s.feeds.Load()
	out := make([]model.FeedInfo, len(fs))
	for i, f := range fs {
		out[i] = f.Info
	}
	return out
}

// Details returns the loaded feeds with their parse reports (rejected line
// locations, filtered counts), sorted by kind then name.
func (s *Set) Details() []Feed {
	fs := *s.feeds.Load()
	out := make([]Feed, len(fs))
	for i, f := range fs {
		out[i] = *f
		out[i].table, out[i].mmdb = nil, nil
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Info.Kind != out[j].Info.Kind {
			return out[i].Info.Kind < out[j].Info.Kind
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// LookupErrors returns, per MMDB feed name, the records that failed to
// decode during lookups (such lookups count as "not listed").
func (s *Set) LookupErrors() map[string]int64 {
	out := map[string]int64{}
	for _, f := range *s.feeds.Load() {
		if f.lookupErrors != nil {
			out[f.Name] = f.lookupErrors.Load()
		}
	}
	return out
}

// Len returns the number of loaded feeds.
func (s *Set) Len() int { return len(*s.feeds.Load()) }
