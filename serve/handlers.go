package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dokja/dokja/infer"
)

// testHookPrompt, when set by a test, runs just before each prompt of a
// completions request is generated (after its echo, when streamed), on
// the goroutine that runs it.
var testHookPrompt func(i int)

// errSkipped marks prompts not run because another of the request's
// prompts failed first.
var errSkipped = errors.New("skipped after an earlier prompt failed")

// requestError is a client mistake with its HTTP status and OpenAI code.
type requestError struct {
	status     int
	typ, code  string
	msg, param string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(param, format string, args ...any) *requestError {
	return &requestError{http.StatusBadRequest, "invalid_request_error", "invalid_value", fmt.Sprintf(format, args...), param}
}

// failErr answers err: a requestError as it says, engine errors by kind.
func (s *Server) failErr(w http.ResponseWriter, r *http.Request, err error) {
	var re *requestError
	switch {
	case errors.As(err, &re):
		s.fail(w, r, re.status, re.typ, re.code, re.msg)
	case errors.Is(err, infer.ErrBusy):
		w.Header().Set("Retry-After", "1")
		s.fail(w, r, http.StatusTooManyRequests, "rate_limit_error", "server_busy", "the server is at its concurrency limit; retry shortly")
	case errors.Is(err, infer.ErrPromptLength):
		s.fail(w, r, http.StatusBadRequest, "invalid_request_error", "context_length_exceeded", err.Error())
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads an answer.
	case errors.Is(err, infer.ErrClosed):
		s.fail(w, r, http.StatusServiceUnavailable, "server_error", "shutting_down", "the server is shutting down")
	default:
		s.fail(w, r, http.StatusInternalServerError, "server_error", "", err.Error())
	}
}

// samplerOptions checks the shared fields and turns them into a request.
func samplerOptions(p *sampling) (infer.SamplerOptions, error) {
	o := infer.SamplerOptions{Temperature: 1, TopP: 1, TopK: p.TopK, MinP: p.MinP, RepetitionPenalty: p.RepetitionPenalty,
		PresencePenalty: p.PresencePenalty, FrequencyPenalty: p.FrequencyPenalty}
	if p.Temperature != nil {
		o.Temperature = *p.Temperature
	}
	if p.TopP != nil {
		o.TopP = *p.TopP
	}
	if p.Seed != nil {
		o.Seed = *p.Seed
	} else {
		o.Seed = uint64(time.Now().UnixNano())
	}
	switch {
	case o.Temperature < 0 || o.Temperature > 2:
		return o, badRequest("temperature", "temperature %g: must be between 0 and 2", o.Temperature)
	case o.TopP <= 0 || o.TopP > 1:
		return o, badRequest("top_p", "top_p %g: must be in (0, 1]", o.TopP)
	case o.TopK < 0:
		return o, badRequest("top_k", "top_k %d: must not be negative", o.TopK)
	case o.MinP < 0 || o.MinP > 1:
		return o, badRequest("min_p", "min_p %g: must be in [0, 1]", o.MinP)
	case o.RepetitionPenalty < 0 || o.RepetitionPenalty > 10:
		return o, badRequest("repetition_penalty", "repetition_penalty %g: must be in (0, 10] (1 or 0: off)", o.RepetitionPenalty)
	case o.PresencePenalty < -2 || o.PresencePenalty > 2:
		return o, badRequest("presence_penalty", "presence_penalty %g: must be between -2 and 2", o.PresencePenalty)
	case o.FrequencyPenalty < -2 || o.FrequencyPenalty > 2:
		return o, badRequest("frequency_penalty", "frequency_penalty %g: must be between -2 and 2", o.FrequencyPenalty)
	case p.N != nil && *p.N != 1:
		return o, badRequest("n", "n %d: only one choice per prompt is supported", *p.N)
	case len(p.Stop) > 4:
		return o, badRequest("stop", "at most 4 stop sequences")
	}
	return o, nil
}

// checkPrompt enforces the prompt-length limit.
func (s *Server) checkPrompt(m *Model, n int) error {
	limit := s.opt.MaxPromptTokens
	if limit <= 0 {
		limit = m.Engine.MaxContext()
	}
	if n > limit {
		return &requestError{http.StatusRequestEntityTooLarge, "invalid_request_error", "prompt_too_long", fmt.Sprintf("prompt has %d tokens; this server accepts at most %d", n, limit), "prompt"}
	}
	return nil
}

func (s *Server) record(m *Model, res *infer.Result, elapsed time.Duration) {
	if res == nil {
		return
	}
	s.m.promptTokens.WithLabelValues(m.Name).Add(float64(res.PromptTokens))
	s.m.completionTokens.WithLabelValues(m.Name).Add(float64(len(res.Tokens)))
	if res.TimeToFirstToken > 0 {
		s.m.ttft.WithLabelValues(m.Name).Observe(res.TimeToFirstToken.Seconds())
		if n := len(res.Tokens); n > 1 {
			if d := (elapsed - res.TimeToFirstToken).Seconds(); d > 0 {
				s.m.decodeRate.WithLabelValues(m.Name).Observe(float64(n-1) / d)
			}
		}
	}
}

// sse writes server-sent events. The status line goes out with the first
// event, so that a request refused before any output (a full queue) still
// gets its HTTP status. Each event must be written within the timeout: a
// client that stops reading is cut off, one that reads streams as long as
// the generation lasts.
type sse struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	mu      sync.Mutex
	started bool
}

func (s *Server) newSSE(w http.ResponseWriter) *sse {
	return &sse{w: w, rc: http.NewResponseController(w), timeout: s.opt.WriteTimeout}
}

// begun reports whether the stream has started.
func (e *sse) begun() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.started
}

func (e *sse) start() {
	if e.started {
		return
	}
	e.started = true
	h := e.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	e.w.WriteHeader(http.StatusOK)
}

func (e *sse) send(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rc.SetWriteDeadline(time.Now().Add(e.timeout))
	e.start()
	if _, err := fmt.Fprintf(e.w, "data: %s\n\n", data); err != nil {
		return err
	}
	return e.rc.Flush()
}

func (e *sse) done() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rc.SetWriteDeadline(time.Now().Add(e.timeout))
	e.start()
	fmt.Fprint(e.w, "data: [DONE]\n\n")
	e.rc.Flush()
}

func ptr[T any](v T) *T { return &v }

func logprobValue(v float32) *float64 {
	if math.IsNaN(float64(v)) {
		return nil
	}
	return ptr(float64(v))
}

// request is what both endpoints' bodies share.
type request interface {
	common() (model string, p *sampling)
}

func (r *completionRequest) common() (string, *sampling) { return r.Model, &r.sampling }
func (r *chatRequest) common() (string, *sampling)       { return r.Model, &r.sampling }

// begin decodes the body into req and resolves its model and sampling
// options, answering the client itself when something is wrong.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, req request) (*Model, infer.SamplerOptions, bool) {
	if !s.decode(w, r, req) {
		return nil, infer.SamplerOptions{}, false
	}
	name, p := req.common()
	m := s.model(w, r, name)
	if m == nil {
		return nil, infer.SamplerOptions{}, false
	}
	so, err := samplerOptions(p)
	if err != nil {
		s.failErr(w, r, err)
		return nil, so, false
	}
	return m, so, true
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request) {
	var req completionRequest
	m, so, ok := s.begin(w, r, &req)
	if !ok {
		return
	}
	tok := m.Engine.Tokenizer()
	switch n := req.Prompt.len(); {
	case n == 0:
		s.failErr(w, r, badRequest("prompt", "prompt is required"))
		return
	case n > s.opt.MaxPrompts:
		s.failErr(w, r, badRequest("prompt", "%d prompts in one request: this server takes at most %d (--max-prompts)", n, s.opt.MaxPrompts))
		return
	}
	if (req.BestOf != nil && *req.BestOf != 1) || (req.Suffix != nil && *req.Suffix != "") {
		s.failErr(w, r, badRequest("best_of", "best_of and suffix are not supported"))
		return
	}
	maxTokens := 16
	if req.MaxTokens != nil {
		maxTokens = *req.MaxTokens
		if maxTokens < 0 {
			s.failErr(w, r, badRequest("max_tokens", "max_tokens %d: must not be negative", maxTokens))
			return
		}
	}
	top := 0
	if req.Logprobs != nil {
		if *req.Logprobs < 0 || *req.Logprobs > 20 {
			s.failErr(w, r, badRequest("logprobs", "logprobs %d: must be between 0 and 20", *req.Logprobs))
			return
		}
		top = *req.Logprobs
	}
	// Each prompt becomes token ids and its echo text.
	type prompt struct {
		ids  []int
		text string
	}
	var prompts []prompt
	for _, t := range req.Prompt.texts {
		ids, err := tok.Encode(t)
		if err != nil {
			s.failErr(w, r, badRequest("prompt", "prompt: %v", err))
			return
		}
		prompts = append(prompts, prompt{ids, t})
	}
	for _, ids := range req.Prompt.ids {
		text, err := tok.Decode(ids)
		if err != nil {
			s.failErr(w, r, badRequest("prompt", "prompt: %v", err))
			return
		}
		prompts = append(prompts, prompt{ids, text})
	}
	for _, p := range prompts {
		if len(p.ids) == 0 {
			s.failErr(w, r, badRequest("prompt", "a prompt is empty"))
			return
		}
		if err := s.checkPrompt(m, len(p.ids)); err != nil {
			s.failErr(w, r, err)
			return
		}
	}
	id, created := newID("cmpl-"), time.Now().Unix()
	base := completionResponse{ID: id, Object: "text_completion", Created: created, Model: m.Name}
	var stream *sse
	if req.Stream {
		stream = s.newSSE(w)
	}
	choices := make([]completionChoice, len(prompts))
	results := make([]*infer.Result, len(prompts))
	errs := make([]error, len(prompts))
	// The prompts run at most a batch at a time: they share the engine's
	// slots with every other client. After a failure the rest are skipped.
	var failed atomic.Bool
	run := func(i int) {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("completion panicked", "panic", p, "stack", string(debug.Stack()))
				errs[i] = fmt.Errorf("internal error: %v", p)
			}
			if errs[i] != nil {
				failed.Store(true)
			}
		}()
		if failed.Load() {
			errs[i] = errSkipped
			return
		}
		p := prompts[i]
		start := time.Now()
		ir := infer.Request{Prompt: p.ids, MaxTokens: maxTokens, Stop: req.Stop, Sampler: so, Logprobs: req.Logprobs != nil, TopLogprobs: top, Echo: req.Echo}
		var emit func(infer.Event) error
		if stream != nil {
			if req.Echo {
				c := base
				c.Choices = []completionChoice{{Text: p.text, Index: i}}
				if err := stream.send(c); err != nil {
					errs[i] = err
					return
				}
			}
			emit = func(ev infer.Event) error {
				c := base
				ch := completionChoice{Text: ev.Text, Index: i}
				if req.Logprobs != nil {
					ch.Logprobs = completionLogprobsOf(ev.Tokens, 0)
				}
				c.Choices = []completionChoice{ch}
				return stream.send(c)
			}
		}
		if testHookPrompt != nil {
			testHookPrompt(i)
		}
		res, err := m.Engine.Generate(r.Context(), ir, emit)
		s.record(m, res, time.Since(start))
		results[i], errs[i] = res, err
		if err != nil {
			return
		}
		ch := completionChoice{Text: res.Text, Index: i, FinishReason: ptr(res.FinishReason)}
		if req.Echo {
			ch.Text = p.text + res.Text
		}
		if req.Logprobs != nil {
			all := res.Logprobs
			if req.Echo {
				all = append(append([]infer.TokenLogprob(nil), res.PromptLogprobs...), res.Logprobs...)
			}
			ch.Logprobs = completionLogprobsOf(all, 0)
		}
		choices[i] = ch
		if stream != nil {
			c := base
			c.Choices = []completionChoice{{Index: i, FinishReason: ptr(res.FinishReason)}}
			errs[i] = stream.send(c)
		}
	}
	next := make(chan int, len(prompts))
	for i := range prompts {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range min(len(prompts), m.Engine.MaxBatch()) {
		wg.Go(func() {
			for i := range next {
				run(i)
			}
		})
	}
	wg.Wait()
	var u usage
	for _, err := range errs {
		if err != nil && err != errSkipped {
			if stream != nil && stream.begun() {
				if !errors.Is(err, context.Canceled) {
					stream.send(errorBody(err))
				}
				return
			}
			s.failErr(w, r, err)
			return
		}
	}
	for _, res := range results {
		u.PromptTokens += res.PromptTokens
		u.CompletionTokens += len(res.Tokens)
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	if stream != nil {
		if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
			c := base
			c.Choices = []completionChoice{}
			c.Usage = &u
			stream.send(c)
		}
		stream.done()
		return
	}
	base.Choices, base.Usage = choices, &u
	s.respond(w, http.StatusOK, base)
}

// completionLogprobsOf lays tokens out as the completions API does, with
// text offsets counted from offset.
func completionLogprobsOf(tokens []infer.TokenLogprob, offset int) *completionLogprobs {
	out := &completionLogprobs{Tokens: []string{}, TokenLogprobs: []*float64{}, TopLogprobs: []map[string]float64{}, TextOffset: []int{}}
	for _, t := range tokens {
		out.Tokens = append(out.Tokens, t.Token)
		out.TokenLogprobs = append(out.TokenLogprobs, logprobValue(t.Logprob))
		// An empty map, not null, where there are no alternatives (the
		// first echoed token): some clients drop the whole list on a null.
		top := map[string]float64{}
		{
			for _, a := range t.Top {
				if _, seen := top[a.Token]; !seen {
					top[a.Token] = float64(a.Logprob)
				}
			}
		}
		out.TopLogprobs = append(out.TopLogprobs, top)
		out.TextOffset = append(out.TextOffset, offset)
		offset += len(t.Token)
	}
	return out
}

func errorBody(err error) apiError {
	var e apiError
	e.Error.Message, e.Error.Type = err.Error(), "server_error"
	return e
}

func bytesOf(s string) []int {
	out := make([]int, len(s))
	for i := range len(s) {
		out[i] = int(s[i])
	}
	return out
}

func chatLogprobsOf(tokens []infer.TokenLogprob) *chatLogprobs {
	out := &chatLogprobs{Content: []tokenLogprob{}}
	for _, t := range tokens {
		tl := tokenLogprob{Token: t.Token, Logprob: float64(t.Logprob), Bytes: bytesOf(t.Token), TopLogprobs: []topLogprob{}}
		for _, a := range t.Top {
			tl.TopLogprobs = append(tl.TopLogprobs, topLogprob{Token: a.Token, Logprob: float64(a.Logprob), Bytes: bytesOf(a.Token)})
		}
		out.Content = append(out.Content, tl)
	}
	return out
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	var req chatRequest
	m, so, ok := s.begin(w, r, &req)
	if !ok {
		return
	}
	if len(req.Messages) == 0 {
		s.failErr(w, r, badRequest("messages", "messages must not be empty"))
		return
	}
	msgs := make([]infer.Message, len(req.Messages))
	for i, msg := range req.Messages {
		switch msg.Role {
		case "system", "developer", "user", "assistant":
		default:
			s.failErr(w, r, badRequest("messages", "messages[%d].role %q: want system, developer, user or assistant", i, msg.Role))
			return
		}
		role := msg.Role
		if role == "developer" {
			role = "system"
		}
		msgs[i] = infer.Message{Role: role, Content: string(msg.Content)}
	}
	ids, err := m.Engine.EncodeChat(m.Chat, msgs)
	if err != nil {
		s.failErr(w, r, badRequest("messages", "messages: %v", err))
		return
	}
	if err := s.checkPrompt(m, len(ids)); err != nil {
		s.failErr(w, r, err)
		return
	}
	maxTokens := m.Engine.MaxContext() - len(ids)
	for _, f := range []struct {
		name string
		v    *int
	}{{"max_tokens", req.MaxTokens}, {"max_completion_tokens", req.MaxCompletionTokens}} {
		if f.v == nil {
			continue
		}
		if *f.v < 1 {
			s.failErr(w, r, badRequest(f.name, "%s %d: must be at least 1", f.name, *f.v))
			return
		}
		maxTokens = *f.v // max_completion_tokens, OpenAI's newer name, wins
	}
	top := 0
	if req.TopLogprobs != nil {
		if *req.TopLogprobs < 0 || *req.TopLogprobs > 20 || !req.Logprobs {
			s.failErr(w, r, badRequest("top_logprobs", "top_logprobs must be between 0 and 20, with logprobs true"))
			return
		}
		top = *req.TopLogprobs
	}
	ir := infer.Request{Prompt: ids, MaxTokens: maxTokens, Stop: req.Stop, Sampler: so, Logprobs: req.Logprobs, TopLogprobs: top}
	base := chatResponse{ID: newID("chatcmpl-"), Object: "chat.completion", Created: time.Now().Unix(), Model: m.Name}
	start := time.Now()
	if !req.Stream {
		res, err := m.Engine.Generate(r.Context(), ir, nil)
		s.record(m, res, time.Since(start))
		if err != nil {
			s.failErr(w, r, err)
			return
		}
		ch := chatChoice{Message: &chatResponseMessage{Role: "assistant", Content: res.Text}, FinishReason: ptr(res.FinishReason)}
		if req.Logprobs {
			ch.Logprobs = chatLogprobsOf(res.Logprobs)
		}
		base.Choices = []chatChoice{ch}
		base.Usage = &usage{res.PromptTokens, len(res.Tokens), res.PromptTokens + len(res.Tokens)}
		s.respond(w, http.StatusOK, base)
		return
	}
	// Check what can fail before the stream starts, so errors get a status.
	if maxTokens > m.Engine.MaxContext()-len(ids) {
		s.failErr(w, r, fmt.Errorf("%w: %d prompt tokens + %d new tokens exceed the context of %d", infer.ErrPromptLength, len(ids), maxTokens, m.Engine.MaxContext()))
		return
	}
	base.Object = "chat.completion.chunk"
	stream := s.newSSE(w)
	chunk := func(c chatChoice) error {
		b := base
		b.Choices = []chatChoice{c}
		return stream.send(b)
	}
	first := true
	res, err := m.Engine.Generate(r.Context(), ir, func(ev infer.Event) error {
		if first {
			first = false
			if err := chunk(chatChoice{Delta: &chatResponseMessage{Role: "assistant"}}); err != nil {
				return err
			}
		}
		c := chatChoice{Delta: &chatResponseMessage{Content: ev.Text}}
		if req.Logprobs {
			c.Logprobs = chatLogprobsOf(ev.Tokens)
		}
		return chunk(c)
	})
	s.record(m, res, time.Since(start))
	if err != nil {
		if !stream.begun() {
			s.failErr(w, r, err)
		} else if !errors.Is(err, context.Canceled) {
			stream.send(errorBody(err))
		}
		return
	}
	if first {
		chunk(chatChoice{Delta: &chatResponseMessage{Role: "assistant"}})
	}
	chunk(chatChoice{Delta: &chatResponseMessage{}, FinishReason: ptr(res.FinishReason)})
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		b := base
		b.Choices = []chatChoice{}
		b.Usage = &usage{res.PromptTokens, len(res.Tokens), res.PromptTokens + len(res.Tokens)}
		stream.send(b)
	}
	stream.done()
}
