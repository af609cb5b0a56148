package sqlstore

import (
	"context"
	"strings"
)

// freeText lists the columns holding people's words (triage reasons,
// audit details and targets): an erased subject named there is redacted,
// an address pseudonymized by retention is pseudonymized there too.
var freeText = []struct{ table, key, col string }{
	{"alert_history", "id", "reason"},
	{"suppressions", "fold_key", "reason"},
	{"audit_log", "id", "detail"},
	{"audit_log", "id", "target"},
	{"finding_history", "id", "reason"},
	{"finding_triage", "finding_id", "reason"},
}

// rewriteText rewrites the free-text columns: fn is applied to each value
// of the rows where cond(column) holds (cond's placeholders bind args),
// and changed values are written back.
func rewriteText(ctx context.Context, t *tx, cond func(col string) string, args []any, fn func(string) string) error {
	for _, ft := range freeText {
		rows, err := t.QueryContext(ctx, `SELECT `+ft.key+`, `+ft.col+` FROM `+ft.table+` WHERE `+cond(ft.col), args...)
		if err != nil {
			return err
		}
		type upd struct {
			key  any
			text string
		}
		var ups []upd
		for rows.Next() {
			var u upd
			if err := rows.Scan(&u.key, &u.text); err != nil {
				rows.Close()
				return err
			}
			ups = append(ups, u)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
		for _, u := range ups {
			if nt := fn(u.text); nt != u.text {
				if _, err := t.ExecContext(ctx, `UPDATE `+ft.table+` SET `+ft.col+` = $1 WHERE `+ft.key+` = $2`, nt, u.key); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// redactText replaces each whole occurrence of the values in the
// free-text columns by "[erased]".
func redactText(ctx context.Context, t *tx, d *Dialect, vals []string) error {
	for _, v := range vals {
		if v == "" {
			continue
		}
		stored := d.Text(v)
		err := rewriteText(ctx, t, func(col string) string { return d.contains(col, "$1") }, []any{v},
			func(s string) string { return replaceWhole(s, stored, "[erased]") })
		if err != nil {
			return err
		}
	}
	return nil
}

// pseudonymizeText replaces the whole addresses of ips found in the
// free-text columns by their pseudonyms.
func pseudonymizeText(ctx context.Context, t *tx, d *Dialect, ips map[string]bool, pseudo func(string) string) error {
	if len(ips) == 0 {
		return nil
	}
	cond := func(col string) string { return d.contains(col, "'.'") + " OR " + d.contains(col, "':'") }
	return rewriteText(ctx, t, cond, nil, func(s string) string {
		for ip := range ips {
			if strings.Contains(s, ip) {
				s = replaceWhole(s, ip, pseudo(ip))
			}
		}
		return s
	})
}

// replaceWhole replaces the occurrences of v in s that are whole tokens —
// not part of a longer address or identifier (203.0.113.9 in
// 203.0.113.90, id_ab in id_abc) — by repl.
func replaceWhole(s, v, repl string) string {
	var b strings.Builder
	for off := 0; ; {
		i := strings.Index(s[off:], v)
		if i < 0 {
			b.WriteString(s[off:])
			return b.String()
		}
		start, end := off+i, off+i+len(v)
		b.WriteString(s[off:start])
		if whole(s, start, end) {
			b.WriteString(repl)
		} else {
			b.WriteString(v)
		}
		off = end
	}
}

// whole reports whether s[start:end] is not continued by a character of an
// address or identifier on either side (a '.' counts only next to a
// digit, so a sentence may end with the value).
func whole(s string, start, end int) bool {
	word := func(c byte) bool {
		return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':' || c == '-'
	}
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	if start > 0 {
		c := s[start-1]
		if word(c) || c == '.' && start > 1 && digit(s[start-2]) {
			return false
		}
	}
	if end < len(s) {
		c := s[end]
		if word(c) || c == '.' && end+1 < len(s) && digit(s[end+1]) {
			return false
		}
	}
	return true
}
