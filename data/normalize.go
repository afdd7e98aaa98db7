package data

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// NormalizeOptions configure the normalize stage.
type NormalizeOptions struct {
	// Form is the Unicode normalisation form: "nfc" (default; composes
	// Hangul jamo sequences into syllables and keeps compatibility
	// characters such as full-width letters and ㅋ) or "nfkc" (also folds
	// compatibility characters, which turns ㅋㅋ into conjoining jamo).
	Form string `yaml:"form"`
	// Invisible removes format characters (zero-width space, byte order
	// mark, soft hyphen, bidirectional controls) except the zero-width
	// joiner and non-joiner that emoji and some scripts need.
	Invisible bool `yaml:"invisible"`
	// Spaces turns every Unicode space into " ", collapses runs of them,
	// trims each line and allows at most one blank line in a row.
	Spaces bool `yaml:"spaces"`
	// MinChars drops documents shorter than this many characters after
	// normalisation (0 keeps everything but the empty document).
	MinChars int `yaml:"min_chars"`
}

func defaultNormalize() *NormalizeOptions {
	return &NormalizeOptions{Form: "nfc", Invisible: true, Spaces: true}
}

func (o *NormalizeOptions) build(*Env) (any, error) {
	var f norm.Form
	switch o.Form {
	case "nfc", "":
		f = norm.NFC
	case "nfkc":
		f = norm.NFKC
	default:
		return nil, fieldErr("form", o.Form, `"nfc" or "nfkc"`)
	}
	if o.MinChars < 0 {
		return nil, fieldErr("min_chars", o.MinChars, "0 or more")
	}
	return &normalizer{opt: *o, form: f}, nil
}

var normNFC = norm.NFC

type normalizer struct {
	opt  NormalizeOptions
	form norm.Form
}

func (n *normalizer) Name() string { return "normalize" }

func (n *normalizer) Process(d *Document) Verdict {
	t := Normalize(d.Text, n.form, n.opt.Invisible, n.opt.Spaces)
	v := Verdict{Modified: t != d.Text}
	d.Text = t
	if t == "" {
		return Verdict{Drop: true, Reason: "empty", Detail: "nothing left after normalisation"}
	}
	if c := utf8.RuneCountInString(t); c < n.opt.MinChars {
		return Verdict{Drop: true, Reason: "min_chars", Detail: itoa(c) + " characters < " + itoa(n.opt.MinChars)}
	}
	return v
}

// Normalize applies Unicode normalisation form f and then, as asked,
// removes invisible characters and tidies white space. Line breaks become
// "\n" and other control characters become spaces. Invalid UTF-8 bytes
// become U+FFFD.
func Normalize(text string, f norm.Form, invisible, spaces bool) string {
	if !f.IsNormalString(text) {
		text = f.String(text)
	}
	var b strings.Builder
	b.Grow(len(text))
	space := false // a space waits for the next visible character of the line
	breaks := 0    // line breaks wait too, so that trailing space and extra blank lines go
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		switch {
		case r == '\r':
			if i < len(text) && text[i] == '\n' {
				continue // the \n that follows is the break
			}
			r = '\n'
		case r == '\n' || r == '\t':
		case r < 0x20 || (r >= 0x7f && r < 0xa0):
			r = ' ' // other controls separate words; never keep them
		case invisible && isInvisible(r):
			continue
		}
		if !spaces {
			b.WriteRune(r)
			continue
		}
		switch {
		case r == '\n':
			space = false
			breaks++
			continue
		case r == '\t' || unicode.Is(unicode.Zs, r):
			space = true
			continue
		}
		if b.Len() > 0 {
			switch {
			case breaks > 0:
				b.WriteString("\n\n"[:min(breaks, 2)])
			case space:
				b.WriteByte(' ')
			}
		}
		breaks, space = 0, false
		b.WriteRune(r)
	}
	return b.String()
}

// isInvisible reports format characters that carry no text: zero-width
// space, word joiner, byte order mark, soft hyphen, Mongolian vowel
// separator, bidirectional controls, invisible operators. The zero-width
// joiner and non-joiner stay: emoji sequences and some scripts need them.
func isInvisible(r rune) bool {
	if r == 0x200c || r == 0x200d {
		return false
	}
	return unicode.Is(unicode.Cf, r)
}
