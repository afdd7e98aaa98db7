package infer

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/dokja/dokja/grammar"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestSchemaConformanceRandomModel: 1,000 generations of a random-weight
// model, sampled at temperature 1 under varied JSON schemas and token
// budgets, all parse and validate (an independent validator, formats
// asserted). Budgets start at the fewest tokens the schema needs.
func TestSchemaConformanceRandomModel(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	b, err := os.ReadFile("../grammar/testdata/schemas.txt")
	if err != nil {
		t.Fatal(err)
	}
	var schemas []string
	for _, line := range strings.Split(string(b), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			schemas = append(schemas, line)
		}
	}
	m, tok := tinyModel(t)
	e, err := NewEngine(m, tok, EngineOptions{MaxBatch: 8, MaxQueue: n})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	grammars := make([]*grammar.Grammar, len(schemas))
	validators := make([]*jsonschema.Schema, len(schemas))
	for i, s := range schemas {
		if grammars[i], err = grammar.FromJSONSchema([]byte(s)); err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if err := c.AddResource("s.json", doc); err != nil {
			t.Fatal(err)
		}
		if validators[i], err = c.Compile("s.json"); err != nil {
			t.Fatal(err)
		}
	}
	prompt, _ := tok.Encode("JSON으로 답하세요: ")
	rng := rand.New(rand.NewPCG(1, 1))
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		k := i % len(schemas)
		c := grammars[k].NewConstraint(e.GrammarVocab())
		req := Request{Prompt: prompt, MaxTokens: c.MinTokens() + rng.IntN(100), Constraint: c,
			Sampler: SamplerOptions{Temperature: 1, Seed: uint64(i)}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.Generate(t.Context(), req, nil)
			if err != nil {
				errs <- err.Error()
				return
			}
			var doc any
			dec := json.NewDecoder(bytes.NewReader([]byte(res.Text)))
			dec.UseNumber()
			if err := dec.Decode(&doc); err != nil || dec.More() {
				errs <- "schema " + schemas[k] + ": not one JSON value: " + res.Text
				return
			}
			if err := validators[k].Validate(doc); err != nil {
				errs <- "schema " + schemas[k] + ": " + res.Text + ": " + err.Error()
			}
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for msg := range errs {
		if failed++; failed <= 5 {
			t.Error(msg)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d generations failed", failed, n)
	}
}
