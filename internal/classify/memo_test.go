package classify

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"
)

// The memo only saves work: every result it gives is the one the
// classifier computes, for repeated values, values shared by fields with
// the same or different hints, and with custom types reading field names.
func TestValueMemoGivesClassifierResults(t *testing.T) {
	custom := DefaultConfig()
	custom.Custom = []CustomType{
		{Name: "loyalty", FieldNames: []string{"loyalty_number"}, Validator: "luhn"},
		{Name: "employee_id", Pattern: `EMP-[0-9]{6}`, Keywords: []string{"employee"}},
	}
	ctxs := []string{"", "$.email", "$.note", "$.a.phone", "$.order_id", "$.password", "$.loyalty_number", "$.employee", "x-user", "$.items[*].name", "$.ssn", "$.card_number"}
	vals := []string{"a@example.com", "ann.lee@example.org", "4111 1111 1111 1111", "4111111111111111", "078-05-1120", "123456789", "+44 20 7946 0958",
		"(415) 555-0132", "hunter2", "secret123", "John Smith", "EMP-123456", "79927398713", "GB82 WEST 1234 5698 7654 32", "10.0.0.1", "EUR", "",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "12 Main Street", "1985-04-12", "**** **** **** 1234", "n/a"}
	for _, cfg := range []Config{DefaultConfig(), custom} {
		c, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var m valueMemo
		var s scan
		uses := map[string]*memoUse{}
		for _, c := range ctxs {
			uses[c] = &memoUse{}
		}
		rng := rand.New(rand.NewSource(7))
		for i := 0; i < 20000; i++ {
			ctx, v := ctxs[rng.Intn(len(ctxs))], vals[rng.Intn(len(vals))]
			if rng.Intn(3) == 0 {
				v = fmt.Sprintf("%s %d", v, rng.Intn(50)) // more distinct values, some colliding sets
			}
			h := c.hint(ctx)
			var u *memoUse
			if i%2 == 0 {
				u = uses[ctx]
			}
			got := append([]Match(nil), m.classify(c, &s, h, m.hintID(h), ctx, v, u)...)
			want := c.ClassifyValue(ctx, v)
			if len(got) == 0 && len(want) == 0 {
				continue
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("custom=%v %q %q: memo %+v, classifier %+v", len(cfg.Custom) > 0, ctx, v, got, want)
			}
		}
		if m.hits == 0 || m.misses == 0 {
			t.Errorf("hits %d misses %d: the memo was not exercised", m.hits, m.misses)
		}
	}
}

// A field whose values never repeat stops using the table (apart from one
// value in 16), and a field whose values repeat keeps using it.
func TestMemoUseSkipsUniqueFields(t *testing.T) {
	c, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var m valueMemo
	var s scan
	var unique, repeated memoUse
	h := c.hint("$.id")
	for i := 0; i < 2000; i++ {
		m.classify(c, &s, h, m.hintID(h), "$.id", fmt.Sprintf("tx_%08d", i), &unique)
		m.classify(c, &s, h, m.hintID(h), "$.status", []string{"shipped", "pending"}[i%2], &repeated)
	}
	if unique.skips < 1500 || unique.tries > 200 {
		t.Errorf("unique values: %d skipped, %d looked up", unique.skips, unique.tries)
	}
	if repeated.skips != 0 || repeated.hits < 900 {
		t.Errorf("repeated values: %d skipped, %d hits of %d", repeated.skips, repeated.hits, repeated.tries)
	}
}

// The Classifier is safe for concurrent use (the phone-number memo and the
// keyword automaton are shared process-wide); run with -race.
func TestClassifierConcurrentUse(t *testing.T) {
	c, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint(c.ClassifyValue("$.phone", "+44 20 7946 0958"), c.ClassifyText("mail a@example.com, card 4111 1111 1111 1111"))
	done := make(chan string)
	for g := 0; g < 4; g++ {
		go func(g int) {
			for i := 0; i < 200; i++ {
				c.ClassifyValue("$.to", fmt.Sprintf("+4477009%05d", g*1000+i))
			}
			done <- fmt.Sprint(c.ClassifyValue("$.phone", "+44 20 7946 0958"), c.ClassifyText("mail a@example.com, card 4111 1111 1111 1111"))
		}(g)
	}
	for g := 0; g < 4; g++ {
		if got := <-done; got != want {
			t.Errorf("concurrent result %s, want %s", got, want)
		}
	}
}
