package testutil

import (
	"strings"
	"testing"
)

func TestWithin(t *testing.T) {
	text := strings.Repeat("abc", 10)
	if !Within(text[3:6], text) || !Within(text, text) || !Within(text[29:], text) {
		t.Fatal("a substring is a view")
	}
	if Within(strings.Clone(text[3:6]), text) || Within("", text) || Within(text[30:], text) {
		t.Fatal("a copy or an empty string is not a view")
	}
}
