package gateway

import (
	"sort"
	"strings"

	"github.com/tufanbarisyildirim/gonginx/config"
)

// gonginx records for each directive the line where it ENDS (the
// semicolon, or the closing brace of a block) and no column. Findings must
// point at the directive itself, so statementStarts scans the same text
// with gonginx's lexical rules (comments, quotes, ${var} references, Lua
// blocks) and lists where each statement starts, in text order. Statements
// are then paired with gonginx's directives walked in text order, checking
// the names (a mismatch resynchronizes on the next statement with the same
// name; a directive left unpaired keeps gonginx's line).

type stmtStart struct {
	name      string
	line, col int
}

// statementStarts lists the statements of an NGINX file in text order.
func statementStarts(data []byte) []stmtStart {
	var out []stmtStart
	line, col := 1, 1
	i := 0
	n := len(data)
	adv := func() {
		if data[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
		i++
	}
	atStart := true
	inStmt := false
	var last string
	for i < n {
		c := data[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v':
			adv()
		case c == '#':
			for i < n && data[i] != '\n' {
				adv()
			}
		case c == ';':
			adv()
			atStart, inStmt = true, false
		case c == '}':
			adv()
			atStart, inStmt = true, false
		case c == '{':
			adv()
			if strings.HasSuffix(last, "_by_lua_block") {
				// Lua code: skip to the matching brace.
				depth := 1
				for i < n && depth > 0 {
					switch data[i] {
					case '{':
						depth++
					case '}':
						depth--
					}
					if depth == 0 {
						break
					}
					adv()
				}
				if i < n {
					adv()
				}
			}
			atStart, inStmt = true, false
		case c == '"' || c == '\'':
			l, cl := line, col
			q := c
			start := i + 1
			adv()
			for i < n && data[i] != q {
				if data[i] == '\\' && i+1 < n {
					adv()
				}
				adv()
			}
			word := string(data[start:min(i, n)])
			if i < n {
				adv()
			}
			if atStart && !inStmt {
				out = append(out, stmtStart{name: word, line: l, col: cl})
				last = word
				inStmt = true
			}
			atStart = false
		default:
			l, cl := line, col
			start := i
			prev := byte(0)
			inVar := false
			for i < n {
				ch := data[i]
				if ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == ';' || ch == '\f' || ch == '\v' {
					break
				}
				if ch == '{' {
					if prev == '$' {
						inVar = true
					} else if !inVar {
						break
					}
				} else if ch == '}' {
					if !inVar {
						break
					}
					inVar = false
				}
				prev = ch
				adv()
			}
			if i == start { // a lone brace char handled above; guard
				adv()
				continue
			}
			word := string(data[start:i])
			if atStart && !inStmt {
				out = append(out, stmtStart{name: word, line: l, col: cl})
				last = word
				inStmt = true
			} else if inStmt {
				last = word
			}
			atStart = false
		}
	}
	return out
}

// position pairs directives with statement starts.
type position struct {
	starts []stmtStart
	next   int
	at     map[config.IDirective]stmtStart
}

// children returns a directive's sub-directives in text order (gonginx
// groups some of them, e.g. upstream servers after other directives).
func children(d config.IDirective) []config.IDirective {
	b := d.GetBlock()
	if b == nil {
		return nil
	}
	if _, lua := d.(*config.LuaBlock); lua {
		return nil
	}
	ds := append([]config.IDirective(nil), b.GetDirectives()...)
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].GetLine() < ds[j].GetLine() })
	return ds
}

func blockChildren(b config.IBlock) []config.IDirective {
	if b == nil {
		return nil
	}
	ds := append([]config.IDirective(nil), b.GetDirectives()...)
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].GetLine() < ds[j].GetLine() })
	return ds
}

func (p *position) walk(ds []config.IDirective, depth int) {
	if depth > 200 {
		return
	}
	for _, d := range ds {
		name := d.GetName()
		for k := p.next; k < len(p.starts) && k < p.next+16; k++ {
			if p.starts[k].name == name {
				p.at[d] = p.starts[k]
				p.next = k + 1
				break
			}
		}
		p.walk(children(d), depth+1)
	}
}

// locate returns a directive's start (line, column), falling back to
// gonginx's line.
func (p *position) locate(d config.IDirective) (int, int) {
	if s, ok := p.at[d]; ok {
		return s.line, s.col
	}
	return max(d.GetLine(), 1), 0
}
