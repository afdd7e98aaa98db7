package grammar

import (
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

// The recognizer keeps a set of stacks, as llama.cpp's grammar sampler
// does: each stack is a path through the rules, its top a character class
// the next code point must match. Stacks share their tails, and equal
// frames are one node (hash-consed), so a set of stacks is a set of
// pointers and a state can be a cache key.

// node is one stack frame: a position in Grammar.elems and the frames
// below it. A nil *node in a set of stacks is the empty stack: the
// grammar has matched in full.
type node struct {
	pos  int32
	next *node
	id   int32
	min  int32 // fewest bytes that empty the stack
	// ascii memoizes step for ASCII code points: the vocabulary walk
	// takes most of its steps here, and an array beats a map.
	ascii *[128]asciiStep
}

type asciiStep struct {
	done bool
	out  []*node
}

type nodeKey struct {
	pos  int32
	next *node
}

type advKey struct {
	n *node
	r rune
}

// maxStacks bounds one state's stacks: an ambiguous grammar could
// otherwise multiply them at every character.
const maxStacks = 4096

// errAmbiguous is returned when a state would exceed maxStacks.
var errAmbiguous = errors.New("grammar: too ambiguous (more than 4096 parses at once)")

// store hash-conses one matcher's nodes and memoizes expansions and
// steps. It is not safe for concurrent use.
type store struct {
	g     *Grammar
	nodes map[nodeKey]*node
	exp   map[*node][]*node // a node -> the stacks with a character on top
	adv   map[advKey][]*node
	err   error
}

func newStore(g *Grammar) *store {
	return &store{g: g, nodes: map[nodeKey]*node{}, exp: map[*node][]*node{}, adv: map[advKey][]*node{}}
}

func (s *store) mk(pos int32, next *node) *node {
	k := nodeKey{pos, next}
	if n, ok := s.nodes[k]; ok {
		return n
	}
	n := &node{pos: pos, next: next, id: int32(len(s.nodes)), min: s.g.suffix[pos]}
	if next != nil {
		n.min = min(n.min+next.min, unreachable)
	}
	s.nodes[k] = n
	return n
}

// expand returns the stacks reachable from n without consuming input
// whose top is a character class (or nil: nothing left to match).
func (s *store) expand(n *node) []*node {
	if n == nil {
		return []*node{nil}
	}
	if out, ok := s.exp[n]; ok {
		return out
	}
	var out []*node
	var walk func(n *node)
	walk = func(n *node) {
		if n == nil {
			if !slices.Contains(out, nil) {
				out = append(out, nil)
			}
			return
		}
		e := &s.g.elems[n.pos]
		switch e.kind {
		case kEnd:
			walk(n.next)
		case kChar:
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		case kRef:
			cont := s.mk(n.pos+1, n.next)
			for _, a := range s.g.rules[e.rule].alts {
				walk(s.mk(a, cont))
			}
		}
	}
	walk(n)
	if len(out) > maxStacks {
		s.err = errAmbiguous
		out = out[:maxStacks]
	}
	s.exp[n] = out
	return out
}

// step returns the stacks after n's top class consumes r (none if it
// does not match).
func (s *store) step(n *node, r rune) []*node {
	if r < 128 {
		if n.ascii == nil {
			n.ascii = new([128]asciiStep)
		}
		a := &n.ascii[r]
		if !a.done {
			if s.g.elems[n.pos].match(r) {
				a.out = s.expand(s.mk(n.pos+1, n.next))
			}
			a.done = true
		}
		return a.out
	}
	k := advKey{n, r}
	if out, ok := s.adv[k]; ok {
		return out
	}
	var out []*node
	if s.g.elems[n.pos].match(r) {
		out = s.expand(s.mk(n.pos+1, n.next))
	}
	s.adv[k] = out
	return out
}

// partial is an incomplete UTF-8 sequence: the bits so far and how many
// continuation bytes are still to come.
type partial struct {
	val  rune
	need uint8
	size uint8 // the sequence's length in bytes
}

// span is the range of code points pend can still become (lo > hi: none,
// as for overlong encodings).
func (pend partial) span() (lo, hi rune) {
	lo = pend.val << (6 * pend.need)
	hi = lo | (1<<(6*pend.need) - 1)
	return max(lo, [5]rune{0, 0, 0x80, 0x800, 0x10000}[pend.size]), min(hi, utf8.MaxRune)
}

// advance moves stacks past byte b and returns the new stacks, built in
// dst or shared with the memo tables or with stacks (read-only either
// way). It reports false when no stack can take b.
func (s *store) advance(buf *[]*node, stacks []*node, pend partial, b byte) ([]*node, partial, bool) {
	var r rune
	switch {
	case pend.need == 0 && b < 0x80:
		r = rune(b)
	case pend.need == 0:
		switch {
		case b >= 0xC2 && b < 0xE0:
			pend = partial{rune(b & 0x1f), 1, 2}
		case b >= 0xE0 && b < 0xF0:
			pend = partial{rune(b & 0x0f), 2, 3}
		case b >= 0xF0 && b < 0xF5:
			pend = partial{rune(b & 0x07), 3, 4}
		default:
			return nil, pend, false
		}
		return stacks, pend, s.feasible(stacks, pend)
	default:
		if b&0xC0 != 0x80 {
			return nil, pend, false
		}
		pend = partial{pend.val<<6 | rune(b&0x3f), pend.need - 1, pend.size}
		if pend.need > 0 {
			return stacks, pend, s.feasible(stacks, pend)
		}
		lo, hi := pend.span()
		r = pend.val
		if r < lo || r > hi || (r >= 0xD800 && r <= 0xDFFF) {
			return nil, pend, false // overlong, a surrogate or too large
		}
		pend = partial{}
	}
	if len(stacks) == 1 && stacks[0] != nil {
		out := s.step(stacks[0], r)
		return out, pend, len(out) > 0
	}
	dst := (*buf)[:0]
	for _, n := range stacks {
		if n == nil {
			continue
		}
		for _, m := range s.step(n, r) {
			if !slices.Contains(dst, m) {
				dst = append(dst, m)
			}
		}
	}
	if len(dst) > maxStacks {
		s.err = errAmbiguous
		dst = dst[:maxStacks]
	}
	*buf = dst
	return dst, pend, len(dst) > 0
}

// feasible reports whether some stack accepts a code point that begins
// with pend's bytes.
func (s *store) feasible(stacks []*node, pend partial) bool {
	for _, n := range stacks {
		if n != nil && pend.fits(&s.g.elems[n.pos]) {
			return true
		}
	}
	return false
}

// fits reports whether a code point pend can become is in e's class.
func (pend partial) fits(e *elem) bool {
	lo, hi := pend.span()
	return lo <= hi && (lo <= 0xD7FF && e.matchRange(lo, min(hi, 0xD7FF)) || hi >= 0xE000 && e.matchRange(max(lo, 0xE000), hi))
}

// minBytes is the fewest bytes that complete the grammar from a state.
func (s *store) minBytes(stacks []*node, pend partial) int {
	best := int32(unreachable)
	for _, n := range stacks {
		switch {
		case n == nil:
			if pend.need == 0 {
				return 0
			}
		case pend.need > 0:
			// The pending code point completes the top class.
			if e := &s.g.elems[n.pos]; pend.fits(e) {
				best = min(best, n.min-e.minBytes())
			}
		default:
			best = min(best, n.min)
		}
	}
	if best >= unreachable {
		return unreachable
	}
	return int(best) + int(pend.need)
}

// Matcher follows one generation through a grammar. It is not safe for
// concurrent use; each generation gets its own (Grammar.Matcher).
type Matcher struct {
	s      *store
	stacks []*node
	pend   partial
	bufs   [2][]*node
}

// Matcher returns a recognizer at the start of the grammar.
func (g *Grammar) Matcher() *Matcher {
	s := newStore(g)
	stacks := slices.Clone(s.expand(s.mk(g.rules[g.root].alts[0], nil)))
	for _, a := range g.rules[g.root].alts[1:] {
		for _, n := range s.expand(s.mk(a, nil)) {
			if !slices.Contains(stacks, n) {
				stacks = append(stacks, n)
			}
		}
	}
	return &Matcher{s: s, stacks: stacks}
}

// Accept advances past text; on an error the matcher is unchanged.
func (m *Matcher) Accept(text string) error {
	stacks, pend, ok := m.try(text)
	if !ok {
		return fmt.Errorf("grammar: %q does not continue the grammar", text)
	}
	if m.s.err != nil {
		return m.s.err
	}
	m.stacks, m.pend = slices.Clone(stacks), pend
	return nil
}

// Allows reports whether text could come next.
func (m *Matcher) Allows(text string) bool {
	_, _, ok := m.try(text)
	return ok
}

// try returns the state after text, in the matcher's scratch buffers.
func (m *Matcher) try(text string) ([]*node, partial, bool) {
	stacks, pend := m.stacks, m.pend
	for i := 0; i < len(text); i++ {
		next, p, ok := m.s.advance(&m.bufs[i&1], stacks, pend, text[i])
		if !ok {
			return nil, pend, false
		}
		stacks, pend = next, p
	}
	return stacks, pend, true
}

// CanEnd reports whether the text so far is a complete match.
func (m *Matcher) CanEnd() bool {
	return m.pend.need == 0 && slices.Contains(m.stacks, nil)
}

// Done reports whether the match is complete and nothing may follow.
func (m *Matcher) Done() bool {
	return m.pend.need == 0 && len(m.stacks) == 1 && m.stacks[0] == nil
}

// MinBytes is the fewest bytes that complete the match.
func (m *Matcher) MinBytes() int { return m.s.minBytes(m.stacks, m.pend) }
