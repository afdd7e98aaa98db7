package quality

import (
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Result is the verdict on one document.
type Result struct {
	// Keep is false when a rule drops the document.
	Keep bool
	// Reason is the stable id of the rule that dropped the document (one of
	// Reasons()); "" when kept.
	Reason string
	// Text is the document as kept: the input unless C4 removed or edited
	// lines. A dropped document's Text is the input.
	Text string
	// Modified reports that Text differs from the input (kept documents
	// only).
	Modified bool
	// Detail says why in words, e.g. "12 words < 50" for a drop or
	// "c4 removed 3 of 10 lines (no_terminal_punct 2, policy 1)" for an
	// edit; "" for a document kept unchanged.
	Detail string
}

// The reasons Check returns.
const (
	reasonEmpty = "empty"

	reasonMinWords        = "gopher.min_words"
	reasonMaxWords        = "gopher.max_words"
	reasonMinMeanWordLen  = "gopher.min_mean_word_len"
	reasonMaxMeanWordLen  = "gopher.max_mean_word_len"
	reasonHashRatio       = "gopher.hash_ratio"
	reasonEllipsisRatio   = "gopher.ellipsis_ratio"
	reasonBulletLines     = "gopher.bullet_lines"
	reasonEllipsisLines   = "gopher.ellipsis_lines"
	reasonAlphaWords      = "gopher.alpha_words"
	reasonMinStopWords    = "gopher.min_stop_words"
	reasonDupLineFrac     = "gopher_rep.dup_line_frac"
	reasonDupLineCharFrac = "gopher_rep.dup_line_char_frac"
	reasonDupParaFrac     = "gopher_rep.dup_para_frac"
	reasonDupParaCharFrac = "gopher_rep.dup_para_char_frac"

	reasonLoremIpsum   = "c4.lorem_ipsum"
	reasonCurlyBracket = "c4.curly_bracket"
	reasonC4Empty      = "c4.empty"
	reasonMinSentences = "c4.min_sentences"

	reasonLinePunct  = "fineweb.line_punct_ratio"
	reasonShortLines = "fineweb.short_line_ratio"
	reasonCharDup    = "fineweb.char_dup_ratio"
	reasonListRatio  = "fineweb.list_ratio"

	reasonHangulRatio  = "korean.hangul_ratio"
	reasonJamoRatio    = "korean.jamo_ratio"
	reasonCharRunRatio = "korean.char_run_ratio"
	reasonMinParticles = "korean.min_particles"
)

// ngramReason returns "gopher_rep.top_Ngram_frac" for n <= 4 and
// "gopher_rep.dup_Ngram_frac" above.
func ngramReason(n int) string { return ngramReasons[n] }

var ngramReasons = func() [11]string {
	var r [11]string
	for n := 2; n <= 10; n++ {
		kind := "dup"
		if n <= 4 {
			kind = "top"
		}
		r[n] = fmt.Sprintf("gopher_rep.%s_%dgram_frac", kind, n)
	}
	return r
}()

// Reasons returns every Reason Check can return, sorted. By family:
//
//	empty                   the text is blank (always checked)
//	gopher.*                min_words, max_words, min_mean_word_len, max_mean_word_len,
//	                        hash_ratio, ellipsis_ratio, bullet_lines, ellipsis_lines,
//	                        alpha_words, min_stop_words
//	gopher_rep.*            dup_para_frac, dup_para_char_frac, dup_line_frac,
//	                        dup_line_char_frac, top_{2,3,4}gram_frac, dup_{5..10}gram_frac
//	c4.*                    lorem_ipsum, curly_bracket, empty (every line removed),
//	                        min_sentences
//	fineweb.*               line_punct_ratio, short_line_ratio, char_dup_ratio, list_ratio
//	korean.*                hangul_ratio, jamo_ratio, char_run_ratio, min_particles
//
// The field of Rules that governs each is named in its doc comment.
func Reasons() []string {
	r := []string{
		reasonEmpty,
		reasonMinWords, reasonMaxWords, reasonMinMeanWordLen, reasonMaxMeanWordLen, reasonHashRatio,
		reasonEllipsisRatio, reasonBulletLines, reasonEllipsisLines, reasonAlphaWords, reasonMinStopWords,
		reasonDupLineFrac, reasonDupLineCharFrac, reasonDupParaFrac, reasonDupParaCharFrac,
		reasonLoremIpsum, reasonCurlyBracket, reasonC4Empty, reasonMinSentences,
		reasonLinePunct, reasonShortLines, reasonCharDup, reasonListRatio,
		reasonHangulRatio, reasonJamoRatio, reasonCharRunRatio, reasonMinParticles,
	}
	for n := 2; n <= 10; n++ {
		r = append(r, ngramReason(n))
	}
	slices.Sort(r)
	return r
}

// Filter applies a Config. It is immutable after New and safe for
// concurrent use.
type Filter struct {
	langs map[string]*compiled
	def   *compiled
	seed  maphash.Seed
}

// compiled is one language's Rules with their lists turned into lookups.
type compiled struct {
	Rules
	stop     map[string]bool // lower-cased stop words
	suffixes map[string]bool // Korean particles and endings
	sufMax   int             // runes in the longest suffix
	js       []string        // lower-cased (ASCII)
	policy   []string        // lower-cased (ASCII)
}

// New checks c (see Config.Validate) and returns a Filter for it.
func New(c Config) (*Filter, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	f := &Filter{langs: map[string]*compiled{}, seed: maphash.MakeSeed()}
	for lang, r := range c.Langs {
		f.langs[normLang(lang)] = compile(r)
	}
	f.def = f.langs["default"]
	if f.def == nil {
		f.def = compile(DefaultRules(""))
	}
	return f, nil
}

func compile(r Rules) *compiled {
	c := &compiled{Rules: r, stop: map[string]bool{}, suffixes: map[string]bool{}}
	for _, w := range r.Gopher.StopWords {
		c.stop[strings.ToLower(strings.TrimSpace(w))] = true
	}
	for _, l := range [][]string{r.Korean.Particles, r.Korean.Endings} {
		for _, s := range l {
			s = strings.TrimSpace(s)
			c.suffixes[s] = true
			c.sufMax = max(c.sufMax, utf8.RuneCountInString(s))
		}
	}
	for _, s := range r.C4.JavascriptWords {
		c.js = append(c.js, lowerASCII(s))
	}
	for _, s := range r.C4.PolicyPhrases {
		c.policy = append(c.policy, lowerASCII(s))
	}
	return c
}

// rules returns the compiled rules for a language label.
func (f *Filter) rules(lang string) *compiled {
	if c, ok := f.langs[normLang(lang)]; ok {
		return c
	}
	return f.def
}

// Check judges one document of language lang (an ISO 639-1 code from a
// language identifier; "", "und" and codes without rules of their own use
// the "default" rules; "ko-KR", "kor", "__label__ko" are read as "ko").
//
// A blank document is dropped as "empty". Otherwise the families run in
// this order, each on the input text, and the first failing rule gives the
// Reason: Gopher quality, Korean, Gopher repetition, C4 (which may remove
// lines), FineWeb (on the lines C4 left, see FineWebRules).
func (f *Filter) Check(text, lang string) Result {
	drop := func(reason, detail string) Result {
		return Result{Reason: reason, Text: text, Detail: detail}
	}
	if strings.TrimFunc(text, isSpace) == "" {
		return drop(reasonEmpty, "no text")
	}
	c := f.rules(lang)
	runMin := 0
	if c.Korean.Enabled && c.Korean.MaxRunCharRatio > 0 {
		runMin = c.Korean.RunMinLen
	}
	st := analyze(text, runMin)
	if c.Gopher.Enabled {
		if reason, detail := c.gopher(text, st); reason != "" {
			return drop(reason, detail)
		}
	}
	if c.Korean.Enabled {
		if reason, detail := c.korean(text, st); reason != "" {
			return drop(reason, detail)
		}
	}
	if c.GopherRep.Enabled {
		if reason, detail := c.repetition(text, st, f.seed); reason != "" {
			return drop(reason, detail)
		}
	}
	out := Result{Keep: true, Text: text}
	var view []viewLine
	if c.C4.Enabled {
		r := c.c4(text, st)
		if r.reason != "" {
			return drop(r.reason, r.detail)
		}
		view = r.view
		if r.modified {
			out.Text, out.Modified, out.Detail = r.text, true, r.detail
		}
	} else {
		view = allLines(text, st)
	}
	if c.FineWeb.Enabled {
		if reason, detail := c.fineweb(view); reason != "" {
			return drop(reason, detail)
		}
	}
	return out
}

func (c *compiled) gopher(text string, st *stats) (string, string) {
	g := &c.Gopher
	if g.MinWords > 0 && st.words < g.MinWords {
		return reasonMinWords, fmt.Sprintf("%d words < %d", st.words, g.MinWords)
	}
	if g.MaxWords > 0 && st.words > g.MaxWords {
		return reasonMaxWords, fmt.Sprintf("%d words > %d", st.words, g.MaxWords)
	}
	mean := 0.0
	if st.words > 0 {
		mean = float64(st.wordRunes) / float64(st.words)
	}
	if g.MinMeanWordLen > 0 && mean < g.MinMeanWordLen {
		return reasonMinMeanWordLen, fmt.Sprintf("mean word length %.2f < %g", mean, g.MinMeanWordLen)
	}
	if g.MaxMeanWordLen > 0 && mean > g.MaxMeanWordLen {
		return reasonMaxMeanWordLen, fmt.Sprintf("mean word length %.2f > %g", mean, g.MaxMeanWordLen)
	}
	ntok := float64(len(st.toks))
	if g.MaxSymbolWordRatio > 0 {
		if r := float64(st.hashes) / ntok; r > g.MaxSymbolWordRatio {
			return reasonHashRatio, fmt.Sprintf(`"#" per word %.3f > %g`, r, g.MaxSymbolWordRatio)
		}
		if r := float64(st.ellipses) / ntok; r > g.MaxSymbolWordRatio {
			return reasonEllipsisRatio, fmt.Sprintf("ellipses per word %.3f > %g", r, g.MaxSymbolWordRatio)
		}
	}
	if g.MaxBulletLines > 0 || g.MaxEllipsisLines > 0 {
		lines, bullets, ellipses := 0, 0, 0
		for i := range st.lines {
			l := &st.lines[i]
			if l.blank() {
				continue
			}
			lines++
			s := text[l.start:l.end]
			if isBulletLine(s) {
				bullets++
			}
			if endsWithEllipsis(s) {
				ellipses++
			}
		}
		if r := float64(bullets) / float64(lines); g.MaxBulletLines > 0 && r > g.MaxBulletLines {
			return reasonBulletLines, fmt.Sprintf("%d of %d lines start with a bullet (%.2f > %g)", bullets, lines, r, g.MaxBulletLines)
		}
		if r := float64(ellipses) / float64(lines); g.MaxEllipsisLines > 0 && r > g.MaxEllipsisLines {
			return reasonEllipsisLines, fmt.Sprintf("%d of %d lines end with an ellipsis (%.2f > %g)", ellipses, lines, r, g.MaxEllipsisLines)
		}
	}
	if g.MinAlphaWords > 0 {
		alpha := 0
		for i := range st.toks {
			if st.toks[i].alpha {
				alpha++
			}
		}
		if r := float64(alpha) / ntok; r < g.MinAlphaWords {
			return reasonAlphaWords, fmt.Sprintf("%.2f of words have a letter < %g", r, g.MinAlphaWords)
		}
	}
	if g.MinStopWords > 0 && len(c.stop) > 0 {
		n := 0
		for i := range st.toks {
			if t := &st.toks[i]; t.isWord() && c.isStopWord(t.core(text)) {
				if n++; n >= g.MinStopWords {
					break
				}
			}
		}
		if n < g.MinStopWords {
			return reasonMinStopWords, fmt.Sprintf("%d stop words < %d", n, g.MinStopWords)
		}
	}
	return "", ""
}

func (c *compiled) isStopWord(w string) bool {
	for i := 0; i < len(w); i++ {
		if b := w[i]; b >= utf8.RuneSelf || 'A' <= b && b <= 'Z' {
			return c.stopWordSlow(w)
		}
	}
	return c.stop[w]
}

func (c *compiled) stopWordSlow(w string) bool {
	if len(w) > 64 {
		return false
	}
	var buf [64]byte
	b := buf[:0]
	for _, r := range w {
		b = utf8.AppendRune(b, unicode.ToLower(r))
	}
	return c.stop[string(b)]
}

func (c *compiled) korean(text string, st *stats) (string, string) {
	k := &c.Korean
	if k.MinHangulRatio > 0 {
		r := 0.0
		if st.letters > 0 {
			r = float64(st.hangul) / float64(st.letters)
		}
		if r < k.MinHangulRatio {
			return reasonHangulRatio, fmt.Sprintf("%.2f of letters are Hangul < %g", r, k.MinHangulRatio)
		}
	}
	if r := float64(st.jamo) / float64(st.nonSpace); k.MaxJamoRatio > 0 && r > k.MaxJamoRatio {
		return reasonJamoRatio, fmt.Sprintf("%.2f of characters are lone jamo > %g", r, k.MaxJamoRatio)
	}
	if r := float64(st.runChars) / float64(st.nonSpace); k.RunMinLen > 0 && k.MaxRunCharRatio > 0 && r > k.MaxRunCharRatio {
		return reasonCharRunRatio, fmt.Sprintf("%.2f of characters in runs of %d+ > %g", r, k.RunMinLen, k.MaxRunCharRatio)
	}
	if k.MinParticleWords > 0 {
		n := 0
		for i := range st.toks {
			if t := &st.toks[i]; t.isWord() && c.endsInParticle(t.core(text), int(t.runes)) {
				if n++; n >= k.MinParticleWords {
					break
				}
			}
		}
		if n < k.MinParticleWords {
			return reasonMinParticles, fmt.Sprintf("%d eojeols with a particle or ending < %d", n, k.MinParticleWords)
		}
	}
	return "", ""
}

// endsInParticle reports whether a word of the given length in runes ends in
// one of the Korean suffixes and is longer than it.
func (c *compiled) endsInParticle(w string, runes int) bool {
	pos := len(w)
	for k := 1; k <= c.sufMax && k < runes; k++ {
		_, n := utf8.DecodeLastRuneInString(w[:pos])
		pos -= n
		if c.suffixes[w[pos:]] {
			return true
		}
	}
	return false
}
