package engine

import (
	"container/heap"

	"github.com/palisade-sec/palisade/internal/exchange"
)

// reorderBuffer holds records until the event-time watermark passes them
// and releases them in (time, input position) order. Records that arrive in
// time order (the common case) go to a FIFO queue at O(1) cost; only records
// older than the newest queued one go to a heap. The smaller head of the
// two is released first.
type reorderBuffer struct {
	fifo []heapItem // in (time, seq) order; fifo[head:] is live
	head int
	late recHeap
}

type heapItem struct {
	rec  *exchange.Record
	seq  uint64
	size int64 // rec.MemSize() when pushed
	sec  int64 // rec.Time as seconds and nanoseconds since the epoch:
	nsec int32 // comparing them is cheaper than comparing time.Time
}

func newItem(rec *exchange.Record, seq uint64) heapItem {
	return heapItem{rec: rec, seq: seq, size: rec.MemSize(), sec: rec.Time.Unix(), nsec: int32(rec.Time.Nanosecond())}
}

// notAfter reports whether the item's time is at or before (sec, nsec).
func (it heapItem) notAfter(sec int64, nsec int32) bool {
	return it.sec < sec || (it.sec == sec && it.nsec <= nsec)
}

func (b *reorderBuffer) Len() int { return len(b.fifo) - b.head + len(b.late) }

func (b *reorderBuffer) push(it heapItem) {
	if n := len(b.fifo); n > b.head && timeLess(it, b.fifo[n-1]) {
		heap.Push(&b.late, it)
		return
	}
	if b.head > 0 && b.head >= len(b.fifo)/2 && len(b.fifo) == cap(b.fifo) {
		// Reuse the released front instead of growing.
		n := copy(b.fifo, b.fifo[b.head:])
		clear(b.fifo[n:])
		b.fifo, b.head = b.fifo[:n], 0
	}
	b.fifo = append(b.fifo, it)
}

// peek returns the next record to release (Len must be > 0).
func (b *reorderBuffer) peek() heapItem {
	if b.fromLate() {
		return b.late[0]
	}
	return b.fifo[b.head]
}

func (b *reorderBuffer) pop() heapItem {
	if b.fromLate() {
		return heap.Pop(&b.late).(heapItem)
	}
	it := b.fifo[b.head]
	b.fifo[b.head] = heapItem{}
	b.head++
	if b.head == len(b.fifo) {
		b.fifo, b.head = b.fifo[:0], 0
	}
	return it
}

func (b *reorderBuffer) fromLate() bool {
	if len(b.late) == 0 {
		return false
	}
	if b.head == len(b.fifo) {
		return true
	}
	return itemLess(b.late[0], b.fifo[b.head])
}

func timeLess(a, b heapItem) bool {
	return a.sec < b.sec || (a.sec == b.sec && a.nsec < b.nsec)
}

func itemLess(a, b heapItem) bool {
	if a.sec != b.sec {
		return a.sec < b.sec
	}
	if a.nsec != b.nsec {
		return a.nsec < b.nsec
	}
	return a.seq < b.seq
}

type recHeap []heapItem

func (h recHeap) Len() int           { return len(h) }
func (h recHeap) Less(i, j int) bool { return itemLess(h[i], h[j]) }
func (h recHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *recHeap) Push(x any)        { *h = append(*h, x.(heapItem)) }
func (h *recHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = heapItem{}
	*h = old[:len(old)-1]
	return it
}
