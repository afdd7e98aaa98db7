package grammar

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Vocab is a tokenizer's vocabulary arranged for masking: the tokens'
// bytes in a trie, so that one walk from a state visits every token
// sharing a prefix once. Special tokens (chat markers and the like) never
// match a grammar; the end tokens are allowed where the grammar is
// complete. A Vocab is immutable and safe to share.
type Vocab struct {
	size  int
	text  []string // by id; "" for a token a grammar never produces
	end   []int
	nodes []trieNode
	edges []trieEdge
}

type trieNode struct {
	edges  [2]int32 // [first, end) into Vocab.edges
	tokens []int32  // tokens that end here
}

type trieEdge struct {
	b     byte
	child int32
}

// NewVocab arranges a vocabulary of size ids; text(id) returns a token's
// bytes and whether a grammar may produce it (false for special tokens
// and unused ids); end lists the end-of-generation tokens.
func NewVocab(size int, text func(id int) (string, bool), end []int) *Vocab {
	v := &Vocab{size: size, text: make([]string, size), end: slices.Clone(end)}
	ids := make([]int32, 0, size)
	for id := range size {
		if slices.Contains(end, id) {
			continue
		}
		if s, ok := text(id); ok && s != "" {
			v.text[id] = s
			ids = append(ids, int32(id))
		}
	}
	slices.SortFunc(ids, func(a, b int32) int { return strings.Compare(v.text[a], v.text[b]) })
	// Sorted tokens share prefixes with their neighbours: build the trie
	// depth first, children in byte order.
	v.nodes = append(v.nodes, trieNode{})
	var build func(n int32, depth int, ids []int32)
	build = func(n int32, depth int, ids []int32) {
		for len(ids) > 0 && len(v.text[ids[0]]) == depth {
			v.nodes[n].tokens = append(v.nodes[n].tokens, ids[0])
			ids = ids[1:]
		}
		type group struct {
			b   byte
			ids []int32
		}
		var groups []group
		for len(ids) > 0 {
			b := v.text[ids[0]][depth]
			j := 1
			for j < len(ids) && v.text[ids[j]][depth] == b {
				j++
			}
			groups = append(groups, group{b, ids[:j]})
			ids = ids[j:]
		}
		first := int32(len(v.edges))
		for _, gr := range groups {
			v.nodes = append(v.nodes, trieNode{})
			v.edges = append(v.edges, trieEdge{gr.b, int32(len(v.nodes) - 1)})
		}
		v.nodes[n].edges = [2]int32{first, int32(len(v.edges))}
		for i, gr := range groups {
			build(v.edges[first+int32(i)].child, depth+1, gr.ids)
		}
	}
	build(0, 0, ids)
	return v
}

// Size is the number of token ids.
func (v *Vocab) Size() int { return v.size }

// Constraint holds one generation to a grammar over a vocabulary, and
// makes it complete within its token budget: a token is allowed only if
// the grammar can still be completed in the tokens left after it (each
// byte is a token of a byte-level vocabulary, so the fewest bytes to
// completion bound the tokens needed). It is not safe for concurrent use;
// the constraints of one grammar share its states and their masks.
type Constraint struct {
	v *Vocab
	m *Matcher
}

type maskEntry struct {
	v    *Vocab
	bits []uint64
	// worst is the most bytes any allowed token leaves to completion: with
	// more tokens than that left, no token needs checking.
	worst int
}

// maxCached bounds the masks one grammar keeps (each is vocab/8 bytes:
// 19 KB at 151k ids).
const maxCached = 256

// NewConstraint starts a generation at the grammar's beginning.
func (g *Grammar) NewConstraint(v *Vocab) *Constraint {
	return &Constraint{v: v, m: g.Matcher()}
}

// Matcher is the constraint's recognizer.
func (c *Constraint) Matcher() *Matcher { return c.m }

// Done reports that the output is complete and nothing may follow.
func (c *Constraint) Done() bool { return c.m.Done() }

// CanEnd reports that the output so far is complete.
func (c *Constraint) CanEnd() bool { return c.m.CanEnd() }

// MinTokens is the fewest tokens that complete the grammar (at most, one
// per byte).
func (c *Constraint) MinTokens() int { return c.m.MinBytes() }

// Allows reports whether token id may come next when at most remaining
// tokens, id included, may still be generated.
func (c *Constraint) Allows(id, remaining int) bool {
	if slices.Contains(c.v.end, id) {
		return c.m.CanEnd()
	}
	if id < 0 || id >= c.v.size || c.v.text[id] == "" {
		return false
	}
	s := c.m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st, pend, ok := c.m.try(c.v.text[id])
	return ok && s.minBytes(st, pend) <= remaining-1
}

// Accept advances past token id.
func (c *Constraint) Accept(id int) error {
	if slices.Contains(c.v.end, id) {
		if !c.m.CanEnd() {
			return fmt.Errorf("grammar: end of text before the grammar is complete")
		}
		return nil
	}
	if id < 0 || id >= c.v.size || c.v.text[id] == "" {
		return fmt.Errorf("grammar: token %d is not allowed by any grammar", id)
	}
	return c.m.Accept(c.v.text[id])
}

// Mask sets to -Inf the logits of every token that may not come next,
// with at most remaining tokens left. It fails if the grammar allows no
// token at all (the matcher's state is a dead end).
func (c *Constraint) Mask(logits []float32, remaining int) error {
	bits, err := c.Allowed(remaining)
	if err != nil {
		return err
	}
	inf := float32(math.Inf(-1))
	for id := range logits {
		if id >= c.v.size || bits[id>>6]&(1<<(id&63)) == 0 {
			logits[id] = inf
		}
	}
	return nil
}

// Allowed returns the bit set of the tokens that may come next (bit id
// of word id/64), with at most remaining tokens left. The set may be
// shared: the caller must not change it.
func (c *Constraint) Allowed(remaining int) ([]uint64, error) {
	m, s := c.m, c.m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.minBytes(m.st, m.pend)
	if before > remaining {
		return nil, fmt.Errorf("grammar: %d tokens left cannot complete the grammar (it needs at least %d bytes)", remaining, before)
	}
	var e *maskEntry
	if m.pend.need == 0 && m.st.mask != nil && m.st.mask.v == c.v {
		e = m.st.mask
	}
	if e == nil {
		bits, worst := c.walk(unreachable)
		e = &maskEntry{v: c.v, bits: bits, worst: worst}
		if m.pend.need == 0 {
			if s.masks >= maxCached {
				for _, st := range s.states {
					st.mask = nil
				}
				s.masks = 0
			}
			m.st.mask = e
			s.masks++
		}
	}
	bits := e.bits
	if remaining-1 < e.worst {
		// Some allowed token could not be completed in time: walk again
		// within the budget.
		bits, _ = c.walk(remaining - 1)
	}
	if slices.IndexFunc(bits, func(w uint64) bool { return w != 0 }) < 0 {
		return nil, fmt.Errorf("grammar: no token of the vocabulary continues the grammar here")
	}
	return bits, nil
}

// walk visits the trie from the matcher's state and returns the tokens
// that continue the grammar and leave at most budget bytes to complete
// it (the end tokens where the grammar is complete), with the most bytes
// any continuing token leaves. The caller holds the lock.
func (c *Constraint) walk(budget int) ([]uint64, int) {
	v, s := c.v, c.m.s
	bits := make([]uint64, (v.size+63)/64)
	worst := 0
	var visit func(n int32, st *state, pend partial)
	visit = func(n int32, st *state, pend partial) {
		tn := &v.nodes[n]
		for _, e := range v.edges[tn.edges[0]:tn.edges[1]] {
			next, p, ok := s.advance(st, pend, e.b)
			if !ok {
				continue
			}
			if toks := v.nodes[e.child].tokens; len(toks) > 0 {
				need := s.minBytes(next, p)
				if need <= budget {
					worst = max(worst, need)
					for _, id := range toks {
						bits[id>>6] |= 1 << (id & 63)
					}
				}
			}
			visit(e.child, next, p)
		}
	}
	visit(0, c.m.st, c.m.pend)
	if c.m.CanEnd() {
		for _, id := range v.end {
			bits[id>>6] |= 1 << (id & 63)
		}
	}
	return bits, worst
}
