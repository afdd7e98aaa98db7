package eval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/dokja/dokja/infer"
)

// Request asks for the log-likelihood of Continuation after Context, both
// token ids. Context is never empty.
type Request struct {
	Context      []int
	Continuation []int
}

// Result is a continuation's log-likelihood (natural log, summed over its
// tokens) and whether greedy decoding would have produced it: every
// continuation token was the most likely one at its position.
type Result struct {
	LogLikelihood float64
	IsGreedy      bool
}

// Backend scores log-likelihood requests. Implementations may score them
// concurrently; results come back in the order of the requests.
type Backend interface {
	LogLikelihood(ctx context.Context, reqs []Request) ([]Result, error)
}

// Encoder turns text into token ids (a *tokenizer.Tokenizer's
// EncodeOrdinary: data text is never read as special tokens).
type Encoder interface {
	EncodeOrdinary(text string) ([]int, error)
}

// EncodePair tokenizes a context and its continuation as the harness's
// _encode_pair does: whitespace at the end of the context moves to the
// start of the continuation, and the continuation's tokens are those of
// the whole text after as many tokens as the context alone has:
// encode(context+continuation)[len(encode(context)):]. An empty context
// gives no context tokens (the caller puts the prefix token there).
func EncodePair(enc Encoder, context, continuation string) (ctxIDs, contIDs []int, err error) {
	if trimmed := strings.TrimRightFunc(context, isPySpace); len(trimmed) < len(context) {
		continuation = context[len(trimmed):] + continuation
		context = trimmed
	}
	whole, err := enc.EncodeOrdinary(context + continuation)
	if err != nil {
		return nil, nil, err
	}
	ctxIDs, err = enc.EncodeOrdinary(context)
	if err != nil {
		return nil, nil, err
	}
	if len(ctxIDs) > len(whole) {
		return nil, nil, fmt.Errorf("context encodes to %d tokens but context+continuation to only %d", len(ctxIDs), len(whole))
	}
	return ctxIDs, whole[len(ctxIDs):], nil
}

// isPySpace is Python's str.isspace, which the harness's rstrip uses.
func isPySpace(r rune) bool {
	return r == ' ' || (r >= '\t' && r <= '\r') || (r >= 0x1c && r <= 0x1f) || (r > 0x7f && strings.ContainsRune("\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000", r))
}

// fit truncates a request from the left so that context plus continuation
// is at most maxTokens long, as the harness keeps the last max_length+1
// tokens; at least one context token must remain.
func fit(r Request, maxTokens int) (Request, error) {
	if len(r.Continuation) == 0 {
		return r, errors.New("empty continuation")
	}
	if len(r.Continuation) >= maxTokens {
		return r, fmt.Errorf("continuation of %d tokens does not fit a context of %d", len(r.Continuation), maxTokens)
	}
	if n := len(r.Context) + len(r.Continuation); n > maxTokens {
		r.Context = r.Context[n-maxTokens:]
	}
	return r, nil
}

// score sums the log-probabilities of the continuation, given those of
// every prompt token (the first undefined) and the top-1 log-probability
// at each position. A token is greedy when its log-probability is at
// least the top one's (ties count as greedy), a comparison both backends
// can make from the same numbers.
func score(ctxLen int, logprobs, top []float64) Result {
	res := Result{IsGreedy: true}
	for t := ctxLen; t < len(logprobs); t++ {
		res.LogLikelihood += logprobs[t]
		if logprobs[t] < top[t] {
			res.IsGreedy = false
		}
	}
	return res
}

// Engine scores requests with an in-process infer.Engine: each request is
// one prompt (context and continuation) echoed with its log-probabilities,
// and up to Concurrency of them run at once so that the engine batches
// them. It generates replies to conversations rendered with Chat.
type Engine struct {
	Engine *infer.Engine
	// Chat is the model's chat template (infer.LoadChat), needed for
	// generation only.
	Chat *infer.ChatTemplate
	// Concurrency bounds requests in flight (default: twice the engine's
	// batch, 16).
	Concurrency int
	// Progress, when set, is called after each finished request.
	Progress func()
}

// LogLikelihood implements Backend.
func (b *Engine) LogLikelihood(ctx context.Context, reqs []Request) ([]Result, error) {
	maxTokens := b.Engine.MaxContext()
	return parallel(ctx, reqs, b.Concurrency, 16, b.Progress, func(ctx context.Context, r Request) (Result, error) {
		r, err := fit(r, maxTokens)
		if err != nil {
			return Result{}, err
		}
		prompt := append(append(make([]int, 0, len(r.Context)+len(r.Continuation)), r.Context...), r.Continuation...)
		res, err := b.generate(ctx, infer.Request{Prompt: prompt, MaxTokens: 0, Echo: true, TopLogprobs: 1})
		if err != nil {
			return Result{}, err
		}
		if len(res.PromptLogprobs) != len(prompt) {
			return Result{}, fmt.Errorf("engine returned %d prompt log-probabilities for %d tokens", len(res.PromptLogprobs), len(prompt))
		}
		lp, top := make([]float64, len(prompt)), make([]float64, len(prompt))
		for t, p := range res.PromptLogprobs {
			lp[t], top[t] = float64(p.Logprob), math.Inf(-1)
			if len(p.Top) > 0 {
				top[t] = float64(p.Top[0].Logprob)
			}
		}
		return score(len(r.Context), lp, top), nil
	})
}

// parallel runs f over reqs with at most n (default def) at once,
// stopping at the first error.
func parallel[Q, A any](ctx context.Context, reqs []Q, n, def int, progress func(), f func(context.Context, Q) (A, error)) ([]A, error) {
	if n <= 0 {
		n = def
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	out := make([]A, len(reqs))
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
loop:
	for i, r := range reqs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		wg.Go(func() {
			defer func() { <-sem }()
			res, err := f(ctx, r)
			if err != nil {
				once.Do(func() { firstErr = fmt.Errorf("request %d: %w", i, err); cancel(firstErr) })
				return
			}
			out[i] = res
			if progress != nil {
				progress()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	return out, nil
}
