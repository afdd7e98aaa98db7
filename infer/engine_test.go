package infer

import (
	"context"
	"errors"
	"math"
	"runtime"
	"sync"
	"testing"
)

// Requests decoded together in one batch get the tokens they get alone.
func TestEngineBatchesLikeSingleRuns(t *testing.T) {
	m, tok := tinyModel(t)
	prompts := []string{"hello", "a", "the quick brown fox", "zz top", "12345", "hi"}
	want := make([][]int, len(prompts))
	for i, p := range prompts {
		res, err := Generate(context.Background(), m, tok, p, GenerateOptions{MaxTokens: 6 + i}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = res.Tokens
	}
	e, err := newEngine(m, tok, EngineOptions{MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([][]int, len(prompts))
	errs := make([]error, len(prompts))
	started := make(chan struct{}, len(prompts))
	for i, p := range prompts {
		ids, _ := tok.Encode(p)
		wg.Go(func() {
			started <- struct{}{}
			res, err := e.Generate(context.Background(), Request{Prompt: ids, MaxTokens: 6 + i}, nil)
			errs[i] = err
			if res != nil {
				got[i] = res.Tokens
			}
		})
	}
	for range prompts {
		<-started
	}
	go e.loop() // requests may still be queueing: the loop admits them as they come
	wg.Wait()
	e.Close()
	for i := range prompts {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if len(got[i]) != len(want[i]) {
			t.Fatalf("request %d: %v batched, %v alone", i, got[i], want[i])
		}
		for k := range got[i] {
			if got[i][k] != want[i][k] {
				t.Fatalf("request %d: %v batched, %v alone", i, got[i], want[i])
			}
		}
	}
}

// Echo scores every prompt token with the log-softmax of the logits of
// the position before it; Logprobs does the same for generated tokens.
func TestEngineLogprobs(t *testing.T) {
	m, tok := tinyModel(t)
	e, err := NewEngine(m, tok, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	prompt, _ := tok.Encode("logprobs of a prompt")
	res, err := e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 3, Echo: true, Logprobs: true, TopLogprobs: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	full := append(append([]int(nil), prompt...), res.Tokens...)
	logits, err := m.Forward(full)
	if err != nil {
		t.Fatal(err)
	}
	logSoftmax := func(row []float32, id int) float64 {
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v))
		}
		return float64(row[id]) - math.Log(sum)
	}
	if len(res.PromptLogprobs) != len(prompt) || !math.IsNaN(float64(res.PromptLogprobs[0].Logprob)) {
		t.Fatalf("%d prompt logprobs for %d tokens; first %v", len(res.PromptLogprobs), len(prompt), res.PromptLogprobs[0])
	}
	all := append(res.PromptLogprobs[1:], res.Logprobs...)
	for i, lp := range all {
		want := logSoftmax(logits[i], full[i+1])
		if lp.ID != full[i+1] || math.Abs(float64(lp.Logprob)-want) > 1e-4 {
			t.Errorf("token %d: logprob %v, want id %d %.5f", i+1, lp, full[i+1], want)
		}
		if len(lp.Top) != 3 || lp.Top[0].Logprob < lp.Top[1].Logprob || lp.Top[0].Logprob < lp.Logprob {
			t.Errorf("token %d: top alternatives %v", i+1, lp.Top)
		}
	}
	// Scoring only: no new tokens.
	res, err = e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 0, Echo: true}, nil)
	if err != nil || len(res.Tokens) != 0 || len(res.PromptLogprobs) != len(prompt) {
		t.Fatalf("max_tokens 0: %v %+v", err, res)
	}
}

func TestEngineQueueFullAndCancel(t *testing.T) {
	m, tok := tinyModel(t)
	e, err := newEngine(m, tok, EngineOptions{MaxBatch: 1, MaxQueue: 1, MaxContext: 100000})
	if err != nil {
		t.Fatal(err)
	}
	prompt, _ := tok.Encode("hello")
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		var once sync.Once
		_, err := e.Generate(ctx, Request{Prompt: prompt, MaxTokens: 90000}, func(Event) error {
			once.Do(func() { close(first) })
			return nil
		})
		done <- err
	}()
	// Until the loop runs, the first request holds the one queue place.
	for len(e.queue) == 0 {
		runtime.Gosched()
	}
	if _, err := e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 1}, nil); !errors.Is(err, ErrBusy) {
		t.Fatalf("full queue: %v, want ErrBusy", err)
	}
	go e.loop()
	<-first
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request: %v", err)
	}
	// The slot is free again.
	if _, err := e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 2}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 100001}, nil); !errors.Is(err, ErrPromptLength) {
		t.Errorf("too long: %v", err)
	}
	e.Close()
	if _, err := e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 1}, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("closed engine: %v", err)
	}
}

// An engine asked for fp16 caches sets the model's HalfKV, and its
// requests decode as Generate does on that model.
func TestEngineHalfKV(t *testing.T) {
	m, tok := tinyModel(t)
	e, err := NewEngine(m, tok, EngineOptions{MaxBatch: 2, HalfKV: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if !m.HalfKV || m.NewCache() == nil {
		t.Fatal("the engine did not make the model's caches fp16")
	}
	for _, p := range []string{"hello", "the quick brown fox"} {
		ids, _ := tok.Encode(p)
		got, err := e.Generate(context.Background(), Request{Prompt: ids, MaxTokens: 10}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Generate(context.Background(), m, tok, p, GenerateOptions{MaxTokens: 10}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Tokens) != len(want.Tokens) {
			t.Fatalf("%q: engine %v, Generate %v", p, got.Tokens, want.Tokens)
		}
		for i := range got.Tokens {
			if got.Tokens[i] != want.Tokens[i] {
				t.Fatalf("%q: engine %v, Generate %v", p, got.Tokens, want.Tokens)
			}
		}
	}
	if _, err := ParseKVCache("bf16"); err == nil {
		t.Error("ParseKVCache accepted bf16")
	}
}
