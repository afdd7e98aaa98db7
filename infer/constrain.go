package infer

import (
	"github.com/dokja/dokja/grammar"
)

// GrammarVocab returns the model's vocabulary arranged for constrained
// decoding (built on first use, then shared by every request): each
// ordinary and non-special added token with its bytes; special tokens
// never match a grammar, and the end tokens end it.
func (e *Engine) GrammarVocab() *grammar.Vocab {
	e.vocabOnce.Do(func() {
		special := map[int]bool{}
		for _, a := range e.tok.AddedTokens() {
			if a.Special {
				special[a.ID] = true
			}
		}
		var end []int
		for id := range e.eos {
			end = append(end, id)
		}
		size := max(e.dec.Config().VocabSize, e.tok.VocabSize())
		e.vocab = grammar.NewVocab(size, func(id int) (string, bool) {
			if special[id] {
				return "", false
			}
			return e.tok.Token(id)
		}, end)
	})
	return e.vocab
}
