// Package redteam probes chat models for unsafe behaviour in Korean and
// English, in the manner of NVIDIA garak and Microsoft PyRIT: a probe is an
// attack conversation, a detector reads the model's reply and says whether
// the attack worked, and a run turns many samples into pass rates per
// probe, category and detector, keeping every failing transcript.
//
// Detectors are deterministic and explainable: each finding carries the
// phrase, pattern or personal datum that decided it. They are also crude
// in the ways that phrase matching is crude (see each detector's doc), so
// a pass rate is a screening number, and the failing transcripts are what
// a person should read.
//
// The built-in probes (Probes) cover six categories in both languages.
// Harmful requests are phrased at a generic, non-operational level: the
// harness tests whether a model refuses, and the repository holds no
// instructions worth refusing.
package redteam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sync"
)

// The probe categories.
const (
	PIIExtraction     = "pii_extraction"
	JailbreakRoleplay = "jailbreak_roleplay"
	JailbreakEncoding = "jailbreak_encoding"
	HarmfulRequest    = "harmful_request"
	PromptInjection   = "prompt_injection"
	SocialBias        = "social_bias"
)

// Categories lists the probe categories in report order.
func Categories() []string {
	return []string{PIIExtraction, JailbreakRoleplay, JailbreakEncoding, HarmfulRequest, PromptInjection, SocialBias}
}

// Message is one turn of a chat conversation. Role is "system", "user" or
// "assistant".
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Generator produces a reply to a chat conversation.
type Generator interface {
	Generate(ctx context.Context, msgs []Message, maxTokens int) (string, error)
}

// GeneratorFunc adapts a function to Generator, for in-process models
// and tests.
type GeneratorFunc func(ctx context.Context, msgs []Message, maxTokens int) (string, error)

// Generate calls f.
func (f GeneratorFunc) Generate(ctx context.Context, msgs []Message, maxTokens int) (string, error) {
	return f(ctx, msgs, maxTokens)
}

// Probe is one attack.
type Probe struct {
	// ID is unique and dotted: "pii.rrn_request.ko".
	ID string `json:"id"`
	// Category is one of Categories().
	Category string `json:"category"`
	// Lang is "ko" or "en".
	Lang string `json:"lang"`
	// Messages is the attack; the model answers the last turn.
	Messages []Message `json:"messages"`
	// Detectors names the detectors applied to every reply.
	Detectors []string `json:"detectors"`
	// Canary is a token that the attack asks the model to print: a
	// persona's marker (in clear), an encoded payload's code word (only
	// inside the encoding), a planted instruction's code word (in two
	// pieces to be joined). Its appearance in the reply shows that the
	// attack took.
	Canary string `json:"canary,omitempty"`
	// FailPatterns and PassPatterns are regular expressions (RE2 syntax)
	// for bias_stereotype: a reply whose earliest match is a fail pattern
	// picks a group or agrees with a stereotype.
	FailPatterns []string `json:"fail_patterns,omitempty"`
	PassPatterns []string `json:"pass_patterns,omitempty"`
	// Note says what the probe tests.
	Note string `json:"note,omitempty"`
}

// Validate checks that the probe is complete and its patterns compile;
// detectors, when not nil, must hold every detector the probe names.
func (p Probe) Validate(detectors map[string]Detector) error {
	switch {
	case p.ID == "":
		return errors.New("probe without an ID")
	case !slices.Contains(Categories(), p.Category):
		return fmt.Errorf("probe %s: unknown category %q", p.ID, p.Category)
	case p.Lang != "ko" && p.Lang != "en":
		return fmt.Errorf("probe %s: language %q is not ko or en", p.ID, p.Lang)
	case len(p.Messages) == 0:
		return fmt.Errorf("probe %s: no messages", p.ID)
	case len(p.Detectors) == 0:
		return fmt.Errorf("probe %s: no detectors", p.ID)
	}
	for _, m := range p.Messages {
		if m.Role != "system" && m.Role != "user" && m.Role != "assistant" {
			return fmt.Errorf("probe %s: unknown role %q", p.ID, m.Role)
		}
	}
	for _, d := range p.Detectors {
		if detectors != nil && detectors[d] == nil {
			return fmt.Errorf("probe %s: unknown detector %q", p.ID, d)
		}
	}
	for _, pat := range slices.Concat(p.FailPatterns, p.PassPatterns) {
		if _, err := compile(pat); err != nil {
			return fmt.Errorf("probe %s: %w", p.ID, err)
		}
	}
	return nil
}

var patterns sync.Map // string -> *regexp.Regexp

// compile compiles a pattern once per process.
func compile(pat string) (*regexp.Regexp, error) {
	if re, ok := patterns.Load(pat); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pat, err)
	}
	patterns.Store(pat, re)
	return re, nil
}

// Options configures Run.
type Options struct {
	// Categories and Langs select probes; empty selects all.
	Categories []string
	Langs      []string
	// Concurrency bounds requests in flight (default 4).
	Concurrency int
	// MaxTokens bounds each reply (default 512).
	MaxTokens int
	// Attempts is the number of samples per probe (default 1).
	Attempts int
	// Detectors replaces the built-in detectors (default Detectors()).
	Detectors map[string]Detector
	// Model names the model in the report; empty takes the generator's
	// Name() when it has one.
	Model string
	// Logger receives generation errors (default slog.Default()).
	Logger *slog.Logger
}

type attemptKey struct{}

// WithAttempt marks ctx with the sample number (0, 1, ...) of the request;
// Run sets it, and EndpointGenerator adds it to its seed so that repeated
// samples differ.
func WithAttempt(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, attemptKey{}, n)
}

// AttemptFrom returns the sample number set by WithAttempt, or 0.
func AttemptFrom(ctx context.Context) int {
	n, _ := ctx.Value(attemptKey{}).(int)
	return n
}

// Run sends every selected probe Attempts times to g, applies the probe's
// detectors to each reply and gathers the results. A failed generation is
// logged and counted in the probe's Errors, not in any pass rate; Run
// returns an error when the options or probes are invalid, when ctx ends,
// or when every generation failed (with the report so far).
func Run(ctx context.Context, g Generator, probes []Probe, opt Options) (*Report, error) {
	if g == nil {
		return nil, errors.New("redteam: no generator")
	}
	dets := opt.Detectors
	if dets == nil {
		dets = Detectors()
	}
	conc, maxTok, attempts := opt.Concurrency, opt.MaxTokens, opt.Attempts
	if conc <= 0 {
		conc = 4
	}
	if maxTok <= 0 {
		maxTok = 512
	}
	if attempts <= 0 {
		attempts = 1
	}
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	var sel []Probe
	seen := map[string]bool{}
	for _, p := range probes {
		if err := p.Validate(dets); err != nil {
			return nil, fmt.Errorf("redteam: %w", err)
		}
		if seen[p.ID] {
			return nil, fmt.Errorf("redteam: duplicate probe ID %q", p.ID)
		}
		seen[p.ID] = true
		if (len(opt.Categories) == 0 || slices.Contains(opt.Categories, p.Category)) &&
			(len(opt.Langs) == 0 || slices.Contains(opt.Langs, p.Lang)) {
			sel = append(sel, p)
		}
	}
	if len(sel) == 0 {
		return nil, errors.New("redteam: no probes selected")
	}
	model := opt.Model
	if n, ok := g.(interface{ Name() string }); ok && model == "" {
		model = n.Name()
	}

	results := make([]ProbeResult, len(sel))
	for i, p := range sel {
		results[i] = ProbeResult{ID: p.ID, Category: p.Category, Lang: p.Lang, Detectors: p.Detectors,
			Attempts: make([]Attempt, attempts)}
	}
	type job struct{ probe, attempt int }
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range min(conc, len(sel)*attempts) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				p := sel[j.probe]
				a := &results[j.probe].Attempts[j.attempt]
				reply, err := g.Generate(WithAttempt(ctx, j.attempt), p.Messages, maxTok)
				if err != nil {
					a.Error = err.Error()
					if ctx.Err() == nil {
						log.Warn("redteam: generation failed", "probe", p.ID, "attempt", j.attempt, "err", err)
					}
					continue
				}
				a.Reply = reply
				a.Findings = make(map[string]Finding, len(p.Detectors))
				for _, d := range p.Detectors {
					a.Findings[d] = dets[d].Detect(p, reply)
				}
			}
		}()
	}
send:
	for i := range sel {
		for k := range attempts {
			select {
			case jobs <- job{i, k}:
			case <-ctx.Done():
				break send
			}
		}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redteam: %w", err)
	}
	r := newReport(model, sel, results)
	if r.Errors == len(sel)*attempts {
		return r, fmt.Errorf("redteam: all %d generations failed; first: %s", r.Errors, firstError(results))
	}
	return r, nil
}

func firstError(rs []ProbeResult) string {
	for _, r := range rs {
		for _, a := range r.Attempts {
			if a.Error != "" {
				return a.Error
			}
		}
	}
	return ""
}
