package data

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/dokja/dokja/pii"
	"github.com/dokja/dokja/quality"
	"go.yaml.in/yaml/v3"
)

// LengthOptions configure the length stage.
type LengthOptions struct {
	MinChars int `yaml:"min_chars"` // 0: no minimum
	MaxChars int `yaml:"max_chars"` // 0: no maximum
	MinLines int `yaml:"min_lines"` // 0: no minimum
}

func defaultLength() *LengthOptions { return &LengthOptions{MinChars: 1} }

func (o *LengthOptions) build(*Env) (any, error) {
	switch {
	case o.MinChars < 0:
		return nil, fieldErr("min_chars", o.MinChars, "0 or more")
	case o.MaxChars < 0 || (o.MaxChars > 0 && o.MaxChars < o.MinChars):
		return nil, fieldErr("max_chars", o.MaxChars, "0 (no limit) or at least min_chars")
	case o.MinLines < 0:
		return nil, fieldErr("min_lines", o.MinLines, "0 or more")
	}
	return &lengthStage{*o}, nil
}

type lengthStage struct{ o LengthOptions }

func (s *lengthStage) Name() string { return "length" }

func (s *lengthStage) Process(d *Document) Verdict {
	n := utf8.RuneCountInString(d.Text)
	switch {
	case n < s.o.MinChars:
		return Verdict{Drop: true, Reason: "min_chars", Detail: fmt.Sprintf("%d characters < %d", n, s.o.MinChars)}
	case s.o.MaxChars > 0 && n > s.o.MaxChars:
		return Verdict{Drop: true, Reason: "max_chars", Detail: fmt.Sprintf("%d characters > %d", n, s.o.MaxChars)}
	}
	if s.o.MinLines > 0 {
		if l := strings.Count(strings.TrimRight(d.Text, "\n"), "\n") + 1; l < s.o.MinLines {
			return Verdict{Drop: true, Reason: "min_lines", Detail: fmt.Sprintf("%d lines < %d", l, s.o.MinLines)}
		}
	}
	return Verdict{}
}

// PIIOptions configure the pii stage.
type PIIOptions struct {
	// Kinds to redact; empty means all (rrn, phone, email, card, account,
	// ip, address).
	Kinds []string `yaml:"kinds"`
	// Drop removes a document with at least this many findings instead of
	// redacting it (0: always redact).
	Drop int `yaml:"drop_at"`
}

func defaultPII() *PIIOptions { return &PIIOptions{} }

func (o *PIIOptions) build(*Env) (any, error) {
	var kinds []pii.Kind
	for _, k := range o.Kinds {
		if !slices.Contains(pii.Precedence(), pii.Kind(k)) {
			var all []string
			for _, p := range pii.Precedence() {
				all = append(all, string(p))
			}
			return nil, fieldErr("kinds", k, "one of "+strings.Join(all, ", "))
		}
		kinds = append(kinds, pii.Kind(k))
	}
	if o.Drop < 0 {
		return nil, fieldErr("drop_at", o.Drop, "0 or more")
	}
	return &piiStage{r: pii.New(pii.Options{Kinds: kinds}), drop: o.Drop}, nil
}

type piiStage struct {
	r    *pii.Redactor
	drop int
}

func (s *piiStage) Name() string { return "pii" }

func (s *piiStage) Process(d *Document) Verdict {
	text, counts := s.r.Redact(d.Text)
	if len(counts) == 0 {
		return Verdict{}
	}
	v := Verdict{Counts: map[string]int{}}
	total := 0
	for k, n := range counts {
		v.Counts[string(k)] = n
		total += n
	}
	if s.drop > 0 && total >= s.drop {
		v.Drop, v.Reason, v.Detail = true, "too_much_pii", fmt.Sprintf("%d findings >= %d", total, s.drop)
		return v
	}
	v.Modified = text != d.Text
	v.Detail = describeCounts(v.Counts)
	d.Text = text
	return v
}

func describeCounts(c map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, c[k]))
	}
	return strings.Join(parts, ", ")
}

// QualityOptions configure the quality stage: a mapping from language
// code ("ko", "en", ..., "default") to the thresholds that override
// quality.DefaultRules for it. Documents use the rules of the language
// the langid stage gave them.
type QualityOptions struct{ Config quality.Config }

func defaultQuality() *QualityOptions { return &QualityOptions{quality.DefaultConfig()} }

// UnmarshalYAML reads the thresholds onto the defaults.
func (o *QualityOptions) UnmarshalYAML(n *yaml.Node) error { return o.Config.UnmarshalYAML(n) }

// MarshalYAML writes the thresholds per language.
func (o QualityOptions) MarshalYAML() (any, error) { return o.Config.Langs, nil }

func (o *QualityOptions) build(*Env) (any, error) {
	f, err := quality.New(o.Config)
	if err != nil {
		return nil, err
	}
	return &qualityStage{f}, nil
}

type qualityStage struct{ f *quality.Filter }

func (s *qualityStage) Name() string { return "quality" }

func (s *qualityStage) Process(d *Document) Verdict {
	r := s.f.Check(d.Text, d.Lang)
	if !r.Keep {
		return Verdict{Drop: true, Reason: r.Reason, Detail: r.Detail}
	}
	if r.Modified {
		d.Text = r.Text
		return Verdict{Modified: true, Detail: r.Detail}
	}
	return Verdict{}
}
