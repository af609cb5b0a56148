package detect

import (
	"strings"
	"sync"

	"github.com/palisade-sec/palisade/internal/classify/ac"
)

// Unsafe deserialization: a request that hands the server a serialized
// object graph — or a document that names the classes of a known gadget
// chain — asks it to run code when it reads the value (OWASP A08; the
// payloads of ysoserial, ysoserial.net, marshalsec, PHPGGC and the YAML
// loaders' code tags). Reported as command injection (remote code
// execution, injection.cmd), the reason naming the format. Each signal is
// the format's own marker, never a word of text:
//
//   - YAML tags that construct objects or call functions: PyYAML's
//     "!!python/object/apply:", "!!python/object/new:", "!!python/object:",
//     "!!python/name:", "!!python/module:"; Ruby Psych's "!ruby/object:",
//     "!ruby/hash:", "!ruby/struct:", "!ruby/marshal"; SnakeYAML's global
//     tag of a Java class ("!!javax.script.ScriptEngineManager": "!!" and a
//     dotted class name — the standard tags "!!str", "!!binary" have no dot);
//   - Java serialization streams: base64 "rO0AB" (0xACED0005) or hex
//     "aced0005" opening the value, and .NET BinaryFormatter streams:
//     base64 "AAEAAAD/////" (serializedStream);
//   - class names of known gadget chains anywhere in the value
//     (JdbcRowSetImpl, TemplatesImpl, ObjectDataProvider, InvokerTransformer
//     …): Jackson, Fastjson ("@type"), Json.NET ("$type"), XStream and
//     SnakeYAML documents that name them;
//   - PHP serialized objects: O:<n>:"<class>":<n>:{ (PHP object injection);
//   - node-serialize functions ("_$$ND_FUNC$$_");
//   - pickle protocol 0 calling a process or eval function ("cos\nsystem\n",
//     "csubprocess\nPopen\n", "c__builtin__\neval\n").
func deserializationGadget(text string) (InjMatch, bool) {
	at := func(i, n int, conf float64, why string) (InjMatch, bool) {
		return InjMatch{Class: ClassCmd, Confidence: conf, Start: i, End: min(len(text), i+n), Reason: "unsafe deserialization: " + why}, true
	}
	if strings.IndexByte(text, '!') >= 0 {
		if i := indexFold(text, "!!python/"); i >= 0 {
			rest := text[i+len("!!python/"):]
			for _, t := range []string{"object/apply:", "object/new:", "object:", "name:", "module:"} {
				if hasPrefixFold(rest, t) {
					return at(i, 60, 0.9, "PyYAML tag !!python/"+t+" (constructs an object or calls a function)")
				}
			}
		}
		if i := indexFold(text, "!ruby/"); i >= 0 {
			rest := text[i+len("!ruby/"):]
			for _, t := range []string{"object:", "hash:", "struct:", "marshal"} {
				if hasPrefixFold(rest, t) {
					return at(i, 60, 0.85, "Ruby YAML tag !ruby/"+t+" (instantiates a class)")
				}
			}
		}
		for off := 0; off < len(text); {
			k := strings.Index(text[off:], "!!")
			if k < 0 {
				break
			}
			i := off + k
			if n := javaClassName(text[i+2:]); n > 0 {
				return at(i, n+2, 0.85, "YAML global tag of a Java class "+text[i:i+2+n]+" (SnakeYAML constructs it)")
			}
			off = i + 2
		}
	}
	if m, ok := gadgetClassMatch(text); ok {
		return m, true
	}
	if strings.IndexByte(text, '$') >= 0 {
		if i := indexFold(text, "_$$nd_func$$_"); i >= 0 {
			return at(i, 60, 0.9, "node-serialize function (_$$ND_FUNC$$_)")
		}
	}
	if i := phpObject(text); i >= 0 {
		return at(i, 60, 0.7, "PHP serialized object (O:n:\"Class\":n:{…})")
	}
	if strings.IndexByte(text, '\n') >= 0 {
		for _, p := range []string{"cos\nsystem\n", "cposix\nsystem\n", "cnt\nsystem\n", "csubprocess\n", "c__builtin__\neval\n", "c__builtin__\nexec\n", "cbuiltins\neval\n", "cbuiltins\nexec\n"} {
			// the GLOBAL opcode opens the pickle or follows another
			// opcode's line ("Tacos\nsystem\n" is two words)
			if i := strings.Index(text, p); i >= 0 && (i == 0 || strings.IndexByte("\n(.", text[i-1]) >= 0) {
				return at(i, 60, 0.9, "pickle calling "+strings.ReplaceAll(strings.TrimSpace(p[1:]), "\n", "."))
			}
		}
	}
	return InjMatch{}, false
}

// indexFold is strings.Index(asciiLower(s), sub) for a lower-case sub
// that opens with a byte that is not a letter, without a lower-case copy
// of s.
func indexFold(s, sub string) int {
	for off := 0; off+len(sub) <= len(s); {
		k := strings.IndexByte(s[off:], sub[0])
		if k < 0 {
			return -1
		}
		i := off + k
		if hasPrefixFold(s[i:], sub) {
			return i
		}
		off = i + 1
	}
	return -1
}

// hasPrefixFold: s opens with p, ASCII case aside.
func hasPrefixFold(s, p string) bool {
	return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p)
}

// gadgetClassMatch: the value names a class of gadgetClasses, ASCII case
// aside.
func gadgetClassMatch(text string) (InjMatch, bool) {
	if len(text) < 13 || strings.Count(text, ".") < 2 {
		return InjMatch{}, false
	}
	i, n := gadgetClass(text)
	if n == 0 {
		return InjMatch{}, false
	}
	return InjMatch{Class: ClassCmd, Confidence: 0.85, Start: i, End: i + n, Reason: "unsafe deserialization: a class of a known gadget chain (" + text[i:i+n] + ")"}, true
}

var (
	gadgetOnce sync.Once
	gadgetAC   *ac.Matcher
)

// gadgetClass returns the offset and length of the first class name of
// gadgetClasses in s, ASCII case aside (n 0 when none).
func gadgetClass(s string) (i, n int) {
	gadgetOnce.Do(func() { gadgetAC = ac.New(gadgetClasses, true) })
	if !gadgetAC.Any(s) {
		return 0, 0
	}
	i = -1
	gadgetAC.Each(s, func(id, start, end int) {
		if i < 0 {
			i, n = start, end-start
		}
	})
	if i < 0 {
		return 0, 0
	}
	return i, n
}

// serializedStream: the value is a serialized object stream of a
// platform whose reader instantiates the classes it names — Java's
// (magic 0xACED0005, in base64 "rO0AB…" or hex "aced0005…") or .NET
// BinaryFormatter's (base64 "AAEAAAD/////…"). Checked before anything
// else: such a value is a token of base64 or hex letters, which the other
// matchers skip.
func serializedStream(text string) (InjMatch, bool) {
	if len(text) < 8 {
		return InjMatch{}, false
	}
	switch text[0] {
	case 'r', 'a', 'A', 0xac, ' ', '"', '\'':
	default:
		return InjMatch{}, false
	}
	t := strings.TrimLeft(text, " \t\r\n\"'")
	why := ""
	switch {
	case strings.HasPrefix(t, "rO0AB") && len(t) >= 16 && base64ish(t[:16]):
		why = "Java serialization stream (base64 rO0AB…)"
	case len(t) >= 16 && (strings.HasPrefix(t, "aced0005") || strings.HasPrefix(t, "ACED0005")):
		why = "Java serialization stream (hex aced0005…)"
	case strings.HasPrefix(t, "\xac\xed\x00\x05"):
		why = "Java serialization stream (magic 0xACED0005)"
	case strings.HasPrefix(t, "AAEAAAD/////"):
		why = ".NET BinaryFormatter stream (base64 AAEAAAD/////…)"
	default:
		return InjMatch{}, false
	}
	i := len(text) - len(t)
	return InjMatch{Class: ClassCmd, Confidence: 0.85, Start: i, End: min(len(text), i+60), Reason: "unsafe deserialization: " + why}, true
}

// gadgetClasses are lower-cased class names of well-known deserialization
// gadget chains (ysoserial, ysoserial.net, marshalsec): no ordinary
// request names them.
var gadgetClasses = []string{
	"com.sun.rowset.jdbcrowsetimpl",
	"org.apache.xalan.xsltc.trax.templatesimpl", "com.sun.org.apache.xalan.internal.xsltc.trax.templatesimpl",
	"org.apache.commons.collections.functors.invokertransformer", "org.apache.commons.collections4.functors.invokertransformer",
	"org.apache.commons.collections.functors.chainedtransformer", "org.apache.commons.collections.functors.instantiatetransformer",
	"org.springframework.context.support.classpathxmlapplicationcontext", "org.springframework.context.support.filesystemxmlapplicationcontext",
	"org.springframework.beans.factory.config.propertypathfactorybean",
	"ch.qos.logback.core.db.drivermanagerconnectionsource", "org.apache.xbean.propertyeditor.jndiconverter",
	"org.apache.commons.configuration.jndiconfiguration", "org.apache.commons.configuration2.jndiconfiguration",
	"com.zaxxer.hikari.hikariconfig", "com.mchange.v2.c3p0.wrappercombopooleddatasource", "com.mchange.v2.c3p0.jndirefforwardingdatasource",
	"org.codehaus.groovy.runtime.methodclosure", "org.codehaus.groovy.runtime.convertedclosure", "bsh.interpreter",
	"javax.script.scriptenginemanager", "java.net.urlclassloader", "javax.management.badattributevalueexpexception",
	"java.beans.eventhandler", "javax.naming.initialcontext",
	"system.windows.data.objectdataprovider", "system.diagnostics.processstartinfo", "system.management.automation.psobject",
	"system.security.principal.windowsidentity", "system.configuration.install.assemblyinstaller",
	"system.activities.presentation.workflowdesigner", "system.windows.forms.bindingsource",
	"system.data.services.internal.expandedwrapper", "system.web.security.roleprincipal",
	"system.identitymodel.tokens.sessionsecuritytoken", "system.windows.resourcedictionary",
	"microsoft.visualstudio.text.formatting.textformattingrunproperties",
}

// javaClassName returns the length of the dotted Java class name that s
// opens (a lower-case package segment and at least two more segments,
// "javax.script.ScriptEngineManager"), 0 when it opens none.
func javaClassName(s string) int {
	i, segs := 0, 0
	for {
		j := i
		for j < len(s) && (isWordByte(s[j]) || s[j] == '$') {
			j++
		}
		if j == i || segs == 0 && !(s[i] >= 'a' && s[i] <= 'z') {
			break
		}
		segs++
		i = j
		if i >= len(s) || s[i] != '.' || i+1 >= len(s) || !isWordByte(s[i+1]) {
			break
		}
		i++
	}
	if segs < 3 {
		return 0
	}
	return i
}

// phpObject returns the offset of a PHP serialized object in s —
// O:<digits>:"<class name>":<digits>:{ — or -1.
func phpObject(s string) int {
	for off := 0; off < len(s); {
		k := strings.Index(s[off:], "O:")
		if k < 0 {
			return -1
		}
		i := off + k
		off = i + 2
		if i > 0 && isWordByte(s[i-1]) {
			continue
		}
		j := i + 2
		n := 0
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
			n++
		}
		if n == 0 || j+1 >= len(s) || s[j] != ':' || s[j+1] != '"' {
			continue
		}
		j += 2
		c := j
		for j < len(s) && (isWordByte(s[j]) || s[j] == '\\') {
			j++
		}
		if j == c || !strings.HasPrefix(s[j:], "\":") {
			continue
		}
		j += 2
		m := 0
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
			m++
		}
		if m > 0 && strings.HasPrefix(s[j:], ":{") {
			return i
		}
	}
	return -1
}

// base64ish: s is made of bytes of the standard base64 alphabet
// (b64Std) and padding.
func base64ish(s string) bool {
	for i := 0; i < len(s); i++ {
		if b64Std[s[i]] == 0xFF && s[i] != '=' {
			return false
		}
	}
	return true
}
