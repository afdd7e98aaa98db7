package grammar

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
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
	// succ is the stacks after the top class takes a code point (any:
	// which one does not change them), once computed.
	succ     []*node
	succDone bool
}

type nodeKey struct {
	pos  int32
	next *node
}

// maxStacks bounds one state's stacks: an ambiguous grammar could
// otherwise multiply them at every character.
const maxStacks = 4096

// errAmbiguous is returned when a state would exceed maxStacks.
var errAmbiguous = errors.New("grammar: too ambiguous (more than 4096 parses at once)")

// store hash-conses one matcher's nodes and memoizes expansions and
// steps. It is not safe for concurrent use.
type store struct {
	// mu guards everything below: the matchers of one grammar share it.
	mu     sync.Mutex
	g      *Grammar
	nodes  map[nodeKey]*node
	exp    map[*node][]*node // a node -> the stacks with a character on top
	states map[string]*state
	masks  int // states holding a mask
	start  *state
	err    error
	key    []byte
}

func newStore(g *Grammar) *store {
	return &store{g: g, nodes: map[nodeKey]*node{}, exp: map[*node][]*node{}, states: map[string]*state{}}
}

// state is an interned set of stacks (sorted by node id, nil first): the
// recognizer's position between code points. Its transitions are
// memoized, so after a warm-up walking the vocabulary trie is a chain of
// array lookups, a lazily built automaton over the grammar.
type state struct {
	stacks []*node
	min    int32 // fewest bytes to a complete match
	canEnd bool  // the empty stack is among them
	ascii  [128]*state
	// bySig holds the transitions on other code points, by which stacks'
	// classes take them (a bit per stack): a state inside a string sees
	// thousands of characters and one signature.
	bySig map[uint64]*state
	// mask is the vocabulary's allowed tokens here (Constraint.Allowed).
	mask *maskEntry
}

// dead is the transition to nowhere.
var dead = &state{}

// intern returns the state of a set of stacks (any order, no duplicates).
func (s *store) intern(stacks []*node) *state {
	if len(stacks) == 0 {
		return dead
	}
	ids := func(n *node) int32 {
		if n == nil {
			return -1
		}
		return n.id
	}
	slices.SortFunc(stacks, func(a, b *node) int { return int(ids(a) - ids(b)) })
	k := s.key[:0]
	for _, n := range stacks {
		k = binary.AppendVarint(k, int64(ids(n)))
	}
	s.key = k
	if st, ok := s.states[string(k)]; ok {
		return st
	}
	st := &state{stacks: slices.Clone(stacks), min: unreachable}
	for _, n := range stacks {
		if n == nil {
			st.canEnd, st.min = true, 0
		} else {
			st.min = min(st.min, n.min)
		}
	}
	s.states[string(k)] = st
	return st
}

// next is the state after code point r (dead if none).
func (s *store) next(st *state, r rune) *state {
	if r < 128 {
		if nx := st.ascii[r]; nx != nil {
			return nx
		}
	}
	var sig uint64
	if len(st.stacks) <= 64 {
		for i, n := range st.stacks {
			if n != nil && s.g.elems[n.pos].match(r) {
				sig |= 1 << i
			}
		}
		if r >= 128 {
			if nx, ok := st.bySig[sig]; ok {
				return nx
			}
		}
	}
	var out []*node
	for _, n := range st.stacks {
		if n == nil || !s.g.elems[n.pos].match(r) {
			continue
		}
		for _, m := range s.succ(n) {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	if len(out) > maxStacks {
		s.err = errAmbiguous
		out = out[:maxStacks]
	}
	nx := s.intern(out)
	switch {
	case r < 128:
		st.ascii[r] = nx
	case len(st.stacks) <= 64:
		if st.bySig == nil {
			st.bySig = map[uint64]*state{}
		}
		st.bySig[sig] = nx
	}
	return nx
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

// succ returns the stacks after n's top class takes a code point.
func (s *store) succ(n *node) []*node {
	if !n.succDone {
		n.succ, n.succDone = s.expand(s.mk(n.pos+1, n.next)), true
	}
	return n.succ
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

// advance moves a state past byte b, reporting false when it cannot
// take b. Within a multi-byte code point the state stays, and pend
// holds the bytes so far.
func (s *store) advance(st *state, pend partial, b byte) (*state, partial, bool) {
	var r rune
	switch {
	case pend.need == 0 && b < 0x80:
		nx := st.ascii[b]
		if nx == nil {
			nx = s.next(st, rune(b))
		}
		return nx, pend, nx != dead
	case pend.need == 0:
		switch {
		case b >= 0xC2 && b < 0xE0:
			pend = partial{rune(b & 0x1f), 1, 2}
		case b >= 0xE0 && b < 0xF0:
			pend = partial{rune(b & 0x0f), 2, 3}
		case b >= 0xF0 && b < 0xF5:
			pend = partial{rune(b & 0x07), 3, 4}
		default:
			return dead, pend, false
		}
		return st, pend, s.feasible(st.stacks, pend)
	default:
		if b&0xC0 != 0x80 {
			return dead, pend, false
		}
		pend = partial{pend.val<<6 | rune(b&0x3f), pend.need - 1, pend.size}
		if pend.need > 0 {
			return st, pend, s.feasible(st.stacks, pend)
		}
		lo, hi := pend.span()
		r = pend.val
		if r < lo || r > hi || (r >= 0xD800 && r <= 0xDFFF) {
			return dead, pend, false // overlong, a surrogate or too large
		}
	}
	nx := s.next(st, r)
	return nx, partial{}, nx != dead
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
func (s *store) minBytes(st *state, pend partial) int {
	if pend.need == 0 {
		return int(st.min)
	}
	best := int32(unreachable)
	for _, n := range st.stacks {
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
// concurrent use; each generation gets its own (Grammar.Matcher). The
// matchers of one grammar share its memo tables, under a lock.
type Matcher struct {
	s    *store
	st   *state
	pend partial
}

// Matcher returns a recognizer at the start of the grammar.
func (g *Grammar) Matcher() *Matcher {
	g.once.Do(func() {
		s := newStore(g)
		var stacks []*node
		for _, a := range g.rules[g.root].alts {
			for _, n := range s.expand(s.mk(a, nil)) {
				if !slices.Contains(stacks, n) {
					stacks = append(stacks, n)
				}
			}
		}
		s.start = s.intern(stacks)
		g.store = s
	})
	return &Matcher{s: g.store, st: g.store.start}
}

// Accept advances past text; on an error the matcher is unchanged.
func (m *Matcher) Accept(text string) error {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	st, pend, ok := m.try(text)
	if !ok {
		return fmt.Errorf("grammar: %q does not continue the grammar", text)
	}
	if m.s.err != nil {
		return m.s.err
	}
	m.st, m.pend = st, pend
	return nil
}

// Allows reports whether text could come next.
func (m *Matcher) Allows(text string) bool {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	_, _, ok := m.try(text)
	return ok
}

// try returns the state after text; the caller holds the lock.
func (m *Matcher) try(text string) (*state, partial, bool) {
	st, pend := m.st, m.pend
	for i := 0; i < len(text); i++ {
		var ok bool
		if st, pend, ok = m.s.advance(st, pend, text[i]); !ok {
			return dead, pend, false
		}
	}
	return st, pend, true
}

// CanEnd reports whether the text so far is a complete match.
func (m *Matcher) CanEnd() bool {
	return m.pend.need == 0 && m.st.canEnd
}

// Done reports whether the match is complete and nothing may follow.
func (m *Matcher) Done() bool {
	return m.pend.need == 0 && len(m.st.stacks) == 1 && m.st.stacks[0] == nil
}

// MinBytes is the fewest bytes that complete the match.
func (m *Matcher) MinBytes() int {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	return m.s.minBytes(m.st, m.pend)
}
