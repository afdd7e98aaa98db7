package infer

import (
	"fmt"

	"github.com/dokja/dokja/model"
)

// Decoder is the model side of the engine: a decoder-only language model
// that runs new tokens after each sequence's state and returns their
// final hidden states, with the output head applied separately, so that
// embeddings and other heads can start from the hidden states. CPU wraps
// *model.Model; another backend (an accelerator, a remote shard)
// implements the same methods and serves through the same engine.
type Decoder interface {
	// Config describes the model (sizes, vocabulary, context, end tokens).
	Config() *model.Config
	// NewState returns an empty sequence state (its key/value cache).
	NewState() State
	// Hidden runs ids[s] after the positions in states[s], appends them to
	// it, and returns the final normalised hidden states of all the new
	// positions (all[s]) or of the last one; nil for a sequence without
	// new ids.
	Hidden(states []State, ids [][]int, all []bool) ([][][]float32, error)
	// Logits applies the output head to rows of hidden states.
	Logits(hidden [][]float32) [][]float32
	// StateBytesPerToken is the memory one cached position takes.
	StateBytesPerToken() int
}

// State is one sequence's state in a Decoder.
type State interface {
	// Len is the number of positions the state holds.
	Len() int
}

// CPU runs m as a Decoder with Dokja's CPU kernels.
func CPU(m *model.Model) Decoder { return cpu{m} }

type cpu struct{ m *model.Model }

func (c cpu) Config() *model.Config                 { return c.m.Config }
func (c cpu) NewState() State                       { return c.m.NewCache() }
func (c cpu) Logits(hidden [][]float32) [][]float32 { return c.m.Logits(hidden) }
func (c cpu) StateBytesPerToken() int               { return c.m.CacheBytesPerToken() }

func (c cpu) Hidden(states []State, ids [][]int, all []bool) ([][][]float32, error) {
	caches := make([]*model.Cache, len(states))
	for i, s := range states {
		cache, ok := s.(*model.Cache)
		if !ok {
			return nil, fmt.Errorf("sequence %d: state %T is not a CPU cache", i, s)
		}
		caches[i] = cache
	}
	return c.m.HiddenBatch(caches, ids, all)
}

// stepLogits runs one step through d and applies the head to the rows
// the sequences want, in one product.
func stepLogits(d Decoder, states []State, ids [][]int, all []bool) ([][][]float32, error) {
	hidden, err := d.Hidden(states, ids, all)
	if err != nil {
		return nil, err
	}
	if len(hidden) != len(ids) {
		return nil, fmt.Errorf("decoder returned %d sequences for %d", len(hidden), len(ids))
	}
	var rows [][]float32
	for _, h := range hidden {
		rows = append(rows, h...)
	}
	logits := d.Logits(rows)
	if len(logits) != len(rows) {
		return nil, fmt.Errorf("decoder returned %d rows of logits for %d hidden states", len(logits), len(rows))
	}
	out := make([][][]float32, len(ids))
	i := 0
	for s, h := range hidden {
		if len(h) > 0 {
			out[s] = logits[i : i+len(h) : i+len(h)]
			i += len(h)
		}
	}
	return out, nil
}
