package grammar

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// conformanceSchemas cover the keywords SchemaGBNF supports
// (testdata/schemas.txt, shared with the tests of infer and serve).
func conformanceSchemas(t testing.TB) []string {
	b, err := os.ReadFile("testdata/schemas.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

// TestSchemaConformance generates from random logits under each schema,
// with random budgets, and checks every output against the schema with an
// independent validator (santhosh-tekuri/jsonschema, formats asserted).
func TestSchemaConformance(t *testing.T) {
	v, toks := testVocab()
	rng := rand.New(rand.NewPCG(11, 12))
	n := 0
	for i, src := range conformanceSchemas(t) {
		g, err := FromJSONSchema([]byte(src))
		if err != nil {
			t.Fatalf("schema %d: %v", i, err)
		}
		validator := compileSchema(t, src)
		for j := 0; j < 40; j++ {
			c := g.NewConstraint(v)
			budget := c.MinTokens() + rng.IntN(120)
			out, ok := generate(t, c, v, toks, rng, budget)
			if !ok {
				t.Fatalf("schema %d: %q is incomplete after %d tokens", i, out, budget)
			}
			var doc any
			dec := json.NewDecoder(strings.NewReader(out))
			dec.UseNumber()
			if err := dec.Decode(&doc); err != nil || dec.More() {
				t.Fatalf("schema %d: %q is not one JSON value: %v", i, out, err)
			}
			if err := validator.Validate(doc); err != nil {
				t.Fatalf("schema %d: %q does not validate: %v", i, out, err)
			}
			n++
		}
	}
	t.Logf("%d generations valid", n)
}

func compileSchema(t *testing.T, src string) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(src)))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSchemaErrors(t *testing.T) {
	for _, tc := range []struct{ schema, want string }{
		{`{"type":"string","pattern":"^a+$"}`, `keyword "pattern" is not supported`},
		{`{"type":"integer","minimum":3}`, `keyword "minimum"`},
		{`{"type":"object","properties":{"a":{"type":"integer","multipleOf":2}}}`, `#/properties/a: keyword "multipleOf"`},
		{`{"type":"strin"}`, `unknown type "strin"`},
		{`{"$ref":"#/$defs/missing"}`, "does not resolve"},
		{`{"$ref":"http://example.com/s.json"}`, "only references inside the schema"},
		{`{"type":"object","properties":{"a":{}},"required":["b"]}`, `required property "b" has no schema`},
		{`{"type":"array","minItems":3,"maxItems":1}`, "maxItems 1 is less than minItems 3"},
		{`{"type":"string","maxLength":100000}`, "want a whole number from 0 to 10000"},
		{`{"enum":[]}`, "enum must be a non-empty list"},
		{`false`, "accepts no value"},
		{`{"type":`, "json schema"},
		{`{} {}`, "data after the schema"},
	} {
		_, err := FromJSONSchema([]byte(tc.schema))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.schema, err, tc.want)
		}
	}
}

// Properties are generated in the schema's order, required ones first.
func TestSchemaKeyOrder(t *testing.T) {
	src, err := SchemaGBNF([]byte(`{"type":"object","properties":{"z":{"type":"integer"},"a":{"type":"integer"},"m":{"type":"integer"}},"required":["m","z"]}`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string]bool{
		`{"z":1,"m":2}`:       true,
		`{"z":1,"m":2,"a":3}`: true,
		`{"m":2,"z":1}`:       false,
		`{"z":1}`:             false,
		`{"a":3,"z":1,"m":2}`: false,
	} {
		m := g.Matcher()
		got := m.Accept(text) == nil && m.CanEnd()
		if got != want {
			t.Errorf("%s: accepted %v, want %v\n%s", text, got, want, src)
		}
	}
}
