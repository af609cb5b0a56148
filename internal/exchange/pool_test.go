package exchange

import (
	"bytes"
	"io"
	"reflect"
	"testing"
)

// TestRecordPoolReuse: a pooled decoder reuses the records and header maps
// put back, and the records it fills are the same as fresh ones.
func TestRecordPoolReuse(t *testing.T) {
	data := synthCapture(50)
	var p RecordPool
	d, _ := NewDecoder("a", bytes.NewReader(data))
	d.UsePool(&p)
	plain, _ := NewDecoder("b", bytes.NewReader(data))
	var prev *Record
	reused := 0
	for {
		got, err := d.Next()
		want, err2 := plain.Next()
		if err == io.EOF || err2 == io.EOF {
			if err != err2 {
				t.Fatalf("pooled decoder: %v, plain: %v", err, err2)
			}
			break
		}
		if err != nil || err2 != nil {
			t.Fatal(err, err2)
		}
		if got == prev {
			reused++
		}
		got.Response.BodyText()
		want.Response.BodyText()
		g, w := *got, *want
		g.url, w.url, g.pooled = nil, nil, false
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("pooled record differs:\n%+v\n%+v", g, w)
		}
		p.Put(got)
		prev = got
	}
	if reused == 0 {
		t.Fatal("records were never reused")
	}
	// Records the pool did not hand out are not taken.
	var q RecordPool
	q.Put(&Record{})
	if q.Len() != 0 {
		t.Fatal("pool took a record it did not hand out")
	}
}
