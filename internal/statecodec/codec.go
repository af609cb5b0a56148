// Package statecodec serializes the in-memory state of an analysis
// pipeline (detector windows and baselines, the inventory's template trie,
// classification and posture state, the reorder buffer) so that another
// process can restore it and continue exactly where this one stopped. It
// is the one mechanism behind "state that moves" in a cluster
// (docs/cluster.md): a partition's engine is checkpointed with the stream
// sequence it covers and restored by the worker that takes the partition
// over.
//
// The state is plain data (numbers, strings, slices, maps, pointers,
// sketches) spread over unexported fields of many packages, and helpers
// keep adding fields to it. Instead of a hand-written Snapshot/Restore pair
// per component — a second copy of every state struct to keep in step —
// the codec walks the value graph by reflection:
//
//   - scalars, strings, arrays, slices, maps and structs (exported or not)
//     are written field by field; plain-old-data arrays and structs as raw
//     bytes;
//   - types that implement encoding.BinaryMarshaler (time.Time,
//     netip.Addr, url.URL, HyperLogLog sketches) are written with it;
//   - pointers keep their identity: an object reached twice is written
//     once and restored shared;
//   - interface values name their dynamic type, which must be one the
//     codec knows (every type reachable from the root, plus Register);
//   - functions, channels, unsafe pointers and synchronization types
//     (sync.Mutex, sync.Pool, …) are wiring, not state: they are not
//     written, and Decode keeps what the destination holds.
//
// Decode therefore restores into a value built the same way as the one
// encoded (the same constructor and configuration): it writes the state
// into it in place where the destination holds wiring (a table whose
// eviction callback closes over its owner), and replaces plain objects.
// It never writes a value equal to what the destination already holds, so
// objects shared with other instances (package-level defaults) are never
// written.
//
// A snapshot starts with a fingerprint of the type graph: a snapshot made
// by a build whose state types differ is refused (ErrSchema) and the
// caller rebuilds the state by replaying its input instead.
package statecodec

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"crypto/sha256"
)

// ErrSchema is returned by Decode when the snapshot was written for other
// state types (another version of the software).
var ErrSchema = errors.New("statecodec: snapshot made for other state types")

const magic = "PALSTATE\x01"

// Codec encodes and decodes the state reachable from roots of one type.
// It is safe for concurrent use.
type Codec struct {
	root       reflect.Type
	skipTypes  map[reflect.Type]bool
	skipFields map[reflect.Type]map[string]bool
	skipNames  map[string]bool
	structural map[reflect.Type]bool
	extra      []reflect.Type

	mu    sync.Mutex
	plans map[reflect.Type]*plan
	names map[string]reflect.Type // interface dynamic types by name
	fp    [16]byte
}

// Option configures a Codec.
type Option func(*Codec)

// SkipType leaves every value of the type of v out of snapshots (wiring
// or configuration the constructor rebuilds; v may be a nil pointer of the
// type to skip, e.g. (*intel.Set)(nil)).
func SkipType(v any) Option {
	return func(c *Codec) { c.skipTypes[reflect.TypeOf(v)] = true }
}

// Structural encodes the type of v (a value or a pointer to one) field by
// field even though it implements encoding.BinaryMarshaler: an exact copy
// of its internals, where its own encoding would normalize them (a sketch
// whose encoding is not canonical, say) and a restored value would not
// behave exactly like the original.
func Structural(v any) Option {
	return func(c *Codec) {
		t := reflect.TypeOf(v)
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		c.structural[t] = true
	}
}

// SkipTypeNamed is SkipType for a type another package does not export,
// named as "import/path.Name" (transient per-event caches, say).
func SkipTypeNamed(names ...string) Option {
	return func(c *Codec) {
		for _, n := range names {
			c.skipNames[n] = true
		}
	}
}

// SkipFields leaves the named fields of the struct type of v (a value or a
// pointer to one) out of snapshots: caches and free lists whose content
// does not change results.
func SkipFields(v any, names ...string) Option {
	return func(c *Codec) {
		t := reflect.TypeOf(v)
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		m := c.skipFields[t]
		if m == nil {
			m = map[string]bool{}
			c.skipFields[t] = m
		}
		for _, n := range names {
			m[n] = true
		}
	}
}

// Register makes the types of vs known as dynamic types of interface
// values (the types reachable from the root are known already).
func Register(vs ...any) Option {
	return func(c *Codec) {
		for _, v := range vs {
			c.extra = append(c.extra, reflect.TypeOf(v))
		}
	}
}

// builtins are the dynamic types interface values commonly hold (evidence
// details, options).
var builtins = []any{
	false, int(0), int8(0), int16(0), int32(0), int64(0), uint(0), uint8(0), uint16(0), uint32(0), uint64(0),
	float32(0), float64(0), "", []string(nil), []any(nil), map[string]any(nil), []int(nil), []int64(nil),
	[]float64(nil), []uint64(nil), map[string]string(nil), map[string]int64(nil), map[string]float64(nil),
}

// New returns a codec for roots of the type of root (a pointer). When root
// is not nil it is a prototype: the dynamic types of the interface values
// it holds (detectors behind an interface, say) are learned from it, so
// that they need no Register.
func New(root any, opts ...Option) (*Codec, error) {
	t := reflect.TypeOf(root)
	if t == nil || t.Kind() != reflect.Pointer {
		return nil, fmt.Errorf("statecodec: root must be a pointer, not %v", t)
	}
	c := &Codec{root: t, skipTypes: map[reflect.Type]bool{}, skipFields: map[reflect.Type]map[string]bool{}, skipNames: map[string]bool{},
		structural: map[reflect.Type]bool{}, plans: map[reflect.Type]*plan{}, names: map[string]reflect.Type{}}
	for _, o := range opts {
		o(c)
	}
	for _, b := range builtins {
		c.extra = append(c.extra, reflect.TypeOf(b))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	rp := c.planFor(t, &err)
	for _, x := range c.extra {
		c.planFor(x, &err)
	}
	if v := reflect.ValueOf(root); !v.IsNil() {
		for changed := true; changed; {
			changed = c.markIfaces()
		}
		c.learn(rp.elem, v.UnsafePointer(), map[unsafe.Pointer]bool{}, &err)
	}
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write([]byte(magic))
	fingerprint(h, rp, map[*plan]int{})
	// The interface types' names are part of the contract too.
	names := make([]string, 0, len(c.names))
	for n := range c.names {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		h.Write([]byte(n))
		fingerprint(h, c.plans[c.names[n]], map[*plan]int{})
	}
	copy(c.fp[:], h.Sum(nil))
	return c, nil
}

// Fingerprint identifies the state types the codec was built for.
func (c *Codec) Fingerprint() [16]byte { return c.fp }

type kind uint8

const (
	kSkip kind = iota
	kBool
	kInt
	kUint
	kFloat32
	kFloat64
	kComplex64
	kComplex128
	kString
	kPOD // raw bytes: arrays and structs without pointers, strings or special types
	kMarshal
	kArray
	kSlice
	kMap
	kPointer
	kInterface
	kStruct
	kFunc // skipped, but its nil-ness is recorded (see decodeFunc)
)

type field struct {
	name   string
	dot    string // "." + name: the encoder's path element, built once
	offset uintptr
	p      *plan
}

type plan struct {
	t      reflect.Type
	k      kind
	size   uintptr
	fields []field
	elem   *plan // array, slice, pointer
	key    *plan // map
	n      int   // array length
	// wiring: the type holds functions, channels or skipped values
	// directly (through struct fields and arrays, not pointers): such an
	// object is restored in place, never replaced.
	wiring bool
	name   string
	// iface: values of the type may hold interface values (learn).
	iface bool
	// valueMarshal: the type itself (not its pointer) implements
	// encoding.BinaryMarshaler (kMarshal), decided once.
	valueMarshal bool
	paren        string // "(" + t.String() + ")": the path element of an interface's dynamic value
}

var (
	binMarshaler   = reflect.TypeFor[encoding.BinaryMarshaler]()
	binUnmarshaler = reflect.TypeFor[encoding.BinaryUnmarshaler]()
)

func typeName(t reflect.Type) string {
	if t.Name() != "" && t.PkgPath() != "" {
		return t.PkgPath() + "." + t.Name()
	}
	return t.String()
}

func isSyncType(t reflect.Type) bool {
	switch t.PkgPath() {
	case "sync", "runtime", "weak":
		return t.Kind() == reflect.Struct
	}
	return false
}

// planFor builds (or returns) the plan of t; c.mu is held.
func (c *Codec) planFor(t reflect.Type, errp *error) *plan {
	if p, ok := c.plans[t]; ok {
		return p
	}
	p := &plan{t: t, size: t.Size(), name: typeName(t), valueMarshal: t.Implements(binMarshaler), paren: "(" + t.String() + ")"}
	c.plans[t] = p
	if _, dup := c.names[p.name]; !dup {
		c.names[p.name] = t
	}
	fail := func(format string, a ...any) {
		if *errp == nil {
			*errp = fmt.Errorf("statecodec: "+format, a...)
		}
	}
	switch {
	case c.skipTypes[t] || c.skipNames[p.name] || isSyncType(t):
		p.k, p.wiring = kSkip, true
		return p
	case c.structural[t]:
	case t.Implements(binMarshaler) && reflect.PointerTo(t).Implements(binUnmarshaler) && t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface:
		p.k = kMarshal
		return p
	case reflect.PointerTo(t).Implements(binMarshaler) && reflect.PointerTo(t).Implements(binUnmarshaler) && t.Kind() == reflect.Struct:
		p.k = kMarshal
		return p
	}
	switch t.Kind() {
	case reflect.Bool:
		p.k = kBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		p.k = kInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		p.k = kUint
	case reflect.Float32:
		p.k = kFloat32
	case reflect.Float64:
		p.k = kFloat64
	case reflect.Complex64:
		p.k = kComplex64
	case reflect.Complex128:
		p.k = kComplex128
	case reflect.String:
		p.k = kString
	case reflect.Func:
		p.k, p.wiring = kFunc, true
	case reflect.Chan, reflect.UnsafePointer:
		p.k, p.wiring = kSkip, true
	case reflect.Array:
		p.k, p.n = kArray, t.Len()
		p.elem = c.planFor(t.Elem(), errp)
		p.wiring = p.elem.wiring
		if p.elem.pod() {
			p.k = kPOD
		}
	case reflect.Slice:
		p.k = kSlice
		p.elem = c.planFor(t.Elem(), errp)
	case reflect.Map:
		p.k = kMap
		p.key = c.planFor(t.Key(), errp)
		p.elem = c.planFor(t.Elem(), errp)
		if p.key.k == kSkip || p.key.k == kFunc || p.elem.k == kFunc {
			fail("map %v: keys or values are not state", t)
		}
	case reflect.Pointer:
		p.k = kPointer
		p.elem = c.planFor(t.Elem(), errp)
		if p.elem.k == kSkip {
			p.k, p.wiring = kSkip, true // a reference to wiring is wiring
		}
	case reflect.Interface:
		p.k = kInterface
	case reflect.Struct:
		if t.PkgPath() == "unique" || t.PkgPath() == "reflect" {
			fail("%v cannot be restored in another process", t)
		}
		p.k = kStruct
		pod := true
		skip := c.skipFields[t]
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Name == "_" && f.Type.Size() == 0 {
				continue
			}
			if skip[f.Name] {
				p.wiring = true
				pod = false
				continue
			}
			fp := c.planFor(f.Type, errp)
			if fp.k == kSkip {
				p.wiring, pod = true, false
				continue
			}
			if fp.wiring && (fp.k == kStruct || fp.k == kArray || fp.k == kFunc) {
				p.wiring = true
			}
			if !fp.pod() {
				pod = false
			}
			p.fields = append(p.fields, field{name: f.Name, dot: "." + f.Name, offset: f.Offset, p: fp})
		}
		if pod && len(p.fields) > 0 {
			p.k = kPOD
		}
		if pod && len(p.fields) == 0 && t.Size() == 0 {
			p.k = kPOD
		}
	default:
		fail("unsupported kind %v (%v)", t.Kind(), t)
	}
	return p
}

// markIfaces propagates plan.iface one step; it reports a change.
func (c *Codec) markIfaces() bool {
	changed := false
	for _, p := range c.plans {
		if p.iface {
			continue
		}
		h := p.k == kInterface || p.elem != nil && p.elem.iface || p.key != nil && p.key.iface
		for _, f := range p.fields {
			h = h || f.p.iface
		}
		if h {
			p.iface, changed = true, true
		}
	}
	return changed
}

// learn walks a prototype value and plans the dynamic types of the
// interface values it holds; c.mu is held.
func (c *Codec) learn(p *plan, ptr unsafe.Pointer, seen map[unsafe.Pointer]bool, errp *error) {
	if !p.iface {
		return
	}
	switch p.k {
	case kArray:
		for i := 0; i < p.n; i++ {
			c.learn(p.elem, unsafe.Add(ptr, uintptr(i)*p.elem.size), seen, errp)
		}
	case kSlice:
		h := (*sliceHeader)(ptr)
		for i := 0; i < h.len; i++ {
			c.learn(p.elem, unsafe.Add(h.data, uintptr(i)*p.elem.size), seen, errp)
		}
	case kMap:
		m := reflect.NewAt(p.t, ptr).Elem()
		it := m.MapRange()
		for it.Next() {
			v := reflect.New(p.t.Elem())
			v.Elem().SetIterValue(it)
			c.learn(p.elem, v.UnsafePointer(), seen, errp)
		}
	case kPointer:
		q := *(*unsafe.Pointer)(ptr)
		if q != nil && !seen[q] {
			seen[q] = true
			c.learn(p.elem, q, seen, errp)
		}
	case kInterface:
		v := reflect.NewAt(p.t, ptr).Elem()
		if v.IsNil() {
			return
		}
		dt := v.Elem().Type()
		dp := c.planFor(dt, errp)
		for changed := true; changed; {
			changed = c.markIfaces()
		}
		tmp := reflect.New(dt)
		tmp.Elem().Set(v.Elem())
		c.learn(dp, tmp.UnsafePointer(), seen, errp)
	case kStruct:
		for _, f := range p.fields {
			c.learn(f.p, unsafe.Add(ptr, f.offset), seen, errp)
		}
	}
}

func (p *plan) pod() bool {
	switch p.k {
	case kBool, kInt, kUint, kFloat32, kFloat64, kComplex64, kComplex128, kPOD:
		return true
	}
	return false
}

func fingerprint(h interface{ Write([]byte) (int, error) }, p *plan, seen map[*plan]int) {
	if i, ok := seen[p]; ok {
		fmt.Fprintf(h, "@%d;", i)
		return
	}
	seen[p] = len(seen)
	fmt.Fprintf(h, "%s:%d:%d:%d{", p.name, p.k, p.size, p.n)
	for _, f := range p.fields {
		fmt.Fprintf(h, "%s@%d=", f.name, f.offset)
		fingerprint(h, f.p, seen)
	}
	if p.key != nil {
		fingerprint(h, p.key, seen)
	}
	if p.elem != nil {
		fingerprint(h, p.elem, seen)
	}
	h.Write([]byte("}"))
}

// ---- encoding ----

type ptrKey struct {
	addr uintptr
	t    reflect.Type
}

type encoder struct {
	c     *Codec
	buf   []byte
	ptrs  map[ptrKey]uint64
	types map[reflect.Type]uint64
	path  []string
	sizes map[string]int // bytes written per type (Sizes)
	// explain: the path of the innermost value covering byte `at` (Explain)
	at      int
	atPath  string
	explain bool
}

// Encode appends the snapshot of the state reachable from root (a pointer
// of the codec's root type) to dst and returns it.
func (c *Codec) Encode(dst []byte, root any) (out []byte, err error) {
	v := reflect.ValueOf(root)
	if v.Type() != c.root || v.IsNil() {
		return dst, fmt.Errorf("statecodec: root is %v, codec made for %v", v.Type(), c.root)
	}
	e := &encoder{c: c, buf: append(dst, magic...), ptrs: map[ptrKey]uint64{}, types: map[reflect.Type]uint64{}}
	e.buf = append(e.buf, c.fp[:]...)
	defer func() {
		if r := recover(); r != nil {
			if ee, ok := r.(encodeError); ok {
				err = ee.err
				return
			}
			panic(r)
		}
	}()
	rp := c.plan(c.root.Elem())
	e.ptrs[ptrKey{uintptr(v.UnsafePointer()), c.root}] = 0
	e.value(rp, v.UnsafePointer())
	return e.buf, nil
}

// Sizes reports the bytes a snapshot of root spends per type (largest
// first, at most n): a tool to find configuration that should be skipped.
func (c *Codec) Sizes(root any, n int) []string {
	e := &encoder{c: c, ptrs: map[ptrKey]uint64{}, types: map[reflect.Type]uint64{}, sizes: map[string]int{}}
	v := reflect.ValueOf(root)
	func() {
		defer func() { recover() }()
		e.value(c.plan(c.root.Elem()), v.UnsafePointer())
	}()
	type kv struct {
		k string
		v int
	}
	var all []kv
	for k, v := range e.sizes {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v })
	var out []string
	for i := 0; i < len(all) && i < n; i++ {
		out = append(out, fmt.Sprintf("%10d %s", all[i].v, all[i].k))
	}
	return out
}

// Explain returns the path of the value of root whose encoding covers byte
// offset at of its snapshot (finding where two snapshots differ).
func (c *Codec) Explain(root any, at int) string {
	e := &encoder{c: c, buf: make([]byte, len(magic)+16), ptrs: map[ptrKey]uint64{}, types: map[reflect.Type]uint64{}, at: at, explain: true}
	v := reflect.ValueOf(root)
	func() {
		defer func() { recover() }()
		e.ptrs[ptrKey{uintptr(v.UnsafePointer()), c.root}] = 0
		e.value(c.plan(c.root.Elem()), v.UnsafePointer())
	}()
	return e.atPath
}

func (c *Codec) plan(t reflect.Type) *plan {
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	p := c.planFor(t, &err)
	if err != nil {
		panic(encodeError{err})
	}
	return p
}

type encodeError struct{ err error }

func (e *encoder) fail(format string, a ...any) {
	panic(encodeError{fmt.Errorf("statecodec: %s: %s", strings.Join(e.path, ""), fmt.Sprintf(format, a...))})
}

func (e *encoder) uvarint(x uint64) { e.buf = binary.AppendUvarint(e.buf, x) }

func (e *encoder) value(p *plan, ptr unsafe.Pointer) {
	if e.explain {
		start := len(e.buf)
		defer func() {
			if start <= e.at && e.at < len(e.buf) && e.atPath == "" {
				e.atPath = strings.Join(e.path, "") + " (" + p.t.String() + ")"
			}
		}()
	}
	if e.sizes != nil {
		before := len(e.buf)
		defer func() { e.sizes[p.name] += len(e.buf) - before }()
	}
	switch p.k {
	case kSkip:
	case kFunc:
		if *(*unsafe.Pointer)(ptr) == nil {
			e.buf = append(e.buf, 0)
		} else {
			e.buf = append(e.buf, 1)
		}
	case kBool:
		if *(*bool)(ptr) {
			e.buf = append(e.buf, 1)
		} else {
			e.buf = append(e.buf, 0)
		}
	case kInt:
		e.buf = binary.AppendVarint(e.buf, loadInt(ptr, p.size))
	case kUint:
		e.buf = binary.AppendUvarint(e.buf, loadUint(ptr, p.size))
	case kFloat32:
		e.buf = binary.LittleEndian.AppendUint32(e.buf, *(*uint32)(ptr))
	case kFloat64:
		e.buf = binary.LittleEndian.AppendUint64(e.buf, *(*uint64)(ptr))
	case kComplex64:
		e.buf = binary.LittleEndian.AppendUint64(e.buf, *(*uint64)(ptr))
	case kComplex128:
		e.buf = binary.LittleEndian.AppendUint64(e.buf, *(*uint64)(ptr))
		e.buf = binary.LittleEndian.AppendUint64(e.buf, *(*uint64)(unsafe.Add(ptr, 8)))
	case kString:
		s := *(*string)(ptr)
		e.uvarint(uint64(len(s)))
		e.buf = append(e.buf, s...)
	case kPOD:
		e.buf = append(e.buf, unsafe.Slice((*byte)(ptr), p.size)...)
	case kMarshal:
		v := reflect.NewAt(p.t, ptr)
		var m encoding.BinaryMarshaler
		if p.valueMarshal {
			m = v.Elem().Interface().(encoding.BinaryMarshaler)
		} else {
			m = v.Interface().(encoding.BinaryMarshaler)
		}
		b, err := m.MarshalBinary()
		if err != nil {
			e.fail("%v: %v", p.t, err)
		}
		e.uvarint(uint64(len(b)))
		e.buf = append(e.buf, b...)
	case kArray:
		es := p.elem.size
		for i := 0; i < p.n; i++ {
			e.value(p.elem, unsafe.Add(ptr, uintptr(i)*es))
		}
	case kSlice:
		h := (*sliceHeader)(ptr)
		if h.data == nil && h.len == 0 {
			e.uvarint(0)
			return
		}
		e.uvarint(uint64(h.len) + 1)
		if h.len == 0 {
			return
		}
		if p.elem.pod() {
			e.buf = append(e.buf, unsafe.Slice((*byte)(h.data), uintptr(h.len)*p.elem.size)...)
			return
		}
		es := p.elem.size
		for i := 0; i < h.len; i++ {
			e.value(p.elem, unsafe.Add(h.data, uintptr(i)*es))
		}
	case kMap:
		m := reflect.NewAt(p.t, ptr).Elem()
		if m.IsNil() {
			e.uvarint(0)
			return
		}
		e.uvarint(uint64(m.Len()) + 1)
		// Entries in the order of their encoded keys: the same state
		// gives the same bytes (keys hold no pointers: their encoding
		// does not depend on what was encoded before).
		type entry struct {
			k   []byte
			key reflect.Value
		}
		entries := make([]entry, 0, m.Len())
		it := m.MapRange()
		for it.Next() {
			kt := reflect.New(p.t.Key()).Elem()
			kt.SetIterKey(it)
			ke := &encoder{c: e.c, ptrs: map[ptrKey]uint64{}, types: map[reflect.Type]uint64{}}
			ke.value(p.key, kt.Addr().UnsafePointer())
			entries = append(entries, entry{ke.buf, kt})
		}
		sort.Slice(entries, func(i, j int) bool { return string(entries[i].k) < string(entries[j].k) })
		vt := reflect.New(p.t.Elem()).Elem()
		for _, en := range entries {
			e.buf = append(e.buf, en.k...)
			vt.Set(m.MapIndex(en.key))
			e.value(p.elem, vt.Addr().UnsafePointer())
		}
	case kPointer:
		q := *(*unsafe.Pointer)(ptr)
		if q == nil {
			e.uvarint(0)
			return
		}
		k := ptrKey{uintptr(q), p.t}
		if id, ok := e.ptrs[k]; ok {
			e.uvarint(id + 2)
			return
		}
		e.ptrs[k] = uint64(len(e.ptrs))
		e.uvarint(1)
		e.path = append(e.path, "*")
		e.value(p.elem, q)
		e.path = e.path[:len(e.path)-1]
	case kInterface:
		v := reflect.NewAt(p.t, ptr).Elem()
		if v.IsNil() {
			e.uvarint(0)
			return
		}
		dv := v.Elem()
		dt := dv.Type()
		if id, ok := e.types[dt]; ok {
			e.uvarint(id + 2)
		} else {
			e.c.mu.Lock()
			known, ok := e.c.names[typeName(dt)]
			e.c.mu.Unlock()
			if !ok || known != dt {
				e.fail("interface holds %v, a type the codec does not know (statecodec.Register it)", dt)
			}
			e.types[dt] = uint64(len(e.types))
			e.uvarint(1)
			name := typeName(dt)
			e.uvarint(uint64(len(name)))
			e.buf = append(e.buf, name...)
		}
		dp := e.c.plan(dt)
		e.path = append(e.path, dp.paren)
		if dt.Kind() == reflect.Pointer {
			tmp := dv.UnsafePointer()
			e.value(dp, unsafe.Pointer(&tmp))
		} else {
			tmp := reflect.New(dt)
			tmp.Elem().Set(dv)
			e.value(dp, tmp.UnsafePointer())
		}
		e.path = e.path[:len(e.path)-1]
	case kStruct:
		for i := range p.fields {
			f := &p.fields[i]
			e.path = append(e.path, f.dot)
			e.value(f.p, unsafe.Add(ptr, f.offset))
			e.path = e.path[:len(e.path)-1]
		}
	}
}

type sliceHeader struct {
	data unsafe.Pointer
	len  int
	cap  int
}

func loadInt(p unsafe.Pointer, size uintptr) int64 {
	switch size {
	case 1:
		return int64(*(*int8)(p))
	case 2:
		return int64(*(*int16)(p))
	case 4:
		return int64(*(*int32)(p))
	}
	return *(*int64)(p)
}

func loadUint(p unsafe.Pointer, size uintptr) uint64 {
	switch size {
	case 1:
		return uint64(*(*uint8)(p))
	case 2:
		return uint64(*(*uint16)(p))
	case 4:
		return uint64(*(*uint32)(p))
	}
	return *(*uint64)(p)
}

// ---- decoding ----

type decoder struct {
	c     *Codec
	b     []byte
	ptrs  []unsafe.Pointer
	types []reflect.Type
	path  []string
}

// Decode restores the snapshot src into root, a value of the codec's root
// type built the same way as the one encoded (see the package comment).
// On error root may be partly restored: discard it.
func (c *Codec) Decode(src []byte, root any) (err error) {
	v := reflect.ValueOf(root)
	if v.Type() != c.root || v.IsNil() {
		return fmt.Errorf("statecodec: root is %v, codec made for %v", v.Type(), c.root)
	}
	if len(src) < len(magic)+16 || string(src[:len(magic)]) != magic {
		return errors.New("statecodec: not a snapshot")
	}
	if [16]byte(src[len(magic):len(magic)+16]) != c.fp {
		return ErrSchema
	}
	d := &decoder{c: c, b: src[len(magic)+16:]}
	defer func() {
		if r := recover(); r != nil {
			if ee, ok := r.(encodeError); ok {
				err = ee.err
				return
			}
			if re, ok := r.(error); ok && strings.Contains(re.Error(), "index out of range") {
				err = fmt.Errorf("statecodec: truncated snapshot at %s", strings.Join(d.path, ""))
				return
			}
			panic(r)
		}
	}()
	d.ptrs = append(d.ptrs, v.UnsafePointer())
	d.value(c.plan(c.root.Elem()), v.UnsafePointer())
	if len(d.b) != 0 {
		return fmt.Errorf("statecodec: %d bytes left after the snapshot", len(d.b))
	}
	return nil
}

func (d *decoder) fail(format string, a ...any) {
	panic(encodeError{fmt.Errorf("statecodec: decode %s: %s", strings.Join(d.path, ""), fmt.Sprintf(format, a...))})
}

func (d *decoder) uvarint() uint64 {
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) take(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.fail("truncated (%d bytes wanted, %d left)", n, len(d.b))
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

// value decodes into *ptr, writing only what differs.
func (d *decoder) value(p *plan, ptr unsafe.Pointer) {
	switch p.k {
	case kSkip:
	case kFunc:
		nonNil := d.take(1)[0] == 1
		if nonNil && *(*unsafe.Pointer)(ptr) == nil {
			d.fail("%v was set when encoded but the destination has none (restore into a value built like the encoded one)", p.t)
		}
	case kBool:
		b := d.take(1)[0] == 1
		if *(*bool)(ptr) != b {
			*(*bool)(ptr) = b
		}
	case kInt:
		x, n := binary.Varint(d.b)
		if n <= 0 {
			d.fail("bad varint")
		}
		d.b = d.b[n:]
		if loadInt(ptr, p.size) != x {
			storeUint(ptr, p.size, uint64(x))
		}
	case kUint:
		x := d.uvarint()
		if loadUint(ptr, p.size) != x {
			storeUint(ptr, p.size, x)
		}
	case kFloat32:
		x := binary.LittleEndian.Uint32(d.take(4))
		if *(*uint32)(ptr) != x {
			*(*uint32)(ptr) = x
		}
	case kFloat64, kComplex64:
		x := binary.LittleEndian.Uint64(d.take(8))
		if *(*uint64)(ptr) != x {
			*(*uint64)(ptr) = x
		}
	case kComplex128:
		b := d.take(16)
		x, y := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
		if *(*uint64)(ptr) != x || *(*uint64)(unsafe.Add(ptr, 8)) != y {
			*(*uint64)(ptr), *(*uint64)(unsafe.Add(ptr, 8)) = x, y
		}
	case kString:
		b := d.take(d.uvarint())
		if *(*string)(ptr) != string(b) {
			*(*string)(ptr) = string(b)
		}
	case kPOD:
		b := d.take(uint64(p.size))
		dst := unsafe.Slice((*byte)(ptr), p.size)
		if string(dst) != string(b) {
			copy(dst, b)
		}
	case kMarshal:
		b := d.take(d.uvarint())
		v := reflect.New(p.t)
		if err := v.Interface().(encoding.BinaryUnmarshaler).UnmarshalBinary(b); err != nil {
			d.fail("%v: %v", p.t, err)
		}
		dst := reflect.NewAt(p.t, ptr).Elem()
		if !reflect.DeepEqual(dst.Interface(), v.Elem().Interface()) {
			dst.Set(v.Elem())
		}
	case kArray:
		es := p.elem.size
		for i := 0; i < p.n; i++ {
			d.value(p.elem, unsafe.Add(ptr, uintptr(i)*es))
		}
	case kSlice:
		n := d.uvarint()
		dst := reflect.NewAt(p.t, ptr).Elem()
		if n == 0 {
			if !dst.IsNil() {
				dst.SetZero()
			}
			return
		}
		n--
		if n > uint64(len(d.b))+1<<20 && p.elem.size > 0 && n*uint64(p.elem.size) > uint64(len(d.b))*64+1<<20 {
			d.fail("slice of %d elements cannot fit in what is left", n)
		}
		s := reflect.MakeSlice(p.t, int(n), int(n))
		if !p.elem.pod() && !dst.IsNil() {
			// Start from the destination's elements: objects holding
			// wiring (detectors behind an interface) are restored in place.
			reflect.Copy(s, dst)
		}
		if n > 0 {
			data := s.UnsafePointer()
			if p.elem.pod() {
				copy(unsafe.Slice((*byte)(data), uintptr(n)*p.elem.size), d.take(n*uint64(p.elem.size)))
			} else {
				for i := uint64(0); i < n; i++ {
					d.value(p.elem, unsafe.Add(data, uintptr(i)*p.elem.size))
				}
			}
		}
		if dst.IsNil() || !reflect.DeepEqual(dst.Interface(), s.Interface()) {
			dst.Set(s)
		}
	case kMap:
		n := d.uvarint()
		dst := reflect.NewAt(p.t, ptr).Elem()
		if n == 0 {
			if !dst.IsNil() {
				dst.SetZero()
			}
			return
		}
		n--
		if n > uint64(len(d.b)) {
			d.fail("map of %d entries cannot fit in what is left", n)
		}
		m := reflect.MakeMapWithSize(p.t, int(n))
		for i := uint64(0); i < n; i++ {
			k := reflect.New(p.t.Key())
			v := reflect.New(p.t.Elem())
			d.value(p.key, k.UnsafePointer())
			d.value(p.elem, v.UnsafePointer())
			m.SetMapIndex(k.Elem(), v.Elem())
		}
		if dst.IsNil() || !reflect.DeepEqual(dst.Interface(), m.Interface()) {
			dst.Set(m)
		}
	case kPointer:
		d.pointer(p, ptr)
	case kInterface:
		tag := d.uvarint()
		dst := reflect.NewAt(p.t, ptr).Elem()
		if tag == 0 {
			if !dst.IsNil() {
				dst.SetZero()
			}
			return
		}
		var dt reflect.Type
		if tag == 1 {
			name := string(d.take(d.uvarint()))
			d.c.mu.Lock()
			t, ok := d.c.names[name]
			d.c.mu.Unlock()
			if !ok {
				d.fail("unknown dynamic type %q", name)
			}
			d.types = append(d.types, t)
			dt = t
		} else {
			if tag-2 >= uint64(len(d.types)) {
				d.fail("bad type reference")
			}
			dt = d.types[tag-2]
		}
		if !dt.Implements(p.t) {
			d.fail("%v does not implement %v", dt, p.t)
		}
		dp := d.c.plan(dt)
		tmp := reflect.New(dt)
		if !dst.IsNil() && dst.Elem().Type() == dt {
			tmp.Elem().Set(dst.Elem()) // a pointer: restore into its object
		}
		d.path = append(d.path, "("+dt.String()+")")
		d.value(dp, tmp.UnsafePointer())
		d.path = d.path[:len(d.path)-1]
		nv := tmp.Elem()
		if !dst.IsNil() && dst.Elem().Type() == dt {
			if dt.Kind() == reflect.Pointer && dst.Elem().UnsafePointer() == nv.UnsafePointer() {
				return
			}
			if dt.Comparable() && safeEqual(dst.Elem(), nv) {
				return
			}
		}
		dst.Set(nv)
	case kStruct:
		for i := range p.fields {
			f := &p.fields[i]
			d.path = append(d.path, "."+f.name)
			d.value(f.p, unsafe.Add(ptr, f.offset))
			d.path = d.path[:len(d.path)-1]
		}
	}
}

func safeEqual(a, b reflect.Value) (eq bool) {
	defer func() {
		if recover() != nil {
			eq = false
		}
	}()
	return a.Interface() == b.Interface()
}

func (d *decoder) pointer(p *plan, ptr unsafe.Pointer) {
	tag := d.uvarint()
	cur := *(*unsafe.Pointer)(ptr)
	switch {
	case tag == 0:
		if cur != nil {
			*(*unsafe.Pointer)(ptr) = nil
		}
		return
	case tag >= 2:
		id := tag - 2
		if id >= uint64(len(d.ptrs)) {
			d.fail("bad pointer reference")
		}
		if q := d.ptrs[id]; cur != q {
			*(*unsafe.Pointer)(ptr) = q
		}
		return
	}
	d.path = append(d.path, "*")
	defer func() { d.path = d.path[:len(d.path)-1] }()
	if cur != nil && p.elem.wiring {
		// An object holding wiring (callbacks closing over its owner):
		// restore its state in place.
		d.ptrs = append(d.ptrs, cur)
		d.value(p.elem, cur)
		return
	}
	obj := reflect.New(p.elem.t)
	if cur != nil {
		// Start from the destination's object, so that what the state
		// does not carry (wiring deeper down) is the destination's.
		obj.Elem().Set(reflect.NewAt(p.elem.t, cur).Elem())
	}
	id := len(d.ptrs)
	d.ptrs = append(d.ptrs, obj.UnsafePointer())
	d.value(p.elem, obj.UnsafePointer())
	if cur != nil && reflect.DeepEqual(reflect.NewAt(p.elem.t, cur).Elem().Interface(), obj.Elem().Interface()) {
		d.ptrs[id] = cur // keep the destination's (maybe shared) object
		return
	}
	reflect.NewAt(p.t, ptr).Elem().Set(obj)
}

func storeUint(p unsafe.Pointer, size uintptr, x uint64) {
	switch size {
	case 1:
		*(*uint8)(p) = uint8(x)
	case 2:
		*(*uint16)(p) = uint16(x)
	case 4:
		*(*uint32)(p) = uint32(x)
	default:
		*(*uint64)(p) = x
	}
}

var _ = math.MaxInt
