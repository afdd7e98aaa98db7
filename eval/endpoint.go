package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Endpoint scores requests through an OpenAI-compatible server's
// /v1/completions: the prompt goes as token ids (tokenized here, so the
// server's tokenizer must be the same as ours), with echo, logprobs 1 and
// max_tokens MaxTokens, and the echoed prompt's log-probabilities are
// read back. Requests run concurrently and are retried with exponential
// backoff on 429, 5xx and network errors, honouring Retry-After.
type Endpoint struct {
	// URL is the server's base, with or without /v1
	// (http://127.0.0.1:8080 or https://host/v1).
	URL    string
	Model  string
	APIKey string
	// MaxTokens is sent as max_tokens: 0 scores the prompt only; servers
	// that refuse 0 (vLLM) take 1, and the generated token is ignored.
	MaxTokens int
	// MaxLength bounds context plus continuation in tokens (the
	// server's context); longer requests are cut from the left.
	MaxLength int
	// Concurrency bounds requests in flight (default 8).
	Concurrency int
	// Retries is how many times a request is retried (default 6; negative:
	// never).
	Retries int
	// Backoff is the first retry's delay, doubled each time up to
	// MaxBackoff (defaults 500ms and 30s); a Retry-After header replaces
	// it, capped at MaxRetryAfter (default 2 minutes).
	Backoff, MaxBackoff, MaxRetryAfter time.Duration
	// Client is the HTTP client (default: one with a 10-minute timeout).
	Client *http.Client
	// Progress, when set, is called after each finished request.
	Progress func()
}

type completionBody struct {
	Model       string  `json:"model"`
	Prompt      []int   `json:"prompt"`
	MaxTokens   int     `json:"max_tokens"`
	Echo        bool    `json:"echo"`
	Logprobs    int     `json:"logprobs"`
	Temperature float64 `json:"temperature"`
}

type completionReply struct {
	Choices []struct {
		Logprobs *struct {
			TokenLogprobs []*float64            `json:"token_logprobs"`
			TopLogprobs   []map[string]*float64 `json:"top_logprobs"`
		} `json:"logprobs"`
	} `json:"choices"`
}

// StatusError is a non-2xx answer from the server.
type StatusError struct {
	Code int
	Body string
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter time.Duration
}

// Error gives the status and the start of the body.
func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d: %s", e.Code, strings.TrimSpace(e.Body))
}

func (e *StatusError) retryable() bool {
	return e.Code == http.StatusTooManyRequests || e.Code == http.StatusRequestTimeout || e.Code >= 500
}

// LogLikelihood implements Backend.
func (b *Endpoint) LogLikelihood(ctx context.Context, reqs []Request) ([]Result, error) {
	if b.URL == "" || b.Model == "" {
		return nil, errors.New("endpoint: a URL and a model name are required")
	}
	return parallel(ctx, reqs, b.Concurrency, 8, b.Progress, func(ctx context.Context, r Request) (Result, error) {
		if b.MaxLength > 0 {
			var err error
			if r, err = fit(r, b.MaxLength); err != nil {
				return Result{}, err
			}
		}
		return b.one(ctx, r)
	})
}

func (b *Endpoint) url(path string) string {
	u := strings.TrimRight(b.URL, "/")
	if !strings.HasSuffix(u, "/v1") {
		u += "/v1"
	}
	return u + path
}

func (b *Endpoint) one(ctx context.Context, r Request) (Result, error) {
	prompt := append(append(make([]int, 0, len(r.Context)+len(r.Continuation)), r.Context...), r.Continuation...)
	body, err := json.Marshal(completionBody{Model: b.Model, Prompt: prompt, MaxTokens: b.MaxTokens, Echo: true, Logprobs: 1})
	if err != nil {
		return Result{}, err
	}
	var reply completionReply
	if err := b.call(ctx, "/completions", body, &reply); err != nil {
		return Result{}, err
	}
	return parseReply(&reply, prompt, len(r.Context))
}

// call posts body to the server's path and decodes the reply into out,
// retrying with exponential backoff and jitter, or after the server's
// Retry-After.
func (b *Endpoint) call(ctx context.Context, path string, body []byte, out any) error {
	retries := b.Retries
	if retries == 0 {
		retries = 6
	}
	backoff, maxBackoff, maxAfter := or(b.Backoff, 500*time.Millisecond), or(b.MaxBackoff, 30*time.Second), or(b.MaxRetryAfter, 2*time.Minute)
	for attempt := 0; ; attempt++ {
		err := b.post(ctx, path, body, out)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var se *StatusError
		isStatus := errors.As(err, &se)
		if (isStatus && !se.retryable()) || attempt >= retries {
			if attempt > 0 {
				return fmt.Errorf("%w (after %d retries)", err, attempt)
			}
			return err
		}
		// Exponential backoff with jitter in [d/2, d), or the server's word.
		d := min(backoff<<attempt, maxBackoff)
		d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
		if isStatus && se.RetryAfter > 0 {
			d = min(se.RetryAfter, maxAfter)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
}

func or(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// maxReplyBytes bounds a reply (32k prompt tokens with top log-probs fit).
const maxReplyBytes = 64 << 20

func (b *Endpoint) post(ctx context.Context, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url(path), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if b.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+b.APIKey)
	}
	c := b.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Minute}
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	if err != nil {
		return fmt.Errorf("reading the reply: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		se := &StatusError{Code: resp.StatusCode, Body: string(data[:min(len(data), 500)])}
		se.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		return se
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("reply from %s is not what was asked for: %w", path, err)
	}
	return nil
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 && !math.IsInf(s, 0) {
		return time.Duration(min(s, 1e6) * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// parseReply reads the echoed prompt's log-probabilities: token_logprobs
// (the first null) and top_logprobs (the top-1 alternative's value). Any
// entries past the prompt (a generated token) are ignored.
func parseReply(reply *completionReply, prompt []int, ctxLen int) (Result, error) {
	if len(reply.Choices) != 1 || reply.Choices[0].Logprobs == nil {
		return Result{}, fmt.Errorf("reply has %d choices and no log-probabilities; does the server support echo with logprobs?", len(reply.Choices))
	}
	lp := reply.Choices[0].Logprobs
	if len(lp.TokenLogprobs) < len(prompt) || len(lp.TopLogprobs) < len(prompt) {
		return Result{}, fmt.Errorf("reply has %d token log-probabilities for a prompt of %d tokens; does the server echo the prompt's?", len(lp.TokenLogprobs), len(prompt))
	}
	vals, top := make([]float64, len(prompt)), make([]float64, len(prompt))
	for t := ctxLen; t < len(prompt); t++ {
		if lp.TokenLogprobs[t] == nil {
			return Result{}, fmt.Errorf("reply has no log-probability for prompt token %d", t)
		}
		vals[t], top[t] = *lp.TokenLogprobs[t], math.Inf(-1)
		for _, v := range lp.TopLogprobs[t] {
			if v != nil && *v > top[t] {
				top[t] = *v
			}
		}
	}
	return score(ctxLen, vals, top), nil
}
