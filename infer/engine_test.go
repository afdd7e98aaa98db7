package infer

import (
	"context"
	"errors"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
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
	for e.Stats().Queued == 0 {
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

// A max_tokens so large that prompt plus max_tokens overflows is refused
// as too long, before anything is sized by it.
func TestEngineHugeMaxTokens(t *testing.T) {
	m, tok := tinyModel(t)
	e, err := NewEngine(m, tok, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	prompt, _ := tok.Encode("hello")
	for _, n := range []int{math.MaxInt, math.MaxInt - 2, e.MaxContext()} {
		if _, err := e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: n}, nil); !errors.Is(err, ErrPromptLength) {
			t.Errorf("max_tokens %d: %v, want ErrPromptLength", n, err)
		}
	}
	if _, err := e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: -1}, nil); err == nil {
		t.Error("max_tokens -1: no error")
	}
}

// A request whose caller gives up while it waits leaves the queue at
// once: its place goes to the next live request.
func TestEngineCancelWhileQueued(t *testing.T) {
	m, tok := tinyModel(t)
	e, err := newEngine(m, tok, EngineOptions{MaxBatch: 1, MaxQueue: 1})
	if err != nil {
		t.Fatal(err)
	}
	prompt, _ := tok.Encode("hello")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.Generate(ctx, Request{Prompt: prompt, MaxTokens: 3}, nil)
		done <- err
	}()
	for e.Stats().Queued == 0 {
		runtime.Gosched()
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while queued: %v", err)
	}
	if q := e.Stats().Queued; q != 0 {
		t.Fatalf("the cancelled request still holds %d queue place(s)", q)
	}
	go e.loop()
	defer e.Close()
	if _, err := e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 2}, nil); err != nil {
		t.Fatalf("the next request: %v", err)
	}
}

// When a running request's caller leaves and nothing else runs, the
// engine's load reads zero by the time the caller has its error.
func TestEngineStatsAfterCancel(t *testing.T) {
	m, tok := tinyModel(t)
	e, err := NewEngine(m, tok, EngineOptions{MaxContext: 100000})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	prompt, _ := tok.Encode("hello")
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	_, err = e.Generate(ctx, Request{Prompt: prompt, MaxTokens: 90000}, func(Event) error {
		once.Do(func() {
			if s := e.Stats(); s.Running != 1 || s.CacheBytes == 0 {
				t.Errorf("while running: %+v", s)
			}
			cancel()
		})
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request: %v", err)
	}
	if s := e.Stats(); s.Running != 0 || s.CacheBytes != 0 || s.Queued != 0 {
		t.Fatalf("after the caller left: %+v, want all zero", s)
	}
}

// A panic inside a decoding step ends that step's requests with an error
// and leaves the engine serving.
func TestEngineRecoversFromPanic(t *testing.T) {
	m, tok := tinyModel(t)
	e, err := NewEngine(m, tok, EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	prompt, _ := tok.Encode("hello")
	embed := m.Embed
	m.Embed = nil // the embedding lookup slices past it
	_, err = e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 2}, nil)
	m.Embed = embed
	if err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("step that panics: %v, want an internal error", err)
	}
	if _, err := e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 2}, nil); err != nil {
		t.Fatalf("after the panic: %v", err)
	}
}

// More requests than a batch, queued at once, all finish: when a batch
// ends together the engine goes on with the queue instead of sleeping
// until the next request comes.
func TestEngineDrainsQueueBeyondBatch(t *testing.T) {
	m, tok := tinyModel(t)
	e, err := newEngine(m, tok, EngineOptions{MaxBatch: 2, MaxQueue: 16})
	if err != nil {
		t.Fatal(err)
	}
	prompt, _ := tok.Encode("hello")
	const n = 9
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := e.Generate(context.Background(), Request{Prompt: prompt, MaxTokens: 1}, nil)
			errs <- err
		}()
	}
	for e.Stats().Queued < n {
		runtime.Gosched()
	}
	go e.loop()
	defer e.Close()
	for i := range n {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of %d requests still queued with the engine asleep", n-i, n)
		}
	}
}
