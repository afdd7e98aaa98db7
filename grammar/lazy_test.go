package grammar

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// Lazy leaves text free until the trigger, then holds the grammar (which
// begins with the trigger) until it completes, then frees the text again.
func TestLazy(t *testing.T) {
	v, toks := testVocab()
	id := func(s string) int {
		for i, t := range toks {
			if t == s {
				return i
			}
		}
		panic(s)
	}
	g, err := Parse(`root ::= "<<{" [a-z]+ "}"`)
	if err != nil {
		t.Fatal(err)
	}
	l := g.NewLazy(v, "<<")
	logits := make([]float32, v.Size())
	for _, s := range []string{"a", "<", "b", "<"} { // "<b<" holds no trigger
		if !l.Allows(id(s), 10) {
			t.Fatalf("free text: %q refused", s)
		}
		if err := l.Accept(id(s)); err != nil || l.Active() {
			t.Fatalf("after %q: %v, active %v", s, err, l.Active())
		}
	}
	l.Accept(id("<")) // "<<": the trigger
	if !l.Active() || l.Allows(id("a"), 10) || !l.Allows(id("{"), 10) {
		t.Fatalf("after the trigger: active %v, allows a %v, { %v", l.Active(), l.Allows(id("a"), 10), l.Allows(id("{"), 10))
	}
	if err := l.Mask(logits, 10); err != nil {
		t.Fatal(err)
	}
	for i, x := range logits {
		if (x == 0) != (toks[i] == "{") {
			t.Fatalf("mask after the trigger lets %q through: %v", toks[i], x)
		}
	}
	for _, s := range []string{"{", "a", "b", "}"} {
		if err := l.Accept(id(s)); err != nil {
			t.Fatal(err)
		}
	}
	if l.Active() || !l.Allows(id("!"), 10) {
		t.Fatalf("after the grammar completed: active %v", l.Active())
	}

	// Random text with triggers: every span after a trigger matches.
	rng := rand.New(rand.NewPCG(5, 6))
	l = g.NewLazy(v, "<<")
	var out strings.Builder
	for range 400 {
		for i := range logits {
			logits[i] = float32(rng.NormFloat64())
		}
		if !l.Active() && rng.IntN(10) == 0 {
			logits[id("<")] = 100
		}
		if err := l.Mask(logits, 50); err != nil {
			t.Fatal(err)
		}
		best := 0
		for i, x := range logits {
			if x > logits[best] {
				best = i
			}
		}
		if best == len(toks)-1 {
			continue
		}
		if err := l.Accept(best); err != nil {
			t.Fatal(err)
		}
		out.WriteString(toks[best])
	}
	parts := strings.Split(out.String(), "<<")
	if len(parts) < 3 {
		t.Fatalf("only %d triggers in %q", len(parts)-1, out.String())
	}
	for _, p := range parts[1 : len(parts)-1] {
		end := strings.IndexByte(p, '}')
		if !strings.HasPrefix(p, "{") || end < 2 || strings.Trim(p[1:end], "abcdefghijklmnopqrstuvwxyz") != "" {
			t.Errorf("after a trigger: %q", p)
		}
	}
}
