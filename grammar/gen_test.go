package grammar

import (
	"math/rand/v2"
	"testing"
)

// testVocab is a small byte-level vocabulary: every byte, plus pieces of
// JSON and Korean text, and an end token.
func testVocab() (*Vocab, []string) {
	var toks []string
	for b := 0; b < 256; b++ {
		toks = append(toks, string([]byte{byte(b)}))
	}
	toks = append(toks, `{"`, `":`, `",`, `"}`, `true`, `false`, `null`, `12`, `0.5`, `": "`, ` {`, `},`, `["`, `"]`, `한국`, `어`, "\n  ", `\n`, `\"`, `\u00e9`, "정보", "<eos>")
	end := len(toks) - 1
	v := NewVocab(len(toks), func(id int) (string, bool) { return toks[id], true }, []int{end})
	return v, toks
}

// generate samples from random logits under c until it is done, the end
// token is drawn or the budget runs out.
func generate(t testing.TB, c *Constraint, v *Vocab, toks []string, rng *rand.Rand, budget int) (string, bool) {
	logits := make([]float32, v.Size())
	var out []byte
	for remaining := budget; remaining > 0; remaining-- {
		if c.Done() {
			return string(out), true
		}
		for i := range logits {
			logits[i] = float32(rng.NormFloat64() * 3)
		}
		if err := c.Mask(logits, remaining); err != nil {
			t.Fatalf("after %q: %v", out, err)
		}
		best := 0
		for i, l := range logits {
			if l > logits[best] {
				best = i
			}
		}
		if err := c.Accept(best); err != nil {
			t.Fatalf("after %q: accepting %q: %v", out, toks[best], err)
		}
		if best == len(toks)-1 {
			return string(out), true
		}
		out = append(out, toks[best]...)
	}
	return string(out), c.CanEnd()
}
