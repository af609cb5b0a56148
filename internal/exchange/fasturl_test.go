package exchange

import (
	"net/url"
	"reflect"
	"testing"
)

func urlAgrees(t *testing.T, s string) bool {
	t.Helper()
	fast, ok := parsePlainURL(s)
	if !ok {
		return false
	}
	want, err := url.Parse(s)
	if err != nil {
		t.Fatalf("plain parse accepted %q, url.Parse says %v", s, err)
	}
	if !reflect.DeepEqual(fast, want) {
		t.Fatalf("parse of %q differs:\nplain     %#v\nurl.Parse %#v", s, fast, want)
	}
	if fast.EscapedPath() != want.EscapedPath() || fast.String() != want.String() {
		t.Fatalf("renderings of %q differ", s)
	}
	return true
}

func TestParsePlainURL(t *testing.T) {
	for _, s := range []string{
		"https://api.shop.example.test/v1/auth/refresh",
		"https://api.example.test/v2/users/10023/orders?page=2&expand=items",
		"http://10.0.0.1:8080/x;y=1/$z@a+b,c:d?q=%41&r=a/b?c",
		"https://h.test",
		"https://h.test?",
		"https://h.test/?",
		"wss://h.test/socket",
		"https://h.test/a.b-c_d~e/",
	} {
		if !urlAgrees(t, s) {
			t.Errorf("plain parse declined %q", s)
		}
	}
	for _, s := range []string{
		"https://H.test/", "HTTPS://h.test/", "https://h.test/a%2Fb", "https://h.test/a b", "https://h.test/(x)",
		"https://h.test/#frag", "https://user@h.test/", "https://[::1]:443/", "https://h.test:/", "https://h.test:99999x/",
		"https://h.test/é", "https://:80/", "/relative", "mailto:x@y", "https://h.test?a=b c", "https://h.test/?a#b",
	} {
		if urlAgrees(t, s) {
			t.Errorf("plain parse accepted %q", s)
		}
	}
}

func FuzzParseURLAgrees(f *testing.F) {
	for _, s := range []string{"https://api.example.test/v2/users/10023/orders?page=2", "http://h:8/a;b?c=d&e", "https://h.test?"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { urlAgrees(t, s) })
}
