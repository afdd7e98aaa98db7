// Package infer turns a model and a tokenizer into text: sampling,
// incremental decoding with the model's key/value cache, stop strings and
// streaming. Later: batching, chat templates and quantized weights.
package infer

import (
	"math"
	"math/rand/v2"
	"slices"
)

// SamplerOptions choose the next token from logits. The steps apply in
// llama.cpp's and Hugging Face's order: penalties, temperature, top-k,
// top-p, min-p, then a draw.
type SamplerOptions struct {
	// Temperature divides the logits; 0 picks the most likely token.
	Temperature float32
	// TopK keeps the k most likely tokens (0: all).
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probability
	// reaches p (0 or 1: off).
	TopP float32
	// MinP drops tokens less likely than min_p times the most likely one.
	MinP float32
	// RepetitionPenalty divides positive logits (multiplies negative ones)
	// of tokens already seen, as in CTRL and Hugging Face (1 or 0: off).
	RepetitionPenalty float32
	// PresencePenalty and FrequencyPenalty subtract, as in the OpenAI API,
	// a constant for every token seen and one per occurrence.
	PresencePenalty, FrequencyPenalty float32
	// Seed makes draws repeatable.
	Seed uint64
	// LogitBias is added to the logits of the tokens it names before
	// anything else (OpenAI's logit_bias; -100 bans a token in practice).
	LogitBias map[int]float32
}

// Sampler draws tokens; it is not safe for concurrent use.
type Sampler struct {
	opt    SamplerOptions
	rng    *rand.Rand
	logits []float32
	idx    []int32
	counts map[int]int
	w      []float64 // the unnormalized probabilities of one draw
}

// NewSampler returns a sampler with its own seeded random source.
func NewSampler(opt SamplerOptions) *Sampler {
	return &Sampler{opt: opt, rng: rand.New(rand.NewPCG(opt.Seed, opt.Seed^0xD1B54A32D192ED03)), counts: map[int]int{}}
}

// Sample picks the next token given the logits and the tokens so far
// (the ids the penalties look at).
func (s *Sampler) Sample(logits []float32, history []int) int {
	o := s.opt
	l := append(s.logits[:0], logits...)
	s.logits = l
	for id, b := range o.LogitBias {
		if id >= 0 && id < len(l) {
			l[id] += b
		}
	}
	if (o.RepetitionPenalty != 0 && o.RepetitionPenalty != 1) || o.PresencePenalty != 0 || o.FrequencyPenalty != 0 {
		clear(s.counts)
		for _, id := range history {
			if id >= 0 && id < len(l) {
				s.counts[id]++
			}
		}
		for id, n := range s.counts {
			if p := o.RepetitionPenalty; p != 0 && p != 1 {
				if l[id] > 0 {
					l[id] /= p
				} else {
					l[id] *= p
				}
			}
			l[id] -= o.PresencePenalty + float32(n)*o.FrequencyPenalty
		}
	}
	if o.Temperature <= 0 {
		best := 0
		for i, v := range l {
			if v > l[best] {
				best = i
			}
		}
		return best
	}
	// Candidates sorted by logit, most likely first; only as many as the
	// filters can keep are sorted.
	idx := s.idx[:0]
	for i := range l {
		idx = append(idx, int32(i))
	}
	s.idx = idx
	byLogit := func(a, b int32) int {
		switch {
		case l[a] > l[b]:
			return -1
		case l[a] < l[b]:
			return 1
		}
		return int(a - b)
	}
	if o.TopK > 0 && o.TopK < len(idx) {
		idx = topK(idx, o.TopK, l)
	}
	// Only top-p and min-p need the candidates in order; without them the
	// draw walks the distribution in id order, sparing a sort of the whole
	// vocabulary (milliseconds a token at 32k ids).
	truncates := (o.TopP > 0 && o.TopP < 1) || o.MinP > 0
	if truncates {
		slices.SortFunc(idx, byLogit)
	}
	inv := 1 / float64(o.Temperature)
	if !truncates {
		maxID := idx[0]
		for _, id := range idx {
			if l[id] > l[maxID] {
				maxID = id
			}
		}
		maxL := float64(l[maxID])
		// Each exponential once: at 32k ids they were a tenth of a step.
		w := s.w[:0]
		var sum float64
		for _, id := range idx {
			p := math.Exp((float64(l[id]) - maxL) * inv)
			w = append(w, p)
			sum += p
		}
		s.w = w
		r := s.rng.Float64() * sum
		for i, id := range idx {
			r -= w[i]
			if r < 0 {
				return int(id)
			}
		}
		return int(maxID)
	}
	maxL := float64(l[idx[0]])
	probs := make([]float64, len(idx))
	var sum float64
	for i, id := range idx {
		p := math.Exp((float64(l[id]) - maxL) * inv)
		probs[i] = p
		sum += p
	}
	n := len(idx)
	if o.TopP > 0 && o.TopP < 1 {
		var cum float64
		for i, p := range probs {
			cum += p / sum
			if cum >= float64(o.TopP) {
				n = i + 1
				break
			}
		}
	}
	if o.MinP > 0 {
		for i := 1; i < n; i++ {
			if probs[i] < float64(o.MinP)*probs[0] {
				n = i
				break
			}
		}
	}
	sum = 0
	for _, p := range probs[:n] {
		sum += p
	}
	r := s.rng.Float64() * sum
	for i, p := range probs[:n] {
		r -= p
		if r < 0 {
			return int(idx[i])
		}
	}
	return int(idx[n-1])
}

// topK returns the k indices with the largest logits (unordered),
// partitioning in place in expected linear time.
func topK(idx []int32, k int, l []float32) []int32 {
	lo, hi := 0, len(idx)
	for hi-lo > 1 {
		pivot := l[idx[(lo+hi)/2]]
		i, j := lo, hi-1
		for i <= j {
			for l[idx[i]] > pivot {
				i++
			}
			for l[idx[j]] < pivot {
				j--
			}
			if i <= j {
				idx[i], idx[j] = idx[j], idx[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j + 1
		case k >= i:
			lo = i
		default:
			return idx[:k]
		}
	}
	return idx[:k]
}
