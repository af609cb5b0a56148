package statecodec

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

type leaf struct {
	N    int64
	name string
}

type shape interface{ Area() float64 }

type square struct{ S float64 }

func (s *square) Area() float64 { return s.S * s.S }

type table struct {
	rows    []leaf
	onEvict func(int) // wiring: kept from the destination
	evicted int
}

type state struct {
	A, B     *leaf // shared: A == B
	C        *leaf
	M        map[string]*leaf
	S        []string
	Arr      [3]uint16
	T        time.Time
	IP       netip.Addr
	Any      any
	Shape    shape
	Tab      *table
	mu       sync.Mutex
	cache    []byte // skipped with SkipFields
	F        float64
	U        uint8
	Nil      *leaf
	EmptyMap map[int]int
}

func newState() *state {
	s := &state{Tab: &table{}}
	s.Tab.onEvict = func(n int) { s.Tab.evicted += n }
	return s
}

func filled() *state {
	s := newState()
	s.mu.Lock() // a lock is not state: held or not, it is skipped
	defer s.mu.Unlock()
	l := &leaf{N: 7, name: "seven"}
	s.A, s.B, s.C = l, l, &leaf{N: -3, name: "minus"}
	s.M = map[string]*leaf{"x": l, "y": {N: 1}}
	s.S = []string{"a", "", "ccc"}
	s.Arr = [3]uint16{1, 2, 65535}
	s.T = time.Date(2026, 11, 16, 1, 2, 3, 4, time.UTC)
	s.IP = netip.MustParseAddr("2001:db8::1")
	s.Any = map[string]any{"k": []string{"v"}, "n": 3.5}
	s.Shape = &square{S: 2}
	s.Tab.rows = []leaf{{N: 1, name: "r1"}, {N: 2, name: "r2"}}
	s.Tab.evicted = 4
	s.cache = []byte("not state")
	s.F, s.U = 1.25, 200
	s.EmptyMap = map[int]int{}
	return s
}

func codec(t *testing.T) *Codec {
	t.Helper()
	c, err := New(newState(), SkipFields(state{}, "cache"), Register(&square{}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRoundTrip(t *testing.T) {
	c := codec(t)
	src := filled()
	b, err := c.Encode(nil, src)
	if err != nil {
		t.Fatal(err)
	}
	dst := newState()
	if err := c.Decode(b, dst); err != nil {
		t.Fatal(err)
	}
	if dst.A != dst.B || dst.M["x"] != dst.A {
		t.Error("shared pointers not restored shared")
	}
	if *dst.A != *src.A || *dst.C != *src.C || dst.M["y"].N != 1 {
		t.Errorf("leaves: %+v %+v", dst.A, dst.C)
	}
	if !reflect.DeepEqual(dst.S, src.S) || dst.Arr != src.Arr || !dst.T.Equal(src.T) || dst.IP != src.IP || dst.F != src.F || dst.U != src.U {
		t.Errorf("values differ: %+v", dst)
	}
	if !reflect.DeepEqual(dst.Any, src.Any) {
		t.Errorf("interface value: %#v", dst.Any)
	}
	if dst.Shape.Area() != 4 {
		t.Errorf("registered dynamic type: %v", dst.Shape)
	}
	if dst.cache != nil {
		t.Error("a skipped field was restored")
	}
	if dst.Nil != nil || dst.EmptyMap == nil || len(dst.EmptyMap) != 0 {
		t.Error("nil and empty differ")
	}
	// The table holds wiring: restored in place, its callback is the
	// destination's and closes over the destination.
	if !reflect.DeepEqual(dst.Tab.rows, src.Tab.rows) || dst.Tab.evicted != 4 {
		t.Errorf("table: %+v", dst.Tab)
	}
	// Same state, same bytes.
	again, err := c.Encode(nil, dst)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, b) {
		i := 0
		for i < len(b) && i < len(again) && b[i] == again[i] {
			i++
		}
		t.Errorf("re-encoding the restored state gives other bytes at %d: %s", i, c.Explain(dst, i))
	}
	dst.Tab.onEvict(1)
	if dst.Tab.evicted != 5 || src.Tab.evicted != 4 {
		t.Error("the restored table's callback is not the destination's")
	}
}

func TestSchemaAndErrors(t *testing.T) {
	c := codec(t)
	b, err := c.Encode(nil, filled())
	if err != nil {
		t.Fatal(err)
	}
	type other struct{ X int }
	oc, err := New((*other)(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := oc.Decode(b, &other{}); !errors.Is(err, ErrSchema) {
		t.Errorf("another type graph: %v", err)
	}
	if err := c.Decode(b[:len(b)-3], newState()); err == nil {
		t.Errorf("truncated: %v", err)
	}
	if err := c.Decode([]byte("nonsense"), newState()); err == nil {
		t.Error("not a snapshot: no error")
	}
	// An interface holding a type the codec does not know is refused
	// with the path of the value.
	s := filled()
	s.Any = struct{ Q int }{1}
	if _, err := c.Encode(nil, s); err == nil || !strings.Contains(err.Error(), ".Any") {
		t.Errorf("unknown dynamic type: %v", err)
	}
	// A callback the destination lacks cannot be restored.
	d := newState()
	d.Tab = nil
	if err := c.Decode(b, d); err == nil || !strings.Contains(err.Error(), "onEvict") {
		t.Errorf("destination without the callback: %v", err)
	}
}

// TestSharedDefaultsUntouched: restoring never writes into an object the
// destination shares with others when the state holds the same value.
func TestSharedDefaultsUntouched(t *testing.T) {
	shared := &leaf{N: 1, name: "default"}
	type holder struct{ P *leaf }
	c, err := New((*holder)(nil))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Encode(nil, &holder{P: &leaf{N: 1, name: "default"}})
	h := &holder{P: shared}
	if err := c.Decode(b, h); err != nil {
		t.Fatal(err)
	}
	if h.P != shared {
		t.Error("an equal object was replaced")
	}
	b, _ = c.Encode(nil, &holder{P: &leaf{N: 2, name: "own"}})
	h = &holder{P: shared}
	if err := c.Decode(b, h); err != nil {
		t.Fatal(err)
	}
	if shared.N != 1 || h.P.N != 2 {
		t.Errorf("shared object written (%v) or state lost (%v)", shared, h.P)
	}
}

// FuzzDecode: any bytes after a valid header decode to an error or a
// state, never a panic.
func FuzzDecode(f *testing.F) {
	c, err := New(newState(), SkipFields(state{}, "cache"), Register(&square{}))
	if err != nil {
		f.Fatal(err)
	}
	b, _ := c.Encode(nil, filled())
	f.Add(b[len(magic)+16:])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		in := append(append([]byte(magic), c.fp[:]...), body...)
		_ = c.Decode(in, newState())
	})
}
