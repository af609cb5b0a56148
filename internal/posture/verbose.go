package posture

import (
	"strings"

	"github.com/palisade-sec/palisade/internal/classify/ac"
	"github.com/palisade-sec/palisade/internal/hashing"
)

// verbosePattern is a literal that marks a stack trace or a database error
// in a response body. Strong patterns count on any status; weak ones only
// on error responses (status ≥ 400). verify, when set, checks the text
// after the literal.
type verbosePattern struct {
	lit    string
	kind   string
	strong bool
	verify func(after string) bool
}

func digitsThen(suffix string) func(string) bool {
	return func(a string) bool {
		i := 0
		for i < len(a) && a[i] >= '0' && a[i] <= '9' {
			i++
		}
		return i > 0 && strings.HasPrefix(a[i:], suffix)
	}
}

// The SQL strings follow the CRS list of database error messages
// (rules/sql-errors.data), reduced to the ones specific enough to appear
// only in error output.
var verbosePatterns = []verbosePattern{
	// Java
	{lit: "Exception in thread \"", kind: "java", strong: true},
	{lit: ".java:", kind: "java", strong: true, verify: digitsThen(")")},
	{lit: "\tat java.", kind: "java", strong: true},
	{lit: "at org.springframework.", kind: "java", strong: true},
	{lit: "java.lang.NullPointerException", kind: "java", strong: true},
	{lit: "java.lang.IllegalStateException", kind: "java", strong: true},
	{lit: "java.lang.RuntimeException", kind: "java", strong: true},
	// Python
	{lit: "Traceback (most recent call last)", kind: "python", strong: true},
	{lit: ".py\", line ", kind: "python", strong: true, verify: digitsThen("")},
	// .NET
	{lit: "Server Error in '/' Application", kind: "dotnet", strong: true},
	{lit: ".cs:line ", kind: "dotnet", strong: true, verify: digitsThen("")},
	{lit: "System.NullReferenceException", kind: "dotnet", strong: true},
	{lit: "System.InvalidOperationException", kind: "dotnet", strong: true},
	{lit: "   at System.", kind: "dotnet", strong: true},
	{lit: "   at Microsoft.AspNetCore.", kind: "dotnet", strong: true},
	// Node.js
	{lit: "at Object.<anonymous>", kind: "node", strong: true},
	{lit: "at Module._compile", kind: "node", strong: true},
	{lit: "at process.processTicksAndRejections", kind: "node", strong: true},
	{lit: "(node:internal/", kind: "node", strong: true},
	{lit: "/node_modules/", kind: "node", verify: func(a string) bool { return strings.Contains(clip(a, 200), ".js:") }},
	// PHP
	{lit: "PHP Fatal error:", kind: "php", strong: true},
	{lit: "PHP Parse error:", kind: "php", strong: true},
	{lit: "<b>Fatal error</b>:", kind: "php", strong: true},
	{lit: "Fatal error: Uncaught", kind: "php", strong: true},
	{lit: ".php on line ", kind: "php", strong: true, verify: digitsThen("")},
	{lit: ".php:", kind: "php", verify: digitsThen("")},
	{lit: "Stack trace:\n#0 ", kind: "php", strong: true},
	// Go
	{lit: "goroutine ", kind: "go", strong: true, verify: digitsThen(" [running]:")},
	{lit: "panic: runtime error:", kind: "go", strong: true},
	{lit: ".go:", kind: "go", verify: digitsThen(" +0x")},
	// Ruby
	{lit: ".rb:", kind: "ruby", strong: true, verify: digitsThen(":in `")},
	// Databases
	{lit: "You have an error in your SQL syntax", kind: "sql", strong: true},
	{lit: "MySQL server version for the right syntax to use", kind: "sql", strong: true},
	{lit: "supplied argument is not a valid MySQL", kind: "sql", strong: true},
	{lit: "com.mysql.jdbc.exceptions", kind: "sql", strong: true},
	{lit: "MySqlClient.", kind: "sql", strong: true},
	{lit: "SQLSTATE[", kind: "sql", strong: true},
	{lit: "org.postgresql.util.PSQLException", kind: "sql", strong: true},
	{lit: "PG::SyntaxError", kind: "sql", strong: true},
	{lit: "psycopg2.errors.", kind: "sql", strong: true},
	{lit: "syntax error at or near", kind: "sql", strong: true},
	{lit: "unterminated quoted string at or near", kind: "sql", strong: true},
	{lit: "valid PostgreSQL result", kind: "sql", strong: true},
	{lit: "Unclosed quotation mark after the character string", kind: "sql", strong: true},
	{lit: "Incorrect syntax near", kind: "sql", strong: true},
	{lit: "Microsoft OLE DB Provider for", kind: "sql", strong: true},
	{lit: "[Microsoft][ODBC", kind: "sql", strong: true},
	{lit: "System.Data.SqlClient.SqlException", kind: "sql", strong: true},
	{lit: "quoted string not properly terminated", kind: "sql", strong: true},
	{lit: "SQL command not properly ended", kind: "sql", strong: true},
	{lit: "ORA-0", kind: "sql", strong: true, verify: digitsThen(":")},
	{lit: "ORA-1", kind: "sql", strong: true, verify: digitsThen(":")},
	{lit: "SQLiteException", kind: "sql", strong: true},
	{lit: "SQLite.Exception", kind: "sql", strong: true},
	{lit: "sqlite3.OperationalError", kind: "sql", strong: true},
	{lit: "SQLITE_ERROR", kind: "sql", strong: true},
	{lit: "java.sql.SQLException", kind: "sql", strong: true},
	{lit: "java.sql.SQLSyntaxErrorException", kind: "sql", strong: true},
	{lit: "DB2 SQL error", kind: "sql", strong: true},
	{lit: "[IBM][CLI Driver]", kind: "sql", strong: true},
	{lit: "Dynamic SQL Error", kind: "sql", strong: true},
	{lit: "Sybase message", kind: "sql", strong: true},
	{lit: "JET Database Engine", kind: "sql", strong: true},
	{lit: "Access Database Engine", kind: "sql", strong: true},
	{lit: "Syntax error in string in query expression", kind: "sql", strong: true},
	{lit: "the used select statements have different number of columns", kind: "sql", strong: true},
	{lit: "com.informix.jdbc", kind: "sql", strong: true},
	{lit: "Npgsql.PostgresException", kind: "sql", strong: true},
	{lit: "pg_query() [:", kind: "sql", strong: true},
	{lit: "Warning: pg_", kind: "sql", strong: true},
	{lit: "Warning: mysql_", kind: "sql", strong: true},
	{lit: "mysql_fetch_array()", kind: "sql", strong: true},
	{lit: "An illegal character has been found in the statement", kind: "sql", strong: true},
	{lit: "Sintaxis incorrecta cerca de", kind: "sql", strong: true},
	{lit: "has occurred in the vicinity of:", kind: "sql", strong: true},
	{lit: "[MySQL][ODBC", kind: "sql", strong: true},
	{lit: "Oracle error", kind: "sql", strong: true},
	{lit: "SQL error", kind: "sql"},
	{lit: "on MySQL result index", kind: "sql", strong: true},
	{lit: "mssql_query()", kind: "sql", strong: true},
	{lit: "Column count doesn't match", kind: "sql", strong: true},
	{lit: "PostgreSQL query failed:", kind: "sql", strong: true},
	{lit: "SQLite/JDBCDriver", kind: "sql", strong: true},
	{lit: "Unclosed quotation mark before the character string", kind: "sql", strong: true},
	{lit: "System.Data.SqlClient.", kind: "sql", strong: true},
	{lit: "System.Data.OleDb.OleDbException", kind: "sql", strong: true},
	{lit: "[DM_QUERY_E_SYNTAX]", kind: "sql", strong: true},
	{lit: "[SqlException", kind: "sql", strong: true},
	{lit: "Unexpected end of command in statement", kind: "sql", strong: true},
	{lit: "pg_exec() [:", kind: "sql", strong: true},
	{lit: "[SQL Server]", kind: "sql", strong: true},
	{lit: "org.hsqldb.jdbc", kind: "sql", strong: true},
	{lit: "ADODB.Field (0x800A0BCD)", kind: "sql", strong: true},
	{lit: "Data type mismatch in criteria expression", kind: "sql", strong: true},
	{lit: "'80040e14'", kind: "sql", strong: true},
	{lit: "Npgsql.", kind: "sql", strong: true},
	{lit: "valid MySQL result", kind: "sql", strong: true},
	{lit: "Ingres SQLSTATE", kind: "sql", strong: true},
	{lit: "[Macromedia][SQLServer JDBC Driver]", kind: "sql", strong: true},
	{lit: "<b>Warning</b>: ibase_", kind: "sql", strong: true},
	{lit: "MySQLSyntaxErrorException", kind: "sql", strong: true},
	{lit: "check the manual that corresponds to your MySQL server version", kind: "sql", strong: true},
	{lit: "check the manual that fits your MySQL server version", kind: "sql", strong: true},
	{lit: "check the manual that corresponds to your MariaDB server version", kind: "sql", strong: true},
	{lit: "check the manual that fits your MariaDB server version", kind: "sql", strong: true},
	{lit: "Zend_Db_Adapter_", kind: "sql", strong: true},
	{lit: "Zend_Db_Statement_", kind: "sql", strong: true},
	{lit: "MySqlException", kind: "sql", strong: true},
	{lit: "Syntax error or access violation", kind: "sql", strong: true},
	{lit: "MemSQL does not support this type of query", kind: "sql", strong: true},
	{lit: "is not supported by MemSQL", kind: "sql", strong: true},
	{lit: "ERROR: parser: parse error at or near", kind: "sql", strong: true},
	{lit: "org.postgresql.jdbc", kind: "sql", strong: true},
	{lit: "PSQLException", kind: "sql", strong: true},
	{lit: "Microsoft SQL Native Client error", kind: "sql", strong: true},
	{lit: "com.jnetdirect.jsql", kind: "sql", strong: true},
	{lit: "macromedia.jdbc.", kind: "sql", strong: true},
	{lit: "com.microsoft.sqlserver.jdbc", kind: "sql", strong: true},
	{lit: "SQLSrvException", kind: "sql", strong: true},
	{lit: "SQLServerException", kind: "sql", strong: true},
	{lit: "oracle.jdbc", kind: "sql", strong: true},
	{lit: "OracleException", kind: "sql", strong: true},
	{lit: "com.ibm.db2.jcc", kind: "sql", strong: true},
	{lit: "ibm_db_dbi.ProgrammingError", kind: "sql", strong: true},
	{lit: "Informix ODBC Driver", kind: "sql", strong: true},
	{lit: "ODBC Informix driver", kind: "sql", strong: true},
	{lit: "weblogic.jdbc.informix", kind: "sql", strong: true},
	{lit: "IfxException", kind: "sql", strong: true},
	{lit: "org.firebirdsql.jdbc", kind: "sql", strong: true},
	{lit: "SQLite error", kind: "sql", strong: true},
	{lit: "SQLite3::SQLException", kind: "sql", strong: true},
	{lit: "org.sqlite.JDBC", kind: "sql", strong: true},
	{lit: "com.sap.dbtech.jdbc", kind: "sql", strong: true},
	{lit: "SybSQLException", kind: "sql", strong: true},
	{lit: "Sybase.Data.AseClient", kind: "sql", strong: true},
	{lit: "com.sybase.jdbc", kind: "sql", strong: true},
	{lit: "com.ingres.gcf.jdbc", kind: "sql", strong: true},
	{lit: "com.frontbase.jdbc", kind: "sql", strong: true},
	{lit: "org.h2.jdbc", kind: "sql", strong: true},
	{lit: "[MonetDB][ODBC Driver", kind: "sql", strong: true},
	{lit: "nl.cwi.monetdb.jdbc", kind: "sql", strong: true},
	{lit: "org.apache.derby", kind: "sql", strong: true},
	{lit: "com.vertica.jdbc", kind: "sql", strong: true},
	{lit: "com.vertica.dsi.dataengine", kind: "sql", strong: true},
	{lit: "com.mckoi.JDBCDriver", kind: "sql", strong: true},
	{lit: "com.mckoi.database.jdbc", kind: "sql", strong: true},
	{lit: "com.facebook.presto.jdbc", kind: "sql", strong: true},
	{lit: "io.prestosql.jdbc", kind: "sql", strong: true},
	{lit: "com.simba.presto.jdbc", kind: "sql", strong: true},
	{lit: "UNION query has different number of fields:", kind: "sql", strong: true},
	{lit: "Altibase.jdbc.driver", kind: "sql", strong: true},
	{lit: "com.mimer.jdbc", kind: "sql", strong: true},
	{lit: "io.crate.client.jdbc", kind: "sql", strong: true},
	{lit: "Virtuoso S0002 Error", kind: "sql", strong: true},
	{lit: "[Virtuoso Driver][Virtuoso Server]", kind: "sql", strong: true},
	{lit: "[Virtuoso iODBC Driver][Virtuoso Server]", kind: "sql", strong: true},
	{lit: "Conversion failed when converting the varchar value", kind: "sql", strong: true},
	{lit: "invalid input syntax for integer:", kind: "sql", strong: true},
	{lit: "XPATH syntax error:", kind: "sql", strong: true},
}

const verboseScanBytes = 64 << 10

// verboseError returns the kind of the first stack trace or database error
// in a response body and a short snippet around it ("" when none).
func (t *Traffic) verboseError(body string, status int) (kind, snippet string) {
	if len(body) > verboseScanBytes {
		body = body[:verboseScanBytes]
	}
	if !verbosePresent.any(body) {
		return "", "" // none of the literals occurs
	}
	var buf [8]ac.Match
	for _, m := range verboseAC.Leftmost(body, buf[:0]) {
		p := verbosePatterns[m.ID]
		if !p.strong && status < 400 {
			continue
		}
		if p.verify != nil && !p.verify(body[m.End:]) {
			continue
		}
		a := m.Start - 20
		if a < 0 {
			a = 0
		}
		for a > 0 && body[a]&0xC0 == 0x80 {
			a--
		}
		snip := clip(body[a:], 120)
		snip = strings.Join(strings.Fields(snip), " ")
		return p.kind, snip
	}
	return "", ""
}

// presence answers exactly whether any of a set of literals (each at least
// four bytes long) occurs in a text, faster than an automaton because the
// bytes are not read one dependent step after another: every literal has
// an anchor, one of its four-byte substrings, and a rolling four-byte
// window is tested against a Bloom bitmap of the anchors; only a hit is
// checked against the literals anchored there. Anchors are picked to be
// rare in API bodies — upper case, punctuation other than JSON's own,
// uncommon letters — which only affects speed, never the answer.
type presence struct {
	bloom  [1 << 16 / 64]uint64
	byAnch map[uint32][]anchored
}

type anchored struct {
	lit string
	off int // offset of the anchor in lit
}

func rarity(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return 3
	case c >= 'a' && c <= 'z':
		switch c {
		case 'v', 'k', 'j', 'x', 'q', 'z':
			return 2
		case 'c', 'm', 'f', 'w', 'y', 'g', 'p', 'b':
			return 1
		}
		return 0
	case c >= '0' && c <= '9', c == '.', c == '_':
		return 1
	case c == ' ', c == '"', c == ',', c == ':', c == '{', c == '}', c == '-', c == '/':
		return 0
	case c == '[', c == ']':
		return 2
	}
	return 3
}

// anchorHash is the Bloom bit of an anchor (16 bits).
func anchorHash(x uint32) uint32 { return uint32(hashing.Index(uint64(x), 64-16)) }

func newPresence(lits []string) *presence {
	p := &presence{byAnch: map[uint32][]anchored{}}
	for _, l := range lits {
		if len(l) < 4 {
			panic("posture: verbose literal shorter than four bytes: " + l)
		}
		best, bestScore := 0, -1
		for o := 0; o+4 <= len(l); o++ {
			sc := rarity(l[o]) + rarity(l[o+1]) + rarity(l[o+2]) + rarity(l[o+3])
			if sc > bestScore {
				best, bestScore = o, sc
			}
		}
		a := l[best : best+4]
		x := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
		h := anchorHash(x)
		p.bloom[h>>6] |= 1 << (h & 63)
		p.byAnch[x] = append(p.byAnch[x], anchored{l, best})
	}
	return p
}

// any reports whether one of the literals occurs in s.
func (p *presence) any(s string) bool {
	if len(s) < 4 {
		return false
	}
	x := uint32(s[0])<<16 | uint32(s[1])<<8 | uint32(s[2])
	for i := 3; i < len(s); i++ {
		x = x<<8 | uint32(s[i])
		if h := anchorHash(x); p.bloom[h>>6]&(1<<(h&63)) != 0 && p.check(s, i-3, x) {
			return true
		}
	}
	return false
}

// check tests the literals anchored by x at s[at:at+4].
func (p *presence) check(s string, at int, x uint32) bool {
	for _, a := range p.byAnch[x] {
		st := at - a.off
		if st >= 0 && st+len(a.lit) <= len(s) && s[st:st+len(a.lit)] == a.lit {
			return true
		}
	}
	return false
}
