package grammar

import (
	"strings"
	"testing"
)

// FuzzParse: any text either fails to compile with an error or gives a
// grammar whose matcher takes any input without panicking.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`root ::= "a" b* | [^x-z]{2,3}` + "\nb ::= \"\\u00e9\" | (\"c\" | .)+", `root ::= root`, `root ::= "a"{0,}`, "root ::= (\n\"a\"\n|\n\"b\")?"} {
		f.Add(s, "ab")
	}
	f.Fuzz(func(t *testing.T, src, input string) {
		if len(src) > 2000 {
			return
		}
		g, err := Parse(src)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "grammar") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		m := g.Matcher()
		_ = m.Accept(input)
		m.CanEnd()
		m.MinBytes()
	})
}

// FuzzSchemaGBNF: any schema text either is refused or becomes a grammar
// that parses.
func FuzzSchemaGBNF(f *testing.F) {
	for _, s := range []string{`{"type":"object","properties":{"a":{"type":"array","items":{"enum":[1,"x"]}}},"required":["a"]}`,
		`{"$defs":{"n":{"anyOf":[{"type":"null"},{"$ref":"#/$defs/n"}]}},"$ref":"#/$defs/n"}`, `{"type":["string","null"],"maxLength":3}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, schema string) {
		if len(schema) > 2000 {
			return
		}
		src, err := SchemaGBNF([]byte(schema))
		if err != nil {
			return
		}
		if _, err := Parse(src); err != nil && !strings.Contains(err.Error(), "left-recursive") && !strings.Contains(err.Error(), "more than") {
			t.Fatalf("schema %s gave GBNF that does not parse: %v\n%s", schema, err, src)
		}
	})
}
