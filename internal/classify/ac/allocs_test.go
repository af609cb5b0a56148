package ac

import "testing"

// TestMatchAllocs: the matcher allocates nothing per text (package doc).
func TestMatchAllocs(t *testing.T) {
	m := New([]string{"select", "union", "<script", "../"}, true)
	text := "id=1 UNION SELECT password FROM users -- <Script>../../etc/passwd"
	hits := 0
	fn := func(id, start, end int) { hits++ }
	if allocs := testing.AllocsPerRun(100, func() {
		m.Each(text, fn)
		if !m.Any(text) {
			t.Fatal("no match")
		}
	}); allocs != 0 {
		t.Errorf("Each and Any: %v allocations per text", allocs)
	}
	if hits == 0 {
		t.Fatal("Each found nothing")
	}
}
