package infer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dokja/dokja/grammar"
	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tensor"
	"github.com/dokja/dokja/tokenizer"
)

// Request is one generation: a prompt of token ids and how to continue it.
type Request struct {
	Prompt []int
	// MaxTokens bounds the new tokens; 0 generates nothing (scoring only,
	// with Echo).
	MaxTokens int
	Stop      []string
	Sampler   SamplerOptions
	// Logprobs asks for the log-probability of each generated token and
	// TopLogprobs alternatives (0-20) beside it.
	Logprobs    bool
	TopLogprobs int
	// Echo scores the prompt: the log-probability of every prompt token
	// given those before it (the first has none), as evaluation harnesses
	// need for log-likelihoods.
	Echo bool
	// Constraint, when set, limits the tokens generated (a grammar or a
	// JSON schema, see package grammar); the generation stops when it is
	// done. It belongs to this one request.
	Constraint Constraint
}

// Constraint limits what a generation may produce. *grammar.Constraint
// implements it.
type Constraint interface {
	// Allows reports whether token id may come next when at most
	// remaining tokens, id included, may still be generated.
	Allows(id, remaining int) bool
	// Mask sets to -Inf the logits of the tokens that may not come next.
	Mask(logits []float32, remaining int) error
	// Accept advances past token id.
	Accept(id int) error
	// Done reports that the output is complete and nothing may follow.
	Done() bool
}

// TokenLogprob is one token with its log-probability under the model
// (natural log, temperature 1, before any sampling filter) and the most
// likely alternatives at its position.
type TokenLogprob struct {
	ID      int
	Token   string // the token's bytes
	Logprob float32
	Top     []Alternative
}

// Alternative is a candidate token at a position.
type Alternative struct {
	ID      int
	Token   string
	Logprob float32
}

// Event is a piece of a generation as it is decoded: text that is final,
// and the tokens that produced it (with log-probabilities when asked for).
type Event struct {
	Text   string
	Tokens []TokenLogprob
}

// Result describes a finished generation.
type Result struct {
	Text             string
	PromptTokens     int
	Tokens           []int // generated ids, a stop token excluded
	FinishReason     string
	PromptLogprobs   []TokenLogprob // with Echo; the first entry has no log-probability
	Logprobs         []TokenLogprob // with Logprobs
	TimeToFirstToken time.Duration
}

// Errors a caller can answer specifically (a server maps them to HTTP
// statuses).
var (
	ErrBusy         = errors.New("the engine's queue is full")
	ErrPromptLength = errors.New("prompt too long")
	ErrClosed       = errors.New("engine closed")
)

// EngineOptions size an Engine.
type EngineOptions struct {
	// MaxBatch is how many sequences decode together (default 8).
	MaxBatch int
	// MaxQueue is how many requests may wait for a slot (default 64).
	MaxQueue int
	// MaxContext bounds prompt plus generated tokens (default: the
	// model's max_position_embeddings, or 4096).
	MaxContext int
	// HalfKV keeps the sequences' key/value caches in fp16 (it sets the
	// model's HalfKV): half the memory a cached position takes.
	HalfKV bool
}

// ParseKVCache reads a key/value cache precision as flags give it: "f32"
// (or "") for float32, "f16" for fp16. It reports whether the cache is
// half.
func ParseKVCache(s string) (half bool, err error) {
	switch s {
	case "", "f32":
		return false, nil
	case "f16":
		return true, nil
	}
	return false, fmt.Errorf("key/value cache type %q: want f32 or f16", s)
}

// Engine serves generations of one model with continuous batching: every
// decode step advances all running sequences together in one forward
// pass (Decoder.Hidden), new requests join between steps, and a finished or
// cancelled one leaves at once, freeing its slot and its cache. A request
// whose caller gives up while it still waits leaves the queue at once.
type Engine struct {
	dec  Decoder
	m    *model.Model // the CPU model behind dec; nil for another Decoder
	tok  *tokenizer.Tokenizer
	opt  EngineOptions
	stop chan struct{}
	done chan struct{}
	once sync.Once
	eos  map[int]bool

	vocabOnce sync.Once
	vocab     *grammar.Vocab // GrammarVocab's

	mu      sync.Mutex
	waiting []*job        // queued requests, oldest first
	closed  bool          // no more requests are taken
	wake    chan struct{} // capacity 1: a request was queued

	running   atomic.Int64
	cacheRows atomic.Int64

	ended []*job // finished in this turn of the loop, results not yet sent
}

type job struct {
	ctx    context.Context
	req    Request
	result chan jobResult // capacity 1, written once by finish
	start  time.Time

	// Events go from the loop to the caller through a list, so that the
	// loop never waits for a slow caller and nothing is sized by the
	// request: the list holds what the caller has not taken yet.
	mu     sync.Mutex
	events []Event
	notify chan struct{} // capacity 1: events were added
	// unsignalled: events were added since the last signal (loop-owned).
	unsignalled bool

	cache    State
	sampler  *Sampler
	masked   []float32 // logits under the constraint
	history  []int
	pending  []int // ids to run next step
	text     textStream
	res      Result
	first    bool
	finished bool
	outcome  jobResult // set by finish
}

// send hands ev to the caller without waiting for it.
// The caller hears of them once the step is published (signal), so
// that what it reads in Stats meanwhile already counts the step.
func (j *job) send(ev Event) {
	j.mu.Lock()
	j.events = append(j.events, ev)
	j.mu.Unlock()
	j.unsignalled = true
}

// signal wakes the callers of jobs that were sent events.
func signal(jobs []*job) {
	for _, j := range jobs {
		if j.unsignalled {
			j.unsignalled = false
			select {
			case j.notify <- struct{}{}:
			default:
			}
		}
	}
}

// take returns the events not yet taken.
func (j *job) take() []Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	evs := j.events
	j.events = nil
	return evs
}

type jobResult struct {
	res *Result
	err error
}

// NewEngine starts an engine's scheduling loop over m on the CPU; Close
// stops it.
func NewEngine(m *model.Model, tok *tokenizer.Tokenizer, opt EngineOptions) (*Engine, error) {
	e, err := newEngine(m, tok, opt)
	if err != nil {
		return nil, err
	}
	go e.loop()
	return e, nil
}

// NewDecoderEngine starts an engine over any Decoder. opt.HalfKV is the
// CPU cache's setting and is refused here: a Decoder chooses its own
// state.
func NewDecoderEngine(d Decoder, tok *tokenizer.Tokenizer, opt EngineOptions) (*Engine, error) {
	if opt.HalfKV {
		return nil, errors.New("engine: HalfKV applies to the CPU model only")
	}
	e, err := newDecoderEngine(d, tok, opt)
	if err != nil {
		return nil, err
	}
	go e.loop()
	return e, nil
}

// newEngine builds an engine without starting its loop (tests fill its
// queue first).
func newEngine(m *model.Model, tok *tokenizer.Tokenizer, opt EngineOptions) (*Engine, error) {
	if opt.HalfKV {
		m.HalfKV = true
	}
	e, err := newDecoderEngine(CPU(m), tok, opt)
	if err != nil {
		return nil, err
	}
	e.m = m
	return e, nil
}

func newDecoderEngine(d Decoder, tok *tokenizer.Tokenizer, opt EngineOptions) (*Engine, error) {
	cfg := d.Config()
	if tok.VocabSize() > cfg.VocabSize {
		return nil, fmt.Errorf("tokenizer has %d ids but the model only %d", tok.VocabSize(), cfg.VocabSize)
	}
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 8
	}
	if opt.MaxQueue <= 0 {
		opt.MaxQueue = 64
	}
	if opt.MaxContext <= 0 {
		opt.MaxContext = cfg.MaxPositionEmbeddings
		if opt.MaxContext <= 0 {
			opt.MaxContext = 4096
		}
	}
	return &Engine{dec: d, tok: tok, opt: opt, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), eos: endTokens(cfg, tok)}, nil
}

// Model returns the engine's CPU model (nil when it runs another
// Decoder); Decoder what it runs; Tokenizer its tokenizer.
func (e *Engine) Model() *model.Model             { return e.m }
func (e *Engine) Decoder() Decoder                { return e.dec }
func (e *Engine) Tokenizer() *tokenizer.Tokenizer { return e.tok }

// MaxContext is the longest prompt plus generation the engine accepts.
func (e *Engine) MaxContext() int { return e.opt.MaxContext }

// EncodeChat renders a conversation with chat, ending in the assistant's
// turn, and tokenizes it, special tokens included, as the server, the
// evaluation harness and red-teaming all prompt a chat model.
func (e *Engine) EncodeChat(chat *ChatTemplate, msgs []Message) ([]int, error) {
	return e.EncodeChatTools(chat, msgs, nil)
}

// EncodeChatTools is EncodeChat with the tools the model may call
// (ChatTemplate.RenderTools).
func (e *Engine) EncodeChatTools(chat *ChatTemplate, msgs []Message, tools []Tool) ([]int, error) {
	if chat == nil {
		return nil, errors.New("the model has no chat template")
	}
	text, err := chat.RenderTools(msgs, tools, true)
	if err != nil {
		return nil, fmt.Errorf("chat template: %w", err)
	}
	ids, err := e.tok.Encode(text)
	if err != nil {
		return nil, fmt.Errorf("encoding the rendered conversation: %w", err)
	}
	return ids, nil
}

// Stats is a snapshot of the engine's load.
type Stats struct {
	Queued, Running int
	// CacheBytes is the memory the running sequences' key/value caches hold.
	CacheBytes int64
}

// Stats reports the engine's current load.
func (e *Engine) Stats() Stats {
	perRow := int64(e.dec.StateBytesPerToken())
	e.mu.Lock()
	queued := len(e.waiting)
	e.mu.Unlock()
	return Stats{Queued: queued, Running: int(e.running.Load()), CacheBytes: e.cacheRows.Load() * perRow}
}

// Close stops the loop; running and queued requests end with ErrClosed.
func (e *Engine) Close() {
	e.once.Do(func() {
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		close(e.stop)
	})
	<-e.done
}

// enqueue queues j, or says why not.
func (e *Engine) enqueue(j *job) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.closed:
		return ErrClosed
	case len(e.waiting) >= e.opt.MaxQueue:
		return ErrBusy
	}
	e.waiting = append(e.waiting, j)
	select {
	case e.wake <- struct{}{}:
	default:
	}
	return nil
}

// dequeue takes j out of the queue if it is still waiting there.
func (e *Engine) dequeue(j *job) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, w := range e.waiting {
		if w == j {
			e.waiting = slices.Delete(e.waiting, i, i+1)
			return true
		}
	}
	return false
}

// admit takes up to n queued requests, oldest first, and prepares them.
func (e *Engine) admitWaiting(n int) []*job {
	e.mu.Lock()
	n = min(n, len(e.waiting))
	jobs := slices.Clone(e.waiting[:n])
	e.waiting = slices.Delete(e.waiting, 0, n)
	e.mu.Unlock()
	for _, j := range jobs {
		e.admit(j)
	}
	return jobs
}

// Generate runs req and calls emit (when not nil) with each event as it
// is decoded, from the caller's goroutine. It returns ErrBusy at once when
// the queue is full. Cancelling ctx ends the generation within a step, or
// at once while the request still waits for a slot.
func (e *Engine) Generate(ctx context.Context, req Request, emit func(Event) error) (*Result, error) {
	if len(req.Prompt) == 0 {
		return nil, errors.New("prompt: empty; nothing to continue")
	}
	if req.MaxTokens < 0 {
		return nil, fmt.Errorf("max_tokens %d: must not be negative", req.MaxTokens)
	}
	// Compared without adding, so that no max_tokens overflows the sum.
	if len(req.Prompt) > e.opt.MaxContext || req.MaxTokens > e.opt.MaxContext-len(req.Prompt) {
		return nil, fmt.Errorf("%w: %d prompt tokens + %d new tokens exceed the context of %d", ErrPromptLength, len(req.Prompt), req.MaxTokens, e.opt.MaxContext)
	}
	for i, id := range req.Prompt {
		if V := e.dec.Config().VocabSize; id < 0 || id >= V {
			return nil, fmt.Errorf("prompt token %d at position %d is outside the vocabulary of %d", id, i, V)
		}
	}
	req.TopLogprobs = min(max(req.TopLogprobs, 0), 20)
	j := &job{ctx: ctx, req: req, notify: make(chan struct{}, 1), result: make(chan jobResult, 1), start: time.Now()}
	if err := e.enqueue(j); err != nil {
		return nil, err
	}
	var emitErr error
	deliver := func() {
		for _, ev := range j.take() {
			if emit != nil && emitErr == nil {
				emitErr = emit(ev)
			}
		}
	}
	cancelled := ctx.Done()
	for {
		select {
		case <-j.notify:
			deliver()
		case r := <-j.result:
			deliver() // events sent before the result
			if r.err == nil && emitErr != nil {
				r.err = emitErr
			}
			return r.res, r.err
		case <-cancelled:
			if e.dequeue(j) {
				return nil, ctx.Err()
			}
			// Running: the loop sees the context and ends it within a step.
			cancelled = nil
		}
	}
}

func (e *Engine) loop() {
	defer close(e.done)
	var active []*job
	defer func() {
		for _, j := range active {
			e.finish(j, ErrClosed)
		}
		e.mu.Lock()
		e.closed = true
		waiting := e.waiting
		e.waiting = nil
		e.mu.Unlock()
		for _, j := range waiting {
			j.result <- jobResult{nil, ErrClosed}
		}
		e.publish(nil)
		e.deliver()
	}()
	for {
		// Sleep only when nothing runs and nothing waits: a wake signal
		// stands for any number of requests queued since the last one.
		if len(active) == 0 && e.Stats().Queued == 0 {
			select {
			case <-e.wake:
			case <-e.stop:
				return
			}
		}
		select {
		case <-e.stop:
			return
		default:
		}
		active = append(active, e.admitWaiting(e.opt.MaxBatch-len(active))...)
		active = slices.DeleteFunc(active, func(j *job) bool {
			if err := j.ctx.Err(); err != nil {
				e.finish(j, err)
				return true
			}
			return false
		})
		e.publish(active)
		e.deliver()
		if len(active) == 0 {
			continue
		}
		active = e.step(active)
		e.publish(active)
		signal(active)
		e.deliver()
	}
}

// publish records the running sequences and their caches' size for Stats.
func (e *Engine) publish(active []*job) {
	var rows int64
	for _, j := range active {
		rows += int64(j.cache.Len())
	}
	e.cacheRows.Store(rows)
	e.running.Store(int64(len(active)))
}

// step runs one decoding step for the active jobs and returns those that
// go on. A panic in the step (a bug, or a model file that passed every
// check and still breaks the arithmetic) ends the step's jobs with an
// error instead of the process: the engine serves on.
func (e *Engine) step(active []*job) (keep []*job) {
	defer func() {
		if r := recover(); r != nil {
			slog.Error("decoding step panicked", "panic", r, "stack", string(debug.Stack()))
			err := fmt.Errorf("internal error in the decoding step: %v", r)
			for _, j := range active {
				e.finish(j, err)
			}
			keep = nil
		}
	}()
	caches := make([]State, len(active))
	ids := make([][]int, len(active))
	all := make([]bool, len(active))
	for i, j := range active {
		caches[i], ids[i] = j.cache, j.pending
		all[i] = j.first && j.req.Echo
	}
	out, err := stepLogits(e.dec, caches, ids, all)
	if err != nil {
		for _, j := range active {
			e.finish(j, err)
		}
		return nil
	}
	keep = make([]*job, 0, len(active))
	for i, j := range active {
		if done := e.advance(j, out[i]); !done {
			keep = append(keep, j)
		}
	}
	return keep
}

// admit prepares a queued request's sequence.
func (e *Engine) admit(j *job) {
	j.cache = e.dec.NewState()
	j.sampler = NewSampler(j.req.Sampler)
	j.history = slices.Clone(j.req.Prompt)
	j.pending = j.req.Prompt
	j.text.stops = j.req.Stop
	j.first = true
	j.res = Result{PromptTokens: len(j.req.Prompt), FinishReason: "length"}
}

// advance consumes one step's logits for j: prompt scores on the first
// step, then the next token. It reports whether the job has finished.
func (e *Engine) advance(j *job, logits [][]float32) bool {
	if j.first {
		j.first = false
		if j.req.Echo {
			// Scoring prompts is what evaluation harnesses do all day: one
			// log-softmax per position, spread over the cores.
			p := j.req.Prompt
			lps := make([]TokenLogprob, len(p))
			lps[0] = TokenLogprob{ID: p[0], Token: e.tokenText(p[0]), Logprob: float32(math.NaN())}
			tensor.ParallelFor(len(p)-1, 4, func(lo, hi int) {
				for t := lo + 1; t < hi+1; t++ {
					lps[t] = e.logprob(logits[t-1], p[t], j.req.TopLogprobs)
				}
			})
			j.res.PromptLogprobs = lps
		}
	}
	if len(j.res.Tokens) >= j.req.MaxTokens {
		e.finish(j, nil)
		return true
	}
	last := logits[len(logits)-1]
	id := j.sampler.Sample(last, j.history)
	if c := j.req.Constraint; c != nil {
		// Most draws already obey the constraint: mask the whole
		// vocabulary and draw again only when this one does not.
		// Drawing from p and redrawing from p restricted to the allowed
		// set on a miss samples exactly the restricted distribution.
		remaining := j.req.MaxTokens - len(j.res.Tokens)
		if !c.Allows(id, remaining) {
			j.masked = append(j.masked[:0], last...)
			if err := c.Mask(j.masked, remaining); err != nil {
				e.finish(j, fmt.Errorf("constrained decoding: %w", err))
				return true
			}
			id = j.sampler.Sample(j.masked, j.history)
		}
		if err := c.Accept(id); err != nil {
			e.finish(j, fmt.Errorf("constrained decoding: %w", err))
			return true
		}
	}
	if j.res.TimeToFirstToken == 0 {
		j.res.TimeToFirstToken = time.Since(j.start)
	}
	if e.eos[id] {
		j.res.FinishReason = "stop"
		e.finish(j, nil)
		return true
	}
	tl := TokenLogprob{ID: id, Token: e.tokenText(id)}
	if j.req.Logprobs {
		tl = e.logprob(last, id, j.req.TopLogprobs)
		j.res.Logprobs = append(j.res.Logprobs, tl)
	}
	j.res.Tokens = append(j.res.Tokens, id)
	j.history = append(j.history, id)
	text, stopped := j.text.push(tl.Token)
	if text != "" || j.req.Logprobs {
		j.send(Event{Text: text, Tokens: []TokenLogprob{tl}})
	}
	if stopped || (j.req.Constraint != nil && j.req.Constraint.Done()) {
		j.res.FinishReason = "stop"
		e.finish(j, nil)
		return true
	}
	if len(j.res.Tokens) >= j.req.MaxTokens || j.cache.Len()+1 > e.opt.MaxContext {
		e.finish(j, nil)
		return true
	}
	j.pending = []int{id}
	return false
}

// finish ends j with its result (err nil) or error, once. The result
// reaches the caller at the next deliver, after publish: a caller that
// has its result no longer counts in Stats.
func (e *Engine) finish(j *job, err error) {
	if j.finished {
		return
	}
	j.finished = true
	e.ended = append(e.ended, j)
	if err != nil {
		res := j.res
		j.outcome = jobResult{&res, err}
		return
	}
	if rest := j.text.finish(); rest != "" {
		j.send(Event{Text: rest})
	}
	j.res.Text = j.text.text.String()
	res := j.res
	j.outcome = jobResult{&res, nil}
}

// deliver hands the ended jobs their results.
func (e *Engine) deliver() {
	for _, j := range e.ended {
		j.result <- j.outcome
	}
	e.ended = e.ended[:0]
}

func (e *Engine) tokenText(id int) string {
	s, _ := e.tok.Token(id)
	return s
}

// logprob returns the log-probability of id under logits, with the top
// alternatives.
func (e *Engine) logprob(logits []float32, id, top int) TokenLogprob {
	lse := tensor.LogSumExp(logits)
	tl := TokenLogprob{ID: id, Token: e.tokenText(id), Logprob: float32(float64(logits[id]) - lse)}
	if top == 1 {
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		tl.Top = []Alternative{{ID: best, Token: e.tokenText(best), Logprob: float32(float64(logits[best]) - lse)}}
	} else if top > 1 {
		idx := make([]int32, len(logits))
		for i := range idx {
			idx[i] = int32(i)
		}
		idx = topK(idx, min(top, len(idx)), logits)
		slices.SortFunc(idx, func(a, b int32) int {
			switch {
			case logits[a] > logits[b]:
				return -1
			case logits[a] < logits[b]:
				return 1
			}
			return int(a - b)
		})
		for _, i := range idx {
			tl.Top = append(tl.Top, Alternative{ID: int(i), Token: e.tokenText(int(i)), Logprob: float32(float64(logits[i]) - lse)})
		}
	}
	return tl
}

// MaxBatch is how many sequences decode together.
func (e *Engine) MaxBatch() int { return e.opt.MaxBatch }
