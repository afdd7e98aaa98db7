package train

import (
	"fmt"
	"unicode/utf8"

	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tokenizer"
)

// SwapStats says how a vocabulary swap initialised the new rows.
type SwapStats struct {
	// Kept rows belong to tokens (same bytes) in both vocabularies; Mapped
	// rows are means of the old pieces of the new token; Mean rows (added
	// tokens the old vocabulary lacks) are the mean of all old rows.
	Kept, Mapped, Mean int
}

// SwapVocabulary replaces m's embedding and output rows with rows for the
// new tokenizer's vocabulary, the step A.X 4.0 took to continue an open
// model's pretraining on a Korean-efficient tokenizer: a token both
// vocabularies share keeps its row; any other token starts as the mean of
// the rows of the old pieces that spell it (its bytes, encoded by the old
// tokenizer); an added token new to the vocabulary starts as the mean of
// all old rows. The config's vocab_size and bos/eos ids follow.
func SwapVocabulary(m *model.Model, oldTok, newTok *tokenizer.Tokenizer) (SwapStats, error) {
	c := m.Config
	d, oldV, newV := c.HiddenSize, c.VocabSize, newTok.VocabSize()
	if oldTok.VocabSize() > oldV {
		return SwapStats{}, fmt.Errorf("the old tokenizer has %d ids but the model only %d rows", oldTok.VocabSize(), oldV)
	}
	added := map[int]bool{}
	for _, a := range newTok.AddedTokens() {
		added[a.ID] = true
	}
	var st SwapStats
	pieces := make([][]int, newV) // old ids per new token; nil: mean row
	for id := range newV {
		tok, ok := newTok.Token(id)
		if !ok {
			continue
		}
		if old, ok := oldTok.TokenID(tok); ok && old < oldV {
			pieces[id] = []int{old}
			st.Kept++
			continue
		}
		if added[id] {
			st.Mean++
			continue
		}
		ids, err := encodeBytes(oldTok, tok)
		if err != nil {
			return st, fmt.Errorf("new token %d %q: %w", id, tok, err)
		}
		if len(ids) == 0 {
			st.Mean++
			continue
		}
		pieces[id] = ids
		st.Mapped++
	}
	remap := func(rows []float32) []float32 {
		mean := make([]float64, d)
		for i := range oldV {
			for j, v := range rows[i*d : (i+1)*d] {
				mean[j] += float64(v) / float64(oldV)
			}
		}
		out := make([]float32, newV*d)
		acc := make([]float64, d)
		for id := range newV {
			clear(acc)
			if ps := pieces[id]; len(ps) > 0 {
				for _, p := range ps {
					for j, v := range rows[p*d : (p+1)*d] {
						acc[j] += float64(v)
					}
				}
				for j := range acc {
					acc[j] /= float64(len(ps))
				}
			} else {
				copy(acc, mean)
			}
			for j, v := range acc {
				out[id*d+j] = float32(v)
			}
		}
		return out
	}
	tied := c.TieWordEmbeddings
	m.Embed = remap(m.Embed)
	if tied {
		m.Head.W = m.Embed
	} else {
		m.Head.W = remap(m.Head.W)
	}
	nc := *c
	nc.VocabSize = newV
	nc.BOSTokenID = mapTokenID(c.BOSTokenID, oldTok, newTok)
	nc.EOSTokenID = mapTokenID(c.EOSTokenID, oldTok, newTok)
	m.Config = &nc
	return st, nil
}

// encodeBytes encodes a token's bytes with a byte-level tokenizer: valid
// UTF-8 runs as ordinary text, stray bytes (a token may end inside a
// character) as their single-byte tokens.
func encodeBytes(t *tokenizer.Tokenizer, s string) ([]int, error) {
	var ids []int
	for len(s) > 0 {
		n := 0
		for n < len(s) {
			r, size := utf8.DecodeRuneInString(s[n:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			n += size
		}
		if n > 0 {
			more, err := t.EncodeOrdinary(s[:n])
			if err != nil {
				return nil, err
			}
			ids = append(ids, more...)
			s = s[n:]
			continue
		}
		id, ok := t.TokenID(s[:1])
		if !ok {
			return nil, fmt.Errorf("byte %#x has no token in the old vocabulary (not byte-level?)", s[0])
		}
		ids = append(ids, id)
		s = s[1:]
	}
	return ids, nil
}

// mapTokenID carries a config's bos/eos id (a number or a list) to the
// new vocabulary by the token's bytes; ids without a counterpart drop.
func mapTokenID(v any, oldTok, newTok *tokenizer.Tokenizer) any {
	one := func(x any) (int, bool) {
		f, ok := x.(float64)
		if !ok {
			if i, ok := x.(int); ok {
				f = float64(i)
			} else {
				return 0, false
			}
		}
		tok, ok := oldTok.Token(int(f))
		if !ok {
			return 0, false
		}
		return newTok.TokenID(tok)
	}
	switch x := v.(type) {
	case []any:
		var out []any
		for _, e := range x {
			if id, ok := one(e); ok {
				out = append(out, id)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case nil:
		return nil
	default:
		if id, ok := one(x); ok {
			return id
		}
		return nil
	}
}

// swapTokenizer applies the run's tokenizer swap to the initial model.
func (r *runner) swapTokenizer(m *model.Model, oldTok *tokenizer.Tokenizer) error {
	oldPath := r.cfg.Init
	if oldTok == nil {
		return fmt.Errorf("init: %s: a tokenizer swap needs the checkpoint's own tokenizer, and it has none", oldPath)
	}
	newTok, err := tokenizer.Load(r.cfg.Tokenizer)
	if err != nil {
		return fmt.Errorf("tokenizer: %w", err)
	}
	st, err := SwapVocabulary(m, oldTok, newTok)
	if err != nil {
		return fmt.Errorf("tokenizer swap %s → %s: %w", oldPath, r.cfg.Tokenizer, err)
	}
	r.log.Info("swapped the vocabulary", "old", oldTok.VocabSize(), "new", newTok.VocabSize(), "kept", st.Kept, "mapped", st.Mapped, "mean", st.Mean)
	return nil
}
