package infer

import (
	"context"
	"strings"
	"testing"

	"github.com/dokja/dokja/infer/infertest"
	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tokenizer"
)

// tinyModel is a random-weight Qwen2-shaped model whose vocabulary covers
// the byte-level test tokenizer.
func tinyModel(t *testing.T) (*model.Model, *tokenizer.Tokenizer) {
	return infertest.TinyModel(t, 40)
}

func TestGenerateGreedyMatchesForward(t *testing.T) {
	m, tok := tinyModel(t)
	var streamed strings.Builder
	res, err := Generate(context.Background(), m, tok, "hello", GenerateOptions{MaxTokens: 12},
		func(s string) error { streamed.WriteString(s); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tokens) != 12 || res.FinishReason != "length" {
		t.Fatalf("%d tokens, finish %q", len(res.Tokens), res.FinishReason)
	}
	if streamed.String() != res.Text {
		t.Fatalf("streamed %q, result %q", streamed.String(), res.Text)
	}
	// The same continuation by full forward passes and argmax.
	ids, _ := tok.Encode("hello")
	for _, want := range res.Tokens {
		logits, err := m.Forward(ids)
		if err != nil {
			t.Fatal(err)
		}
		last := logits[len(logits)-1]
		best := 0
		for i, v := range last {
			if v > last[best] {
				best = i
			}
		}
		if best != want {
			t.Fatalf("cached decoding chose %d where the full pass chooses %d", want, best)
		}
		ids = append(ids, best)
	}
	text, _ := tok.Decode(res.Tokens)
	if text != res.Text {
		t.Fatalf("text %q, decoded tokens %q", res.Text, text)
	}
}

func TestGenerateStopsAndSeeds(t *testing.T) {
	m, tok := tinyModel(t)
	opt := GenerateOptions{MaxTokens: 40, Sampler: SamplerOptions{Temperature: 1, Seed: 11}}
	a, err := Generate(context.Background(), m, tok, "abc", opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Generate(context.Background(), m, tok, "abc", opt, nil)
	if a.Text != b.Text {
		t.Fatalf("same seed, different text: %q vs %q", a.Text, b.Text)
	}
	if len(a.Text) < 4 {
		t.Skipf("generated text %q too short to pick a stop string", a.Text)
	}
	stop := a.Text[2:4]
	var streamed strings.Builder
	c, err := Generate(context.Background(), m, tok, "abc", GenerateOptions{MaxTokens: 40, Stop: []string{stop}, Sampler: opt.Sampler},
		func(s string) error { streamed.WriteString(s); return nil })
	if err != nil {
		t.Fatal(err)
	}
	want := a.Text[:strings.Index(a.Text, stop)]
	if c.Text != want || streamed.String() != want || c.FinishReason != "stop" {
		t.Fatalf("stop %q: text %q streamed %q finish %q, want %q", stop, c.Text, streamed.String(), c.FinishReason, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, m, tok, "abc", opt, nil); err == nil {
		t.Fatal("a cancelled generation succeeded")
	}
	if _, err := Generate(context.Background(), m, tok, "", opt, nil); err == nil {
		t.Fatal("an empty prompt was accepted")
	}
}
