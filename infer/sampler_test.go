package infer

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

func TestTopK(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 500 {
		n := 1 + r.IntN(60)
		l := make([]float32, n)
		for i := range l {
			l[i] = float32(r.IntN(8)) // many ties
		}
		k := 1 + r.IntN(n)
		idx := make([]int32, n)
		for i := range idx {
			idx[i] = int32(i)
		}
		got := topK(idx, k, l)
		vals := make([]float32, 0, k)
		for _, i := range got {
			vals = append(vals, l[i])
		}
		sorted := slices.Clone(l)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i] > sorted[j] })
		slices.Sort(vals)
		want := slices.Clone(sorted[:k])
		slices.Sort(want)
		if !slices.Equal(vals, want) {
			t.Fatalf("trial %d: top %d of %v gave %v", trial, k, l, vals)
		}
	}
}

func TestSamplerRules(t *testing.T) {
	logits := []float32{1, 3, 2, 0.5, 2.9}
	for _, tc := range []struct {
		name    string
		opt     SamplerOptions
		history []int
		want    int
	}{
		{"greedy", SamplerOptions{}, nil, 1},
		{"top-k 1", SamplerOptions{Temperature: 1, TopK: 1, Seed: 3}, nil, 1},
		{"tiny top-p", SamplerOptions{Temperature: 1, TopP: 0.01, Seed: 3}, nil, 1},
		{"min-p 1", SamplerOptions{Temperature: 1, MinP: 1, Seed: 3}, nil, 1},
		{"repetition penalty", SamplerOptions{RepetitionPenalty: 1.5}, []int{1}, 4},
		{"presence penalty", SamplerOptions{PresencePenalty: 1.2}, []int{1, 4}, 2},
		{"frequency penalty", SamplerOptions{FrequencyPenalty: 0.2}, []int{1, 1}, 4},
	} {
		if got := NewSampler(tc.opt).Sample(logits, tc.history); got != tc.want {
			t.Errorf("%s: sampled %d, want %d", tc.name, got, tc.want)
		}
	}
}

// Draws follow the softmax of logits/temperature, restricted as top-k and
// top-p say; checked with a loose bound on 40,000 draws.
func TestSamplerDistribution(t *testing.T) {
	logits := []float32{2, 1, 0, -1, 0.5}
	const draws = 40000
	for _, tc := range []struct {
		opt  SamplerOptions
		keep []int // tokens allowed, most likely first
	}{
		{SamplerOptions{Temperature: 1, Seed: 1}, []int{0, 1, 4, 2, 3}},
		{SamplerOptions{Temperature: 0.5, Seed: 2}, []int{0, 1, 4, 2, 3}},
		{SamplerOptions{Temperature: 1, TopK: 3, Seed: 3}, []int{0, 1, 4}},
		{SamplerOptions{Temperature: 1, TopP: 0.8, Seed: 4}, []int{0, 1, 4}},
	} {
		s := NewSampler(tc.opt)
		counts := make([]int, len(logits))
		for range draws {
			counts[s.Sample(logits, nil)]++
		}
		var sum float64
		for _, id := range tc.keep {
			sum += math.Exp(float64(logits[id]) / float64(tc.opt.Temperature))
		}
		for id := range logits {
			want := 0.0
			if slices.Contains(tc.keep, id) {
				want = math.Exp(float64(logits[id])/float64(tc.opt.Temperature)) / sum
			}
			got := float64(counts[id]) / draws
			if math.Abs(got-want) > 0.015 {
				t.Errorf("%+v: token %d drawn %.3f of the time, want %.3f", tc.opt, id, got, want)
			}
		}
	}
	a := NewSampler(SamplerOptions{Temperature: 1, Seed: 9})
	b := NewSampler(SamplerOptions{Temperature: 1, Seed: 9})
	for range 100 {
		if a.Sample(logits, nil) != b.Sample(logits, nil) {
			t.Fatal("the same seed gave different draws")
		}
	}
}
