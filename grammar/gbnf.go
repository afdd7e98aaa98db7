// Package grammar constrains generation: it compiles grammars in
// llama.cpp's GBNF notation (and JSON schemas, through GBNF) into a
// recognizer over Unicode code points, and turns the recognizer's state
// into a mask over a tokenizer's vocabulary at each step.
//
// It is hand-written: no Go library recognizes context-free grammars
// incrementally over a 150k-token vocabulary, which is what a sampler
// needs.
package grammar

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Limits on what a grammar may expand to, so that a client's grammar or
// schema cannot size memory: {m,n} repetitions are unrolled into rules.
const (
	maxElems  = 1 << 20
	maxRepeat = 10000
)

type elemKind uint8

const (
	kEnd  elemKind = iota // the end of an alternative
	kChar                 // one code point from a class
	kRef                  // another rule
)

// elem is one element of an alternative. Alternatives lie in Grammar.elems
// back to back, each closed by a kEnd.
type elem struct {
	kind   elemKind
	neg    bool   // kChar: the class is the complement of ranges
	rule   int32  // kRef
	ranges []rune // kChar: inclusive [lo, hi] pairs
	ascii  [2]uint64
}

func (e *elem) match(r rune) bool {
	if r < 128 {
		return e.ascii[r>>6]&(1<<(r&63)) != 0
	}
	in := false
	for i := 0; i < len(e.ranges); i += 2 {
		if r >= e.ranges[i] && r <= e.ranges[i+1] {
			in = true
			break
		}
	}
	return in != e.neg
}

// matchRange reports whether the class holds any code point in [lo, hi].
func (e *elem) matchRange(lo, hi rune) bool {
	if !e.neg {
		for i := 0; i < len(e.ranges); i += 2 {
			if e.ranges[i] <= hi && e.ranges[i+1] >= lo {
				return true
			}
		}
		return false
	}
	// Some point of [lo, hi] escapes every range unless they cover it.
	for r := lo; r <= hi; {
		next := r
		for i := 0; i < len(e.ranges); i += 2 {
			if e.ranges[i] <= r && e.ranges[i+1] >= r {
				next = e.ranges[i+1] + 1
				break
			}
		}
		if next == r {
			return true
		}
		r = next
	}
	return false
}

func (e *elem) finish() {
	for c := rune(0); c < 128; c++ {
		in := false
		for i := 0; i < len(e.ranges); i += 2 {
			if c >= e.ranges[i] && c <= e.ranges[i+1] {
				in = true
				break
			}
		}
		if in != e.neg {
			e.ascii[c>>6] |= 1 << (c & 63)
		}
	}
}

// minBytes is the fewest UTF-8 bytes a code point of the class takes.
func (e *elem) minBytes() int32 {
	switch {
	case e.match(0) || e.matchRange(0, 0x7f):
		return 1
	case e.matchRange(0x80, 0x7ff):
		return 2
	case e.matchRange(0x800, 0xffff):
		return 3
	}
	return 4
}

// Grammar is a compiled grammar; it is immutable and safe to share.
type Grammar struct {
	elems []elem
	rules []rule
	root  int32
	// suffix[p] is the fewest bytes that complete the alternative from
	// elems[p] on.
	suffix []int32
	// The recognizer's memo tables, shared by every matcher.
	once  sync.Once
	store *store
}

type rule struct {
	name string
	alts []int32 // where each alternative starts in elems
	min  int32   // fewest bytes the rule matches
}

// Parse compiles GBNF text (llama.cpp's grammar notation) whose start rule
// is root: rules `name ::= ...`, "literals", [classes] and [^negated]
// classes, `.` for any character, ( groups ), |, and the repetitions *, +,
// ?, {m}, {m,}, {m,n}; # comments.
func Parse(src string) (*Grammar, error) {
	p := &parser{src: src, ids: map[string]int32{}}
	if err := p.parse(); err != nil {
		return nil, err
	}
	return p.compile("root")
}

// parser builds rules as lists of alternatives of items; compile lays
// them out flat.
type parser struct {
	src     string
	pos     int
	ids     map[string]int32
	names   []string
	defs    [][][]item // per rule: alternatives of items
	defined []bool
	line    int
	nelems  int
}

type item struct {
	ref    int32 // -1: a character class
	neg    bool
	ranges []rune
}

func (p *parser) errf(format string, args ...any) error {
	line := 1 + strings.Count(p.src[:min(p.pos, len(p.src))], "\n")
	return fmt.Errorf("grammar line %d: %s", line, fmt.Sprintf(format, args...))
}

func (p *parser) ruleID(name string) int32 {
	if id, ok := p.ids[name]; ok {
		return id
	}
	id := int32(len(p.names))
	p.ids[name] = id
	p.names = append(p.names, name)
	p.defs = append(p.defs, nil)
	p.defined = append(p.defined, false)
	return id
}

func (p *parser) newRule(base string) int32 {
	for i := len(p.names); ; i++ {
		name := fmt.Sprintf("%s-%d", base, i)
		if _, ok := p.ids[name]; !ok {
			id := p.ruleID(name)
			p.defined[id] = true
			return id
		}
	}
}

func isWordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// space skips blanks and comments; newlines only when nested (inside
// parentheses or after |), since a newline ends a rule.
func (p *parser) space(newlines bool) {
	for p.pos < len(p.src) {
		switch c := p.src[p.pos]; {
		case c == ' ' || c == '\t':
			p.pos++
		case c == '#':
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.pos++
			}
		case (c == '\n' || c == '\r') && newlines:
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) name() string {
	start := p.pos
	for p.pos < len(p.src) && isWordChar(p.src[p.pos]) {
		p.pos++
	}
	return p.src[start:p.pos]
}

func (p *parser) parse() error {
	for {
		p.space(true)
		if p.pos >= len(p.src) {
			break
		}
		name := p.name()
		if name == "" {
			return p.errf("expected a rule name, found %q", p.peekText())
		}
		p.space(false)
		if !strings.HasPrefix(p.src[p.pos:], "::=") {
			return p.errf("expected ::= after %s", name)
		}
		p.pos += 3
		id := p.ruleID(name)
		if p.defined[id] {
			return p.errf("rule %s is defined twice", name)
		}
		p.defined[id] = true
		alts, err := p.alternatives(name, false)
		if err != nil {
			return err
		}
		p.defs[id] = alts
		if p.pos < len(p.src) && p.src[p.pos] != '\n' && p.src[p.pos] != '\r' {
			return p.errf("unexpected %q", p.peekText())
		}
	}
	for i, ok := range p.defined {
		if !ok {
			return fmt.Errorf("grammar: rule %s is used but not defined", p.names[i])
		}
	}
	return nil
}

func (p *parser) peekText() string {
	end := min(p.pos+12, len(p.src))
	return p.src[p.pos:end]
}

func (p *parser) alternatives(name string, nested bool) ([][]item, error) {
	var alts [][]item
	for {
		seq, err := p.sequence(name, nested)
		if err != nil {
			return nil, err
		}
		alts = append(alts, seq)
		if p.nelems += len(seq) + 1; p.nelems > maxElems {
			return nil, p.errf("the grammar expands to more than %d elements", maxElems)
		}
		if p.pos < len(p.src) && p.src[p.pos] == '|' {
			p.pos++
			p.space(true)
			continue
		}
		return alts, nil
	}
}

func (p *parser) sequence(name string, nested bool) ([]item, error) {
	var seq []item
	last := -1 // where the last atom starts in seq, for repetitions
	for {
		p.space(nested)
		if p.pos >= len(p.src) {
			return seq, nil
		}
		c := p.src[p.pos]
		switch {
		case c == '"':
			p.pos++
			last = len(seq)
			for {
				if p.pos >= len(p.src) {
					return nil, p.errf("unterminated string literal")
				}
				if p.src[p.pos] == '"' {
					p.pos++
					break
				}
				r, err := p.char()
				if err != nil {
					return nil, err
				}
				seq = append(seq, item{ref: -1, ranges: []rune{r, r}})
			}
			if last == len(seq) { // "" matches nothing: keep no atom
				last = -1
			}
		case c == '[':
			p.pos++
			it := item{ref: -1}
			if p.pos < len(p.src) && p.src[p.pos] == '^' {
				it.neg = true
				p.pos++
			}
			for {
				if p.pos >= len(p.src) {
					return nil, p.errf("unterminated character class")
				}
				if p.src[p.pos] == ']' {
					p.pos++
					break
				}
				lo, err := p.char()
				if err != nil {
					return nil, err
				}
				hi := lo
				if p.pos+1 < len(p.src) && p.src[p.pos] == '-' && p.src[p.pos+1] != ']' {
					p.pos++
					if hi, err = p.char(); err != nil {
						return nil, err
					}
					if hi < lo {
						return nil, p.errf("character range %q-%q is empty", lo, hi)
					}
				}
				it.ranges = append(it.ranges, lo, hi)
			}
			last = len(seq)
			seq = append(seq, it)
		case c == '.':
			p.pos++
			last = len(seq)
			seq = append(seq, item{ref: -1, neg: true})
		case c == '(':
			p.pos++
			p.space(true)
			alts, err := p.alternatives(name, true)
			if err != nil {
				return nil, err
			}
			p.space(true)
			if p.pos >= len(p.src) || p.src[p.pos] != ')' {
				return nil, p.errf("expected )")
			}
			p.pos++
			id := p.newRule(name)
			p.defs[id] = alts
			last = len(seq)
			seq = append(seq, item{ref: id})
		case isWordChar(c):
			save := p.pos
			ref := p.name()
			p.space(false)
			if strings.HasPrefix(p.src[p.pos:], "::=") {
				// The next rule begins: this sequence ended at a newline
				// that nesting let through.
				p.pos = save
				return seq, nil
			}
			p.pos = save + len(ref)
			last = len(seq)
			seq = append(seq, item{ref: p.ruleID(ref)})
		case c == '*' || c == '+' || c == '?' || c == '{':
			if last < 0 {
				return nil, p.errf("%q follows nothing it could repeat", c)
			}
			lo, hi, err := p.repetition()
			if err != nil {
				return nil, err
			}
			atom := append([]item(nil), seq[last:]...)
			seq = seq[:last]
			rep, err := p.repeat(name, atom, lo, hi)
			if err != nil {
				return nil, err
			}
			seq = append(seq, rep...)
			last = -1
		default:
			return seq, nil
		}
		if p.nelems+len(seq) > maxElems {
			return nil, p.errf("the grammar expands to more than %d elements", maxElems)
		}
	}
}

// repetition reads *, +, ? or {m}, {m,}, {m,n}; hi is -1 for no bound.
func (p *parser) repetition() (lo, hi int, err error) {
	c := p.src[p.pos]
	p.pos++
	switch c {
	case '*':
		return 0, -1, nil
	case '+':
		return 1, -1, nil
	case '?':
		return 0, 1, nil
	}
	num := func() (int, bool) {
		p.space(false)
		start := p.pos
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
		}
		if start == p.pos {
			return 0, false
		}
		n, err := strconv.Atoi(p.src[start:p.pos])
		return n, err == nil && n <= maxRepeat
	}
	lo, ok := num()
	if !ok {
		return 0, 0, p.errf("expected a count (at most %d) after {", maxRepeat)
	}
	hi = lo
	p.space(false)
	if p.pos < len(p.src) && p.src[p.pos] == ',' {
		p.pos++
		p.space(false)
		hi = -1
		if p.pos < len(p.src) && p.src[p.pos] != '}' {
			if hi, ok = num(); !ok {
				return 0, 0, p.errf("expected a count (at most %d) after ,", maxRepeat)
			}
		}
	}
	p.space(false)
	if p.pos >= len(p.src) || p.src[p.pos] != '}' {
		return 0, 0, p.errf("expected }")
	}
	p.pos++
	if hi >= 0 && hi < lo {
		return 0, 0, p.errf("repetition {%d,%d} has its bounds reversed", lo, hi)
	}
	return lo, hi, nil
}

// repeat unrolls atom{lo,hi} into lo copies and then either a starred rule
// (no bound) or hi-lo nested optional rules.
func (p *parser) repeat(name string, atom []item, lo, hi int) ([]item, error) {
	total := lo
	if hi > lo {
		total = hi
	}
	if p.nelems+total*len(atom) > maxElems {
		return nil, p.errf("the grammar expands to more than %d elements", maxElems)
	}
	var out []item
	for range lo {
		out = append(out, atom...)
	}
	switch {
	case hi < 0: // star ::= atom star |
		id := p.newRule(name)
		p.defs[id] = [][]item{append(append([]item(nil), atom...), item{ref: id}), nil}
		out = append(out, item{ref: id})
	case hi > lo: // opt_k ::= atom opt_{k+1} | ; the last without a tail
		var next int32 = -1
		for range hi - lo {
			id := p.newRule(name)
			alt := append([]item(nil), atom...)
			if next >= 0 {
				alt = append(alt, item{ref: next})
			}
			p.defs[id] = [][]item{alt, nil}
			next = id
		}
		out = append(out, item{ref: next})
	}
	return out, nil
}

// char reads one literal character or escape inside quotes or a class.
func (p *parser) char() (rune, error) {
	if p.src[p.pos] != '\\' {
		r, n := utf8.DecodeRuneInString(p.src[p.pos:])
		if r == utf8.RuneError && n <= 1 {
			return 0, p.errf("invalid UTF-8")
		}
		p.pos += n
		return r, nil
	}
	if p.pos+1 >= len(p.src) {
		return 0, p.errf("unterminated escape")
	}
	c := p.src[p.pos+1]
	p.pos += 2
	switch c {
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case '\\', '"', '[', ']', '-', '^', '/', '\'':
		return rune(c), nil
	case 'x', 'u', 'U':
		n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
		if p.pos+n > len(p.src) {
			return 0, p.errf("short \\%c escape", c)
		}
		v, err := strconv.ParseUint(p.src[p.pos:p.pos+n], 16, 32)
		if err != nil || v > utf8.MaxRune {
			return 0, p.errf("bad \\%c escape %q", c, p.src[p.pos:p.pos+n])
		}
		p.pos += n
		return rune(v), nil
	}
	return 0, p.errf("unknown escape \\%c", c)
}

// compile lays the rules out flat, checks that no rule is left-recursive,
// and computes the shortest completions.
func (p *parser) compile(root string) (*Grammar, error) {
	rid, ok := p.ids[root]
	if !ok {
		return nil, fmt.Errorf("grammar: no %s rule", root)
	}
	g := &Grammar{rules: make([]rule, len(p.names)), root: rid}
	for id, alts := range p.defs {
		g.rules[id].name = p.names[id]
		for _, alt := range alts {
			g.rules[id].alts = append(g.rules[id].alts, int32(len(g.elems)))
			for _, it := range alt {
				if it.ref >= 0 {
					g.elems = append(g.elems, elem{kind: kRef, rule: it.ref})
					continue
				}
				e := elem{kind: kChar, neg: it.neg, ranges: it.ranges}
				e.finish()
				g.elems = append(g.elems, e)
			}
			g.elems = append(g.elems, elem{kind: kEnd})
		}
	}
	if err := g.checkLeftRecursion(); err != nil {
		return nil, err
	}
	g.computeMin()
	return g, nil
}

// checkLeftRecursion rejects a rule that can reach itself without
// consuming a character: the recognizer would expand it forever.
func (g *Grammar) checkLeftRecursion() error {
	nullable := make([]bool, len(g.rules))
	for changed := true; changed; {
		changed = false
		for id := range g.rules {
			if nullable[id] {
				continue
			}
			for _, a := range g.rules[id].alts {
				p := a
				for g.elems[p].kind == kRef && nullable[g.elems[p].rule] {
					p++
				}
				if g.elems[p].kind == kEnd {
					nullable[id], changed = true, true
					break
				}
			}
		}
	}
	// Edges: id -> every rule its alternatives can start with.
	state := make([]uint8, len(g.rules)) // 0 new, 1 on the path, 2 done
	var visit func(id int32) error
	visit = func(id int32) error {
		state[id] = 1
		for _, a := range g.rules[id].alts {
			for p := a; g.elems[p].kind == kRef; p++ {
				next := g.elems[p].rule
				switch state[next] {
				case 1:
					return fmt.Errorf("grammar: rule %s is left-recursive (it can reach itself before any character), which this recognizer does not support", g.rules[next].name)
				case 0:
					if err := visit(next); err != nil {
						return err
					}
				}
				if !nullable[next] {
					break
				}
			}
		}
		state[id] = 2
		return nil
	}
	for id := range g.rules {
		if state[id] == 0 {
			if err := visit(int32(id)); err != nil {
				return err
			}
		}
	}
	return nil
}

const unreachable = 1 << 29 // sums of two stay within int32

// computeMin finds each rule's shortest match in bytes by iterating to a
// fixed point, then each position's shortest completion.
func (g *Grammar) computeMin() {
	for i := range g.rules {
		g.rules[i].min = unreachable
	}
	seqMin := func(p int32) int32 {
		var n int32
		for ; g.elems[p].kind != kEnd; p++ {
			e := &g.elems[p]
			if e.kind == kChar {
				n += e.minBytes()
			} else {
				n += g.rules[e.rule].min
			}
			n = min(n, unreachable)
		}
		return n
	}
	for changed := true; changed; {
		changed = false
		for i := range g.rules {
			for _, a := range g.rules[i].alts {
				if n := seqMin(a); n < g.rules[i].min {
					g.rules[i].min, changed = n, true
				}
			}
		}
	}
	g.suffix = make([]int32, len(g.elems))
	for p := len(g.elems) - 1; p >= 0; p-- {
		e := &g.elems[p]
		switch e.kind {
		case kEnd:
			g.suffix[p] = 0
		case kChar:
			g.suffix[p] = min(e.minBytes()+g.suffix[p+1], unreachable)
		case kRef:
			g.suffix[p] = min(g.rules[e.rule].min+g.suffix[p+1], unreachable)
		}
	}
}
