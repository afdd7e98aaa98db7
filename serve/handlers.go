package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dokja/dokja/grammar"
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
		s.failParam(w, r, re.status, re.typ, re.code, re.param, re.msg)
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

// logitBias checks OpenAI's logit_bias: token ids as strings, biases in
// [-100, 100], at most 300 entries.
func logitBias(in map[string]float32, vocab int) (map[int]float32, error) {
	if len(in) > 300 {
		return nil, badRequest("logit_bias", "logit_bias has %d entries: at most 300", len(in))
	}
	out := make(map[int]float32, len(in))
	for k, v := range in {
		id, err := strconv.Atoi(k)
		if err != nil || id < 0 || id >= vocab {
			return nil, badRequest("logit_bias", "logit_bias key %q: want a token id from 0 to %d", k, vocab-1)
		}
		if v < -100 || v > 100 || v != v {
			return nil, badRequest("logit_bias", "logit_bias[%s] %g: must be between -100 and 100", k, v)
		}
		out[id] = v
	}
	return out, nil
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
	if err == nil && len(p.LogitBias) > 0 {
		so.LogitBias, err = logitBias(p.LogitBias, m.Engine.Tokenizer().VocabSize())
	}
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
	g, gparam, err := s.outputGrammar(&req.sampling)
	if err != nil {
		s.failErr(w, r, err)
		return
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
		if g != nil {
			c := g.NewConstraint(m.Engine.GrammarVocab())
			if need := c.MinTokens(); need > maxTokens {
				errs[i] = badRequest("max_tokens", "max_tokens %d is too few for the %s: the shortest output it allows takes %d tokens", maxTokens, gparam, need)
				return
			}
			ir.Constraint = c
		}
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
	tools, err := checkTools(req.Tools)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	choice := toolChoice{mode: "none"}
	if len(tools) > 0 {
		choice.mode = "auto"
	}
	if req.ToolChoice != nil {
		choice = *req.ToolChoice
		if choice.mode != "none" && len(tools) == 0 {
			s.failErr(w, r, badRequest("tool_choice", "tool_choice %s needs tools", choice.mode))
			return
		}
		if choice.mode == "function" && !slices.ContainsFunc(tools, func(t infer.Tool) bool { return t.Name == choice.name }) {
			s.failErr(w, r, badRequest("tool_choice", "tool_choice names function %q, which is not among the tools", choice.name))
			return
		}
	}
	// Templates that teach the Hermes format (<tool_call>) get the tools;
	// others (no tools, or a format Dokja does not read, such as Llama
	// 3.1's JSON) are taught it in a system message, and see earlier
	// calls in it, so that what the model is told is what is parsed.
	format := formatOf(m.Chat)
	native := format != nil
	if !native {
		format = hermesFormat
	}
	msgs := make([]infer.Message, len(req.Messages))
	for i, msg := range req.Messages {
		switch msg.Role {
		case "system", "developer", "user", "assistant", "tool":
		default:
			s.failErr(w, r, badRequest("messages", "messages[%d].role %q: want system, developer, user, assistant or tool", i, msg.Role))
			return
		}
		role := msg.Role
		if role == "developer" {
			role = "system"
		}
		im := infer.Message{Role: role, Content: string(msg.Content), ToolCallID: msg.ToolCallID, Name: msg.Name}
		for j, tc := range msg.ToolCalls {
			if msg.Role != "assistant" {
				s.failErr(w, r, badRequest("messages", "messages[%d]: only assistant messages carry tool_calls", i))
				return
			}
			if tc.Function.Name == "" {
				s.failErr(w, r, badRequest("messages", "messages[%d].tool_calls[%d]: function.name is missing", i, j))
				return
			}
			if !native {
				im.Content += hermesFormat.open + "\n" + `{"name": "` + tc.Function.Name + `", "arguments": ` + tc.Function.Arguments + "}\n" + hermesFormat.close
				continue
			}
			im.ToolCalls = append(im.ToolCalls, infer.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
		msgs[i] = im
	}
	var ids []int
	if len(tools) > 0 && !native {
		ids, err = m.Engine.EncodeChat(m.Chat, withToolInstructions(msgs, tools))
	} else {
		ids, err = m.Engine.EncodeChatTools(m.Chat, msgs, tools)
	}
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
	constraint, err := s.chatConstraint(m, &req, format, tools, choice, min(maxTokens, m.Engine.MaxContext()-len(ids)))
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	parseCalls := choice.mode != "none"
	ir := infer.Request{Prompt: ids, MaxTokens: maxTokens, Stop: req.Stop, Sampler: so, Logprobs: req.Logprobs, TopLogprobs: top, Constraint: constraint}
	base := chatResponse{ID: newID("chatcmpl-"), Object: "chat.completion", Created: time.Now().Unix(), Model: m.Name}
	start := time.Now()
	if !req.Stream {
		res, err := m.Engine.Generate(r.Context(), ir, nil)
		s.record(m, res, time.Since(start))
		if err != nil {
			s.failErr(w, r, err)
			return
		}
		msg := &chatResponseMessage{Role: "assistant", Content: ptr(res.Text)}
		finish := res.FinishReason
		if parseCalls {
			text, calls := format.splitCalls(res.Text)
			if len(calls) > 0 {
				msg.ToolCalls, msg.Content = calls, nil
				if text != "" {
					msg.Content = ptr(text)
				}
				if finish == "stop" {
					finish = "tool_calls"
				}
			}
		}
		ch := chatChoice{Message: msg, FinishReason: ptr(finish)}
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
	var calls *callStream
	if parseCalls {
		calls = &callStream{f: format}
	}
	res, err := m.Engine.Generate(r.Context(), ir, func(ev infer.Event) error {
		if first {
			first = false
			if err := chunk(chatChoice{Delta: &chatResponseMessage{Role: "assistant", Content: ptr("")}}); err != nil {
				return err
			}
		}
		text, deltas := ev.Text, []toolCallOut(nil)
		if calls != nil {
			text, deltas = calls.push(ev.Text)
		}
		var lp *chatLogprobs
		if req.Logprobs {
			lp = chatLogprobsOf(ev.Tokens)
		}
		if text != "" || (lp != nil && len(deltas) == 0) {
			if err := chunk(chatChoice{Delta: &chatResponseMessage{Content: ptr(text)}, Logprobs: lp}); err != nil {
				return err
			}
			lp = nil
		}
		for _, d := range deltas {
			if err := chunk(chatChoice{Delta: &chatResponseMessage{ToolCalls: []toolCallOut{d}}, Logprobs: lp}); err != nil {
				return err
			}
			lp = nil
		}
		return nil
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
		chunk(chatChoice{Delta: &chatResponseMessage{Role: "assistant", Content: ptr("")}})
	}
	finish := res.FinishReason
	if calls != nil {
		if rest := calls.finish(); rest != "" {
			chunk(chatChoice{Delta: &chatResponseMessage{Content: ptr(rest)}})
		}
		if calls.calls > 0 && finish == "stop" {
			finish = "tool_calls"
		}
	}
	chunk(chatChoice{Delta: &chatResponseMessage{}, FinishReason: ptr(finish)})
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		b := base
		b.Choices = []chatChoice{}
		b.Usage = &usage{res.PromptTokens, len(res.Tokens), res.PromptTokens + len(res.Tokens)}
		stream.send(b)
	}
	stream.done()
}

// chatConstraint builds the request's constrained decoding, if any: a
// tool call (required, or after its opening tag when the model chooses),
// a JSON schema or object, or a GBNF grammar; at most one of them.
func (s *Server) chatConstraint(m *Model, req *chatRequest, format *toolFormat, tools []infer.Tool, choice toolChoice, maxTokens int) (infer.Constraint, error) {
	var asked []string
	if choice.mode == "required" || choice.mode == "function" {
		asked = append(asked, "tool_choice")
	}
	if rf := req.ResponseFormat; rf != nil && rf.Type != "text" {
		asked = append(asked, "response_format")
	}
	if req.Grammar != nil {
		asked = append(asked, "grammar")
	}
	if len(asked) > 1 {
		return nil, badRequest(asked[1], "%s and %s cannot be combined", asked[0], asked[1])
	}
	g, param, err := s.outputGrammar(&req.sampling)
	if err != nil {
		return nil, err
	}
	switch choice.mode {
	case "required", "function":
		if choice.mode == "function" {
			tools = slices.DeleteFunc(slices.Clone(tools), func(t infer.Tool) bool { return t.Name != choice.name })
		}
		parallel := choice.mode == "required" && (req.ParallelToolCalls == nil || *req.ParallelToolCalls)
		if g, err = s.callGrammar(format, tools, true, parallel); err != nil {
			return nil, badRequest("tools", "tools: %v", err)
		}
		param = "tools"
	case "auto":
		if g == nil {
			cg, err := s.callGrammar(format, tools, false, false)
			if err != nil {
				return nil, badRequest("tools", "tools: %v", err)
			}
			return format.constraint(cg, m.Engine.GrammarVocab(), true), nil
		}
	}
	if g == nil {
		return nil, nil
	}
	c := g.NewConstraint(m.Engine.GrammarVocab())
	if need := c.MinTokens(); need > maxTokens {
		return nil, badRequest("max_tokens", "max_tokens %d is too few for the %s: the shortest output it allows takes %d tokens", maxTokens, param, need)
	}
	return c, nil
}

// callGrammar is the format's callGrammar through the server's cache.
func (s *Server) callGrammar(f *toolFormat, tools []infer.Tool, required, parallel bool) (*grammar.Grammar, error) {
	key, _ := json.Marshal(struct {
		F    string
		T    []infer.Tool
		R, P bool
	}{f.name, tools, required, parallel})
	return s.grammars.get("tools\x00"+string(key), func() (*grammar.Grammar, error) { return f.callGrammar(tools, required, parallel) })
}

// outputGrammar compiles response_format or grammar, when given.
func (s *Server) outputGrammar(p *sampling) (*grammar.Grammar, string, error) {
	if p.Grammar != nil {
		g, err := s.grammars.get("gbnf\x00"+*p.Grammar, func() (*grammar.Grammar, error) { return grammar.Parse(*p.Grammar) })
		if err != nil {
			return nil, "", badRequest("grammar", "grammar: %v", err)
		}
		return g, "grammar", nil
	}
	rf := p.ResponseFormat
	if rf == nil {
		return nil, "", nil
	}
	var schema []byte
	switch rf.Type {
	case "text":
		return nil, "", nil
	case "json_object":
		schema = []byte(`{"type":"object"}`)
	case "json_schema":
		if rf.JSONSchema == nil || len(rf.JSONSchema.Schema) == 0 {
			return nil, "", badRequest("response_format", "response_format json_schema needs json_schema.schema")
		}
		schema = rf.JSONSchema.Schema
	default:
		return nil, "", badRequest("response_format", "response_format type %q: want text, json_object or json_schema", rf.Type)
	}
	g, err := s.grammars.get("schema\x00"+string(schema), func() (*grammar.Grammar, error) { return grammar.FromJSONSchema(schema) })
	if err != nil {
		return nil, "", badRequest("response_format", "response_format: %v", err)
	}
	return g, "response_format", nil
}
