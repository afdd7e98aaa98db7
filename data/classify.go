package data

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dokja/dokja/encoder"
	"github.com/dokja/dokja/tokenizer"
)

// ClassifyOptions configure the classify stage: a trained sequence
// classifier (dokja train with labelled:) labels each document, and
// documents whose labels are not wanted go, as FineWeb-Edu's classifier
// curates.
type ClassifyOptions struct {
	// Model is a ModernBertForSequenceClassification folder with its
	// tokenizer.json.
	Model string `yaml:"model"`
	// Keep lists the labels whose documents stay; empty keeps all (the
	// report still counts the labels).
	Keep []string `yaml:"keep"`
	// MinProb drops documents whose kept labels' probabilities sum to
	// less (0: the most probable label decides).
	MinProb float64 `yaml:"min_prob"`
	// MaxTokens is how much of each document's start the classifier
	// reads (capped by the model's context).
	MaxTokens int `yaml:"max_tokens"`
}

func defaultClassify() *ClassifyOptions { return &ClassifyOptions{MaxTokens: 512} }

func (o *ClassifyOptions) build(env *Env) (any, error) {
	if o.Model == "" {
		return nil, fieldErr("model", o.Model, "a classifier folder (dokja train with labelled:)")
	}
	if o.MinProb < 0 || o.MinProb > 1 {
		return nil, fieldErr("min_prob", o.MinProb, "a number in [0, 1]")
	}
	if o.MaxTokens < 1 {
		return nil, fieldErr("max_tokens", o.MaxTokens, "1 or more")
	}
	dir := env.path(o.Model)
	e, err := encoder.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	m, ok := e.(*encoder.ModernBERT)
	if !ok || m.Labels() == nil {
		return nil, fieldErr("model", o.Model, "a ModernBertForSequenceClassification folder")
	}
	for _, k := range o.Keep {
		if !slices.Contains(m.Labels(), k) {
			return nil, fieldErr("keep", k, "one of the model's labels "+strings.Join(m.Labels(), ", "))
		}
	}
	tok, err := tokenizer.Load(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	before, after, err := tok.Template()
	if err != nil {
		return nil, fmt.Errorf("model: %s: %w", filepath.Join(dir, "tokenizer.json"), err)
	}
	limit := min(o.MaxTokens, m.MaxTokens()) - len(before) - len(after)
	if limit < 1 {
		return nil, fieldErr("max_tokens", o.MaxTokens, "more than the template's special tokens")
	}
	return &classifyStage{o: *o, m: m, tok: tok, before: before, after: after, limit: limit}, nil
}

type classifyStage struct {
	o             ClassifyOptions
	m             *encoder.ModernBERT
	tok           *tokenizer.Tokenizer
	before, after []int
	limit         int
}

func (s *classifyStage) Name() string { return "classify" }

// Probs returns the label probabilities of text.
func (s *classifyStage) probs(text string) ([]float64, error) {
	ids, err := s.tok.Encode(text)
	if err != nil {
		return nil, err
	}
	ids = append(append(append([]int(nil), s.before...), ids[:min(len(ids), s.limit)]...), s.after...)
	if len(ids) == 0 {
		return nil, fmt.Errorf("no tokens")
	}
	logits, err := s.m.ClassifyLogits(ids)
	if err != nil {
		return nil, err
	}
	p := make([]float64, len(logits))
	mx := float64(slices.Max(logits))
	var sum float64
	for i, v := range logits {
		p[i] = math.Exp(float64(v) - mx)
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
	return p, nil
}

func (s *classifyStage) Process(d *Document) Verdict {
	p, err := s.probs(d.Text)
	if err != nil {
		return Verdict{Drop: true, Reason: "unclassifiable", Detail: err.Error()}
	}
	labels := s.m.Labels()
	best := 0
	for i := range p {
		if p[i] > p[best] {
			best = i
		}
	}
	v := Verdict{Counts: map[string]int{labels[best]: 1}}
	if len(s.o.Keep) == 0 {
		return v
	}
	kept := 0.0
	for i, l := range labels {
		if slices.Contains(s.o.Keep, l) {
			kept += p[i]
		}
	}
	switch {
	case s.o.MinProb == 0 && !slices.Contains(s.o.Keep, labels[best]):
		v.Drop, v.Reason, v.Detail = true, "label", fmt.Sprintf("%s (%.2f) not in keep", labels[best], p[best])
	case s.o.MinProb > 0 && kept < s.o.MinProb:
		v.Drop, v.Reason, v.Detail = true, "low_prob", fmt.Sprintf("kept labels %.2f < %.2f", kept, s.o.MinProb)
	}
	return v
}
