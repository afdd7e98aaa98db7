package infer

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/dokja/dokja/model"
)

// remote is a Decoder that is not *model.Model: its states are its own
// type, and it counts what the engine asks of it.
type remote struct {
	m              *model.Model
	hidden, logits int
}

type remoteState struct{ c *model.Cache }

func (s *remoteState) Len() int { return s.c.Len() }

func (r *remote) Config() *model.Config   { return r.m.Config }
func (r *remote) NewState() State         { return &remoteState{r.m.NewCache()} }
func (r *remote) StateBytesPerToken() int { return r.m.CacheBytesPerToken() }
func (r *remote) Logits(h [][]float32) [][]float32 {
	r.logits++
	return r.m.Logits(h)
}
func (r *remote) Hidden(states []State, ids [][]int, all []bool) ([][][]float32, error) {
	r.hidden++
	caches := make([]*model.Cache, len(states))
	for i, s := range states {
		caches[i] = s.(*remoteState).c
	}
	return r.m.HiddenBatch(caches, ids, all)
}

// An engine over another Decoder generates, scores and batches exactly
// as the CPU engine does; hidden states and the head are separate calls.
func TestDecoderEngineMatchesCPU(t *testing.T) {
	m, tok := tinyModel(t)
	r := &remote{m: m}
	other, err := NewDecoderEngine(r, tok, EngineOptions{MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	cpu, err := NewEngine(m, tok, EngineOptions{MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	prompt, _ := tok.Encode("a decoder behind an interface")
	req := Request{Prompt: prompt, MaxTokens: 6, Echo: true, Logprobs: true}
	want, err := cpu.Generate(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := other.Generate(context.Background(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Tokens, want.Tokens) || len(got.PromptLogprobs) != len(want.PromptLogprobs) {
		t.Fatalf("tokens %v, CPU engine %v", got.Tokens, want.Tokens)
	}
	for i := 1; i < len(want.PromptLogprobs); i++ {
		if math.Abs(float64(got.PromptLogprobs[i].Logprob-want.PromptLogprobs[i].Logprob)) > 0 {
			t.Fatalf("prompt logprob %d: %v, CPU engine %v", i, got.PromptLogprobs[i], want.PromptLogprobs[i])
		}
	}
	if r.hidden == 0 || r.logits != r.hidden {
		t.Errorf("%d Hidden and %d Logits calls", r.hidden, r.logits)
	}
	if other.Model() != nil || other.Decoder() != r {
		t.Error("Model() should be nil and Decoder() the remote one")
	}
	if _, err := NewDecoderEngine(r, tok, EngineOptions{HalfKV: true}); err == nil || !strings.Contains(err.Error(), "HalfKV") {
		t.Errorf("HalfKV with a foreign decoder: %v", err)
	}
	// A foreign state given to the CPU decoder is an error, not a panic.
	if _, err := CPU(m).Hidden([]State{r.NewState()}, [][]int{{1}}, []bool{false}); err == nil {
		t.Error("CPU decoder accepted a foreign state")
	}
}

// Hidden states times the head are the logits StepBatch returns.
func TestHiddenThenLogits(t *testing.T) {
	m, tok := tinyModel(t)
	ids, _ := tok.Encode("hidden states first")
	d := CPU(m)
	h, err := d.Hidden([]State{d.NewState()}, [][]int{ids}, []bool{true})
	if err != nil {
		t.Fatal(err)
	}
	if len(h[0]) != len(ids) || len(h[0][0]) != m.Config.HiddenSize {
		t.Fatalf("hidden states %d×%d", len(h[0]), len(h[0][0]))
	}
	got := d.Logits(h[0])
	want, err := m.Forward(ids)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("position %d: logits differ", i)
		}
	}
}
