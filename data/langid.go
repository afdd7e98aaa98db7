package data

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pemistahl/lingua-go"
)

// LangIDOptions configure the langid stage, which labels each document
// with its language and a confidence in [0, 1] using lingua-go: n-gram
// models of up to five characters trained on real text for each language,
// plus rules for scripts that belong to one language (Hangul is Korean).
type LangIDOptions struct {
	// Languages the detector chooses among, as ISO 639-1 codes. A document
	// in a language outside the list is labelled with its nearest member,
	// usually with low confidence, so list what the corpus may hold.
	Languages []string `yaml:"languages"`
	// Keep lists the languages whose documents stay; empty keeps all.
	Keep []string `yaml:"keep"`
	// MinScore drops documents whose confidence is below it (0 keeps all).
	MinScore float64 `yaml:"min_score"`
	// MaxChars bounds the text the detector reads: the first MaxChars
	// characters decide (0: all). Detection cost grows with the text.
	MaxChars int `yaml:"max_chars"`
	// LowAccuracy uses trigrams only: several times faster and less
	// accurate on short texts.
	LowAccuracy bool `yaml:"low_accuracy"`
}

func defaultLangID() *LangIDOptions {
	return &LangIDOptions{
		Languages: []string{"ko", "en", "ja", "zh", "de", "fr", "es", "ru", "vi", "id", "pt", "it"},
		MaxChars:  1000,
	}
}

func (o *LangIDOptions) build(*Env) (any, error) {
	if len(o.Languages) < 2 {
		return nil, fieldErr("languages", o.Languages, "at least two ISO 639-1 codes")
	}
	codes := make([]lingua.IsoCode639_1, len(o.Languages))
	known := map[string]bool{}
	for i, s := range o.Languages {
		c := lingua.GetIsoCode639_1FromValue(s)
		if c == lingua.UnknownIsoCode639_1 || strings.ToLower(s) != s {
			return nil, fieldErr("languages", s, "a lower-case ISO 639-1 code lingua-go knows (ko, en, ja, zh, ...)")
		}
		codes[i] = c
		known[s] = true
	}
	for _, s := range o.Keep {
		if !known[s] {
			return nil, fieldErr("keep", s, "one of languages "+strings.Join(o.Languages, ", "))
		}
	}
	if o.MinScore < 0 || o.MinScore > 1 {
		return nil, fieldErr("min_score", o.MinScore, "a number in [0, 1]")
	}
	if o.MaxChars < 0 {
		return nil, fieldErr("max_chars", o.MaxChars, "0 or more")
	}
	b := lingua.NewLanguageDetectorBuilder().FromIsoCodes639_1(codes...)
	if o.LowAccuracy {
		b = b.WithLowAccuracyMode()
	}
	return &LangID{opt: *o, det: b.Build(), korean: known["ko"]}, nil
}

// LangID identifies the language of texts.
type LangID struct {
	opt    LangIDOptions
	det    lingua.LanguageDetector
	korean bool // ko is among the languages
}

// NewLangID returns a language identifier; zero-valued options take the
// stage's defaults.
func NewLangID(o LangIDOptions) (*LangID, error) {
	d := defaultLangID()
	if len(o.Languages) == 0 {
		o.Languages = d.Languages
	}
	if o.MaxChars == 0 {
		o.MaxChars = d.MaxChars
	}
	s, err := o.build(nil)
	if err != nil {
		return nil, fmt.Errorf("langid: %w", err)
	}
	return s.(*LangID), nil
}

// Name implements Stage.
func (l *LangID) Name() string { return "langid" }

// Detect returns the ISO 639-1 code of text's language and the detector's
// confidence, or "und" and 0 for text without letters.
func (l *LangID) Detect(text string) (string, float64) {
	if l.opt.MaxChars > 0 && len(text) > l.opt.MaxChars {
		// Cut at a rune boundary after MaxChars runes.
		n := 0
		for i := range text {
			if n == l.opt.MaxChars {
				text = text[:i]
				break
			}
			n++
		}
	}
	switch letters(text) {
	case noLetters:
		return "und", 0
	case allHangul:
		if l.korean {
			// lingua-go's own rule for a script of one language gives
			// exactly this; skipping the detector saves most of the time
			// on Korean corpora (TestHangulShortcut checks the two agree).
			return "ko", 1
		}
	}
	vals := l.det.ComputeLanguageConfidenceValues(text)
	if len(vals) == 0 || vals[0].Value() == 0 {
		return "und", 0
	}
	return strings.ToLower(vals[0].Language().IsoCode639_1().String()), vals[0].Value()
}

// Process implements Stage.
func (l *LangID) Process(d *Document) Verdict {
	d.Lang, d.LangScore = l.Detect(d.Text)
	v := Verdict{Counts: map[string]int{d.Lang: 1}}
	switch {
	case len(l.opt.Keep) > 0 && !slices.Contains(l.opt.Keep, d.Lang):
		v.Drop, v.Reason, v.Detail = true, "language", fmt.Sprintf("%s (%.2f) not in keep", d.Lang, d.LangScore)
	case d.LangScore < l.opt.MinScore:
		v.Drop, v.Reason, v.Detail = true, "low_score", fmt.Sprintf("%s %.2f < %.2f", d.Lang, d.LangScore, l.opt.MinScore)
	}
	return v
}

const (
	noLetters = iota
	allHangul
	mixed
)

// letters says whether s has letters and whether all are Hangul.
func letters(s string) int {
	kind := noLetters
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		if r < 0x80 {
			if 'a' <= r|0x20 && r|0x20 <= 'z' {
				return mixed
			}
			continue
		}
		if unicode.IsLetter(r) {
			if !unicode.Is(unicode.Hangul, r) {
				return mixed
			}
			kind = allHangul
		}
	}
	return kind
}
