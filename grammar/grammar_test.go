package grammar

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`root ::= foo`, "rule foo is used but not defined"},
		{`start ::= "a"`, "no root rule"},
		{`root ::= root "a" | "b"`, "rule root is left-recursive"},
		{"root ::= a \"x\"\na ::= \"b\"? root", "left-recursive"},
		{`root ::= "abc`, "unterminated string"},
		{`root ::= [a-`, "unterminated character class"},
		{`root ::= [z-a]`, "is empty"},
		{`root ::= "a"{3,1}`, "bounds reversed"},
		{`root ::= "a"{99999}`, "at most 10000"},
		{`root ::= "\q"`, `unknown escape \q`},
		{`root ::= "a" | *`, "follows nothing"},
		{"root ::= \"a\"\nroot ::= \"b\"", "defined twice"},
		{`root = "a"`, "expected ::="},
		{`root ::= ( "a"`, "expected )"},
		{"root ::= x\nx ::= ((((\"a\"{10000}){10000}){10000}){10000})", ""}, // groups nest without blowing up
	} {
		_, err := Parse(tc.src)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.src, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.src, err, tc.want)
		}
	}
}

// reNode is a random regular expression, written both as GBNF and as a
// Go regexp: Go's regexp package is the reference for what matches.
type reNode struct {
	op   string // lit, class, cat, alt, star, plus, opt, rep
	lit  string
	cls  string // inside [...]
	kids []*reNode
	m, n int
}

func randRe(rng *rand.Rand, depth int) *reNode {
	if depth == 0 || rng.IntN(3) == 0 {
		switch rng.IntN(3) {
		case 0:
			return &reNode{op: "lit", lit: []string{"a", "b", "ab", "가", "한국", "\"", "."}[rng.IntN(7)]}
		case 1:
			return &reNode{op: "class", cls: []string{"a-c", "^a", "가-힣", "0-9a", "^가-힣"}[rng.IntN(5)]}
		}
		return &reNode{op: "lit", lit: "b"}
	}
	switch rng.IntN(6) {
	case 0:
		return &reNode{op: "cat", kids: []*reNode{randRe(rng, depth-1), randRe(rng, depth-1)}}
	case 1:
		return &reNode{op: "alt", kids: []*reNode{randRe(rng, depth-1), randRe(rng, depth-1)}}
	case 2:
		return &reNode{op: "star", kids: []*reNode{randRe(rng, depth-1)}}
	case 3:
		return &reNode{op: "plus", kids: []*reNode{randRe(rng, depth-1)}}
	case 4:
		return &reNode{op: "opt", kids: []*reNode{randRe(rng, depth-1)}}
	}
	m := rng.IntN(3)
	return &reNode{op: "rep", kids: []*reNode{randRe(rng, depth-1)}, m: m, n: m + rng.IntN(3)}
}

func (r *reNode) gbnf() string {
	switch r.op {
	case "lit":
		return gbnfQuote(r.lit)
	case "class":
		return "[" + r.cls + "]"
	case "cat":
		return "(" + r.kids[0].gbnf() + " " + r.kids[1].gbnf() + ")"
	case "alt":
		return "(" + r.kids[0].gbnf() + " | " + r.kids[1].gbnf() + ")"
	case "star":
		return "(" + r.kids[0].gbnf() + ")*"
	case "plus":
		return "(" + r.kids[0].gbnf() + ")+"
	case "opt":
		return "(" + r.kids[0].gbnf() + ")?"
	}
	return fmt.Sprintf("(%s){%d,%d}", r.kids[0].gbnf(), r.m, r.n)
}

func (r *reNode) re() string {
	switch r.op {
	case "lit":
		return regexp.QuoteMeta(r.lit)
	case "class":
		return "[" + r.cls + "]"
	case "cat":
		return "(?:" + r.kids[0].re() + r.kids[1].re() + ")"
	case "alt":
		return "(?:" + r.kids[0].re() + "|" + r.kids[1].re() + ")"
	case "star":
		return "(?:" + r.kids[0].re() + ")*"
	case "plus":
		return "(?:" + r.kids[0].re() + ")+"
	case "opt":
		return "(?:" + r.kids[0].re() + ")?"
	}
	return fmt.Sprintf("(?:%s){%d,%d}", r.kids[0].re(), r.m, r.n)
}

// TestMatchesRegexp compares the recognizer with Go's regexp package on
// random regular grammars and strings, prefix by prefix: a prefix is
// accepted exactly when some completion matches.
func TestMatchesRegexp(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	alphabet := []string{"a", "b", "c", "가", "한", "국", "\"", ".", "1"}
	tested := 0
	defer func() {
		if tested < 200 {
			t.Errorf("only %d of 300 grammars tested", tested)
		}
	}()
	for i := 0; i < 300; i++ {
		r := randRe(rng, 4)
		g, err := Parse("root ::= " + r.gbnf())
		if err != nil {
			if strings.Contains(err.Error(), "left-recursive") {
				continue // (x?)* and the like: nullable loops are refused
			}
			t.Fatalf("%s: %v", r.gbnf(), err)
		}
		tested++
		full := regexp.MustCompile(`^(?:` + r.re() + `)$`)
		for j := 0; j < 40; j++ {
			var b strings.Builder
			for k := rng.IntN(7); k > 0; k-- {
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			s := b.String()
			m := g.Matcher()
			err := m.Accept(s)
			if got, want := err == nil && m.CanEnd(), full.MatchString(s); got != want {
				t.Fatalf("grammar %s\nregexp %s\n%q: recognizer says %v (%v), regexp %v", r.gbnf(), full, s, got, err, want)
			}
		}
	}
}

// TestMaskEqualsAllows checks the trie walk against trying each token on
// its own, in states reached by random generation, with tight budgets.
func TestMaskEqualsAllows(t *testing.T) {
	v, toks := testVocab()
	g, err := FromJSONSchema([]byte(`{"type":"object","properties":{"k":{"type":"array","items":{"type":["string","number"]}},"b":{"enum":["한국어",true,null]}},"required":["k"]}`))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 30; i++ {
		c := g.NewConstraint(v)
		for steps := 0; steps < 40 && !c.Done(); steps++ {
			remaining := c.MinTokens() + rng.IntN(8) + 1
			bits, err := c.Allowed(remaining)
			if err != nil {
				t.Fatal(err)
			}
			var allowed []int
			for id := range toks {
				in := bits[id>>6]&(1<<(id&63)) != 0
				if in != c.Allows(id, remaining) {
					t.Fatalf("token %q with %d left: mask %v, Allows %v", toks[id], remaining, in, !in)
				}
				if in {
					allowed = append(allowed, id)
				}
			}
			if err := c.Accept(allowed[rng.IntN(len(allowed))]); err != nil {
				t.Fatal(err)
			}
		}
	}
}
