package quality

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// Rules are the thresholds of every rule family for one language.
//
// Each family has an Enabled switch. Inside an enabled family a numeric
// threshold of 0 turns that one rule off (this is said again on each field);
// lists that are empty turn their rule off. Ratios and fractions lie in
// [0, 1]. Validate reports values outside these ranges.
type Rules struct {
	// Gopher holds the document-level heuristics of Gopher (Rae et al.
	// 2021, MassiveText appendix A), as datatrove's GopherQualityFilter.
	Gopher GopherRules `yaml:"gopher"`
	// GopherRep holds Gopher's repetition rules, as datatrove's
	// GopherRepetitionFilter.
	GopherRep RepetitionRules `yaml:"gopher_rep"`
	// C4 holds the line and page rules of C4 (Raffel et al. 2020), as
	// datatrove's C4QualityFilter. It is the only family that edits text.
	C4 C4Rules `yaml:"c4"`
	// FineWeb holds FineWeb's own line statistics (Penedo et al. 2024), as
	// datatrove's FineWebQualityFilter.
	FineWeb FineWebRules `yaml:"fineweb"`
	// Korean holds the Korean-specific rules; only DefaultRules("ko")
	// enables it.
	Korean KoreanRules `yaml:"korean"`
}

// GopherRules are Gopher's quality heuristics. Words are whitespace-separated
// tokens (for Korean: eojeols, 어절) with leading and trailing punctuation
// stripped; a token with no letter or digit is a symbol, not a word. Lengths
// are counted in runes.
type GopherRules struct {
	// Enabled turns the family on.
	Enabled bool `yaml:"enabled"`
	// MinWords: fewer words drops the document ("gopher.min_words"); 0 is
	// off. Gopher: 50. Korean: 30, because an eojeol is a word plus its
	// particles or endings: a Korean text has about 0.6-0.7 eojeols per
	// English word of the same content, and 50 English words are about 30
	// eojeols.
	MinWords int `yaml:"min_words"`
	// MaxWords: more words drops the document ("gopher.max_words"); 0 is
	// off. Gopher: 100,000, kept for Korean (a bound against dumps, not a
	// content measure).
	MaxWords int `yaml:"max_words"`
	// MinMeanWordLen: a lower mean word length in runes drops the document
	// ("gopher.min_mean_word_len"); 0 is off. Gopher: 3. Korean: 1.5, since
	// a Hangul syllable is one rune that carries what two or three Latin
	// letters do (mean eojeol length in running Korean text is about 3-4).
	MinMeanWordLen float64 `yaml:"min_mean_word_len"`
	// MaxMeanWordLen: a higher mean word length drops the document
	// ("gopher.max_mean_word_len"); 0 is off. Gopher: 10. Korean: 12,
	// which catches text written without spaces (띄어쓰기 없이) while an
	// eojeol with several particles and endings stays well below it.
	MaxMeanWordLen float64 `yaml:"max_mean_word_len"`
	// MaxSymbolWordRatio bounds both the number of "#" and the number of
	// ellipses ("..." counted as in Python's str.count, and "…") per
	// whitespace token ("gopher.hash_ratio", "gopher.ellipsis_ratio"); 0 is
	// off. Gopher: 0.1, for all languages.
	MaxSymbolWordRatio float64 `yaml:"max_symbol_word_ratio"`
	// MaxBulletLines: a larger fraction of non-blank lines that start with
	// a bullet (•, -, *, ·, ㆍ, ※, ▪, ●, ■, ◆, ▶, ✓ and the like) drops the
	// document ("gopher.bullet_lines"); 0 is off. Gopher: 0.9.
	MaxBulletLines float64 `yaml:"max_bullet_lines"`
	// MaxEllipsisLines: a larger fraction of non-blank lines that end with
	// "..." or "…" drops the document ("gopher.ellipsis_lines"); 0 is off.
	// Gopher: 0.3.
	MaxEllipsisLines float64 `yaml:"max_ellipsis_lines"`
	// MinAlphaWords: a smaller fraction of whitespace tokens that contain
	// a letter drops the document ("gopher.alpha_words"); 0 is off. Gopher:
	// 0.8. Hangul counts as letters, so the value holds for Korean.
	MinAlphaWords float64 `yaml:"min_alpha_words"`
	// StopWords are compared with each word, lower-cased.
	StopWords []string `yaml:"stop_words"`
	// MinStopWords: fewer words from StopWords drops the document
	// ("gopher.min_stop_words"); 0 or an empty StopWords is off. Gopher: 2
	// with the, be, to, of, and, that, have, with (English only). Korean
	// has no such short closed list of free-standing words; its stand-in is
	// KoreanRules.MinParticleWords.
	MinStopWords int `yaml:"min_stop_words"`
}

// RepetitionRules are Gopher's repetition rules. Lines are the non-blank
// lines with surrounding white space trimmed; paragraphs are runs of lines
// separated by blank lines. Character fractions of lines and paragraphs are
// over all runes of the document. N-grams are over words (as in
// GopherRules), their characters are the runes of their words, and their
// fractions are over the runes of all words. Every field is a maximum and 0
// turns its rule off. The values are Gopher's for every language: they are
// fractions of characters, and an eojeol n-gram spans more text than an
// English n-gram, so repeating one by chance is, if anything, rarer.
type RepetitionRules struct {
	// Enabled turns the family on.
	Enabled bool `yaml:"enabled"`
	// MaxDupLineFrac bounds the fraction of lines that repeat an earlier
	// line ("gopher_rep.dup_line_frac"). Gopher: 0.3.
	MaxDupLineFrac float64 `yaml:"max_dup_line_frac"`
	// MaxDupLineCharFrac bounds the characters in lines that repeat an
	// earlier line ("gopher_rep.dup_line_char_frac"). Gopher: 0.2.
	MaxDupLineCharFrac float64 `yaml:"max_dup_line_char_frac"`
	// MaxDupParaFrac bounds the fraction of paragraphs that repeat an
	// earlier paragraph ("gopher_rep.dup_para_frac"). Gopher: 0.3.
	MaxDupParaFrac float64 `yaml:"max_dup_para_frac"`
	// MaxDupParaCharFrac bounds the characters in paragraphs that repeat
	// an earlier paragraph ("gopher_rep.dup_para_char_frac"). Gopher: 0.2.
	MaxDupParaCharFrac float64 `yaml:"max_dup_para_char_frac"`
	// MaxTop2GramFrac bounds the characters covered by the occurrences of
	// the most frequent word 2-gram that occurs more than once
	// ("gopher_rep.top_2gram_frac"). Gopher: 0.20.
	MaxTop2GramFrac float64 `yaml:"max_top_2gram_frac"`
	// MaxTop3GramFrac: as MaxTop2GramFrac for 3-grams
	// ("gopher_rep.top_3gram_frac"). Gopher: 0.18.
	MaxTop3GramFrac float64 `yaml:"max_top_3gram_frac"`
	// MaxTop4GramFrac: as MaxTop2GramFrac for 4-grams
	// ("gopher_rep.top_4gram_frac"). Gopher: 0.16.
	MaxTop4GramFrac float64 `yaml:"max_top_4gram_frac"`
	// MaxDup5GramFrac bounds the characters of words covered by any
	// 5-gram that occurs more than once, every occurrence included and
	// overlaps counted once ("gopher_rep.dup_5gram_frac"). Gopher: 0.15.
	MaxDup5GramFrac float64 `yaml:"max_dup_5gram_frac"`
	// MaxDup6GramFrac: as MaxDup5GramFrac for 6-grams
	// ("gopher_rep.dup_6gram_frac"). Gopher: 0.14.
	MaxDup6GramFrac float64 `yaml:"max_dup_6gram_frac"`
	// MaxDup7GramFrac: for 7-grams ("gopher_rep.dup_7gram_frac").
	// Gopher: 0.13.
	MaxDup7GramFrac float64 `yaml:"max_dup_7gram_frac"`
	// MaxDup8GramFrac: for 8-grams ("gopher_rep.dup_8gram_frac").
	// Gopher: 0.12.
	MaxDup8GramFrac float64 `yaml:"max_dup_8gram_frac"`
	// MaxDup9GramFrac: for 9-grams ("gopher_rep.dup_9gram_frac").
	// Gopher: 0.11.
	MaxDup9GramFrac float64 `yaml:"max_dup_9gram_frac"`
	// MaxDup10GramFrac: for 10-grams ("gopher_rep.dup_10gram_frac").
	// Gopher: 0.10.
	MaxDup10GramFrac float64 `yaml:"max_dup_10gram_frac"`
}

// C4Rules are C4's cleaning rules. Line rules remove lines (the document is
// kept and Result.Modified is set); page rules drop the document. Lines are
// judged with surrounding white space trimmed, and words are whitespace
// tokens. Blank lines are never removed, only collapsed when removal leaves
// several in a row; when lines are removed, the kept ones are written
// trimmed. A document that loses every non-blank line is dropped as
// "c4.empty".
type C4Rules struct {
	// Enabled turns the family on.
	Enabled bool `yaml:"enabled"`
	// TerminalPunct removes lines that do not end in terminal punctuation
	// (C4: on). A line is terminated when its last rune is in
	// TerminalChars, or when, past closing quotes and brackets, it ends in
	// one of SentenceEndings; a line ending in "..." or "…" is not
	// terminated unless EllipsisTerminates.
	TerminalPunct bool `yaml:"terminal_punct"`
	// TerminalChars are the terminal punctuation runes. C4: . ? ! " '.
	// Korean adds … 。 ” ’ (ellipsis and full-width marks used in Korean
	// text).
	TerminalChars string `yaml:"terminal_chars"`
	// EllipsisTerminates makes lines ending in "..." or "…" terminated.
	// C4: false. Korean: true, since Korean prose (and dialogue in it)
	// routinely closes a sentence with an ellipsis.
	EllipsisTerminates bool `yaml:"ellipsis_terminates"`
	// SentenceEndings are word endings that terminate a line without
	// punctuation. Korean: 다 요 죠 까 니다 — Korean sentences end in a
	// verbal ending, and informal and list-like text often omits the
	// period after it. English: none.
	SentenceEndings []string `yaml:"sentence_endings"`
	// MinWordsPerLine removes lines with fewer whitespace tokens; 0 is off.
	// C4: 3. Korean: 2, since a two-eojeol line ("날씨가 좋다.") is already
	// a sentence.
	MinWordsPerLine int `yaml:"min_words_per_line"`
	// MaxWordLen removes lines with a whitespace token longer than this
	// many runes; 0 is off. datatrove: 1000.
	MaxWordLen int `yaml:"max_word_len"`
	// RemoveCitations deletes "[1]", "[]", "[edit]", "[citation needed]",
	// "[편집]", "[원본 편집]" and "[출처 필요]" from lines before they are
	// judged (C4: on).
	RemoveCitations bool `yaml:"remove_citations"`
	// JavascriptWords: lines containing any of these (ASCII case folded)
	// are removed; empty is off. C4: "javascript". Korean adds
	// "자바스크립트" ("자바스크립트를 활성화하세요").
	JavascriptWords []string `yaml:"javascript_words"`
	// PolicyPhrases: lines containing any of these (ASCII case folded) are
	// removed; empty is off. C4: "terms of use", "privacy policy",
	// "cookie policy", "uses cookies", "use of cookies", "use cookies".
	// Korean adds 개인정보처리방침, 개인정보 처리방침, 개인정보취급방침,
	// 이용약관, 쿠키 정책, 쿠키정책, 쿠키를 사용, 쿠키 사용, and the news
	// footers 무단전재, 무단 전재, 재배포 금지. Bare 쿠키 is not used: it is
	// also the biscuit.
	PolicyPhrases []string `yaml:"policy_phrases"`
	// LoremIpsum drops documents containing "lorem ipsum" anywhere, case
	// folded ("c4.lorem_ipsum"). C4: on.
	LoremIpsum bool `yaml:"lorem_ipsum"`
	// CurlyBracket drops documents containing "{" anywhere
	// ("c4.curly_bracket"). C4: on, kept for English. Off for Korean and
	// the generic default: it is a blunt code detector that also removes
	// mathematics, templates and programming tutorials, and Korean web
	// text is scarce enough (about 1% of Common Crawl) that losing those
	// costs more than the code fragments it would catch.
	CurlyBracket bool `yaml:"curly_bracket"`
	// MinSentences drops documents whose kept lines hold fewer sentences
	// ("c4.min_sentences"); 0 is off. C4: 5, for all languages. Sentences
	// end at runs of . ! ? … 。 (with closing quotes) followed by white
	// space or the end of the line, except after single letters and a few
	// English abbreviations; text after the last end is one more sentence.
	MinSentences int `yaml:"min_sentences"`
}

// FineWebRules are FineWeb's line statistics. They are computed on the lines
// C4 keeps before its terminal-punctuation test (FineWeb ran C4 with that
// test off), or on all non-blank lines when C4 is disabled, so enabling both
// families reproduces each reference.
type FineWebRules struct {
	// Enabled turns the family on.
	Enabled bool `yaml:"enabled"`
	// MinLinePunctRatio: a smaller fraction of lines ending in Unicode
	// terminal punctuation (or, past closing quotes and brackets, in one of
	// SentenceEndings) drops the document ("fineweb.line_punct_ratio"); 0
	// is off. FineWeb: 0.12.
	MinLinePunctRatio float64 `yaml:"min_line_punct_ratio"`
	// LinePunctExcludeZero spares documents in which no line ends in
	// punctuation from the line-punctuation rule. FineWeb: false.
	LinePunctExcludeZero bool `yaml:"line_punct_exclude_zero"`
	// SentenceEndings count as line-final punctuation (see
	// C4Rules.SentenceEndings). Korean: 다 요 죠 까 니다.
	SentenceEndings []string `yaml:"sentence_endings"`
	// MaxShortLineRatio: a larger fraction of lines of at most
	// ShortLineChars runes drops the document ("fineweb.short_line_ratio");
	// 0 is off. FineWeb: 0.67.
	MaxShortLineRatio float64 `yaml:"max_short_line_ratio"`
	// ShortLineChars is the length, in runes, of a short line. FineWeb:
	// 30. Korean: 15, since Korean text needs about half as many
	// characters as English for the same content.
	ShortLineChars int `yaml:"short_line_chars"`
	// MaxCharDupRatio: a larger fraction of runes in lines that repeat an
	// earlier line drops the document ("fineweb.char_dup_ratio"); 0 is off.
	// FineWeb: 0.01.
	MaxCharDupRatio float64 `yaml:"max_char_dup_ratio"`
	// MaxNewlineWordRatio is FineWeb's list ratio: line breaks between
	// non-blank lines per whitespace token. More drops the document as a
	// list of short items ("fineweb.list_ratio"); 0 is off. FineWeb: 0.3
	// (a line of fewer than about 3.3 words on average). Korean: 0.5, since
	// a Korean line has about 0.6 times as many eojeols as its English
	// counterpart has words.
	MaxNewlineWordRatio float64 `yaml:"max_newline_word_ratio"`
}

// KoreanRules are the Korean-specific rules. Characters are runes that are
// not white space.
type KoreanRules struct {
	// Enabled turns the family on (DefaultRules("ko") only).
	Enabled bool `yaml:"enabled"`
	// MinHangulRatio: a smaller fraction of letters (unicode.IsLetter) that
	// are Hangul (syllables and jamo) drops the document
	// ("korean.hangul_ratio"); 0 is off. Default 0.5: a document labelled
	// Korean that is mostly Latin or Hanja letters is a mislabelled or
	// code-heavy page.
	MinHangulRatio float64 `yaml:"min_hangul_ratio"`
	// Particles are postpositions (조사) that end an eojeol: 은 는 이 가 을
	// 를 에 에서 의 로 으로 와 과 도 만 까지 부터 에게 한테 께.
	Particles []string `yaml:"particles"`
	// Endings are verbal endings (어미) that end an eojeol: 다 요 니다 습니다
	// 어요 아요 죠 네 고 며 면 서.
	Endings []string `yaml:"endings"`
	// MinParticleWords: fewer eojeols ending in one of Particles or
	// Endings (and longer than it) drops the document
	// ("korean.min_particles"); 0 is off. Default 2, as Gopher's stop
	// words: particles and endings are the Korean function words, and
	// text without them is a list of nouns (menus, tags, keywords).
	MinParticleWords int `yaml:"min_particle_words"`
	// MaxJamoRatio: a larger fraction of characters that are compatibility
	// or half-width jamo (ㅋ ㅎ ㅠ ...) drops the document
	// ("korean.jamo_ratio"); 0 is off. Default 0.3. Conjoining jamo
	// (decomposed, NFD text) are not counted.
	MaxJamoRatio float64 `yaml:"max_jamo_ratio"`
	// RunMinLen is the length from which a run of one repeated character
	// (not a digit) counts towards MaxRunCharRatio: "ㅋㅋㅋㅋ", "!!!!",
	// "하하하하". Default 4. Must be at least 2 when set.
	RunMinLen int `yaml:"run_min_len"`
	// MaxRunCharRatio: a larger fraction of characters in such runs drops
	// the document ("korean.char_run_ratio"); 0 (or RunMinLen 0) is off.
	// Default 0.1.
	MaxRunCharRatio float64 `yaml:"max_run_char_ratio"`
}

// English stop words of Gopher (Rae et al. 2021, appendix A.1.1).
var gopherStopWords = []string{"the", "be", "to", "of", "and", "that", "have", "with"}

var c4PolicyPhrases = []string{
	"terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies",
}

var koPolicyPhrases = []string{
	"개인정보처리방침", "개인정보 처리방침", "개인정보취급방침", "이용약관",
	"쿠키 정책", "쿠키정책", "쿠키를 사용", "쿠키 사용",
	"무단전재", "무단 전재", "재배포 금지",
}

var koSentenceEndings = []string{"다", "요", "죠", "까", "니다"}

var koParticles = []string{
	"은", "는", "이", "가", "을", "를", "에", "에서", "의", "로", "으로",
	"와", "과", "도", "만", "까지", "부터", "에게", "한테", "께",
}

var koEndings = []string{"다", "요", "니다", "습니다", "어요", "아요", "죠", "네", "고", "며", "면", "서"}

// DefaultRules returns the default thresholds for a language: "ko" for
// Korean, "en" for English (the reference values of datatrove's Gopher, C4
// and FineWeb filters), anything else for the generic defaults, which are
// the English ones without the stop-word rule and with C4's curly-bracket
// rule off. The code is normalised as Check does ("ko-KR", "kor" → "ko").
//
// The generic defaults assume words separated by spaces. For scripts written
// without them (Chinese, Japanese, Thai) the word-based rules misfire and
// need rules of their own.
func DefaultRules(lang string) Rules {
	r := Rules{
		Gopher: GopherRules{
			Enabled:            true,
			MinWords:           50,
			MaxWords:           100000,
			MinMeanWordLen:     3,
			MaxMeanWordLen:     10,
			MaxSymbolWordRatio: 0.1,
			MaxBulletLines:     0.9,
			MaxEllipsisLines:   0.3,
			MinAlphaWords:      0.8,
		},
		GopherRep: RepetitionRules{
			Enabled:            true,
			MaxDupLineFrac:     0.3,
			MaxDupLineCharFrac: 0.2,
			MaxDupParaFrac:     0.3,
			MaxDupParaCharFrac: 0.2,
			MaxTop2GramFrac:    0.20,
			MaxTop3GramFrac:    0.18,
			MaxTop4GramFrac:    0.16,
			MaxDup5GramFrac:    0.15,
			MaxDup6GramFrac:    0.14,
			MaxDup7GramFrac:    0.13,
			MaxDup8GramFrac:    0.12,
			MaxDup9GramFrac:    0.11,
			MaxDup10GramFrac:   0.10,
		},
		C4: C4Rules{
			Enabled:         true,
			TerminalPunct:   true,
			TerminalChars:   `.?!"'`,
			MinWordsPerLine: 3,
			MaxWordLen:      1000,
			RemoveCitations: true,
			JavascriptWords: []string{"javascript"},
			PolicyPhrases:   slices.Clone(c4PolicyPhrases),
			LoremIpsum:      true,
			MinSentences:    5,
		},
		FineWeb: FineWebRules{
			Enabled:             true,
			MinLinePunctRatio:   0.12,
			MaxShortLineRatio:   0.67,
			ShortLineChars:      30,
			MaxCharDupRatio:     0.01,
			MaxNewlineWordRatio: 0.3,
		},
	}
	switch normLang(lang) {
	case "en":
		r.Gopher.StopWords = slices.Clone(gopherStopWords)
		r.Gopher.MinStopWords = 2
		r.C4.CurlyBracket = true
	case "ko":
		r.Gopher.MinWords = 30
		r.Gopher.MinMeanWordLen = 1.5
		r.Gopher.MaxMeanWordLen = 12
		r.C4.TerminalChars = `.?!"'…。”’`
		r.C4.EllipsisTerminates = true
		r.C4.SentenceEndings = slices.Clone(koSentenceEndings)
		r.C4.MinWordsPerLine = 2
		r.C4.JavascriptWords = []string{"javascript", "자바스크립트"}
		r.C4.PolicyPhrases = append(slices.Clone(c4PolicyPhrases), koPolicyPhrases...)
		r.FineWeb.SentenceEndings = slices.Clone(koSentenceEndings)
		r.FineWeb.ShortLineChars = 15
		r.FineWeb.MaxNewlineWordRatio = 0.5
		r.Korean = KoreanRules{
			Enabled:          true,
			MinHangulRatio:   0.5,
			Particles:        slices.Clone(koParticles),
			Endings:          slices.Clone(koEndings),
			MinParticleWords: 2,
			MaxJamoRatio:     0.3,
			RunMinLen:        4,
			MaxRunCharRatio:  0.1,
		}
	default:
		r.C4.TerminalChars = `.?!"'。！？؟।`
	}
	return r
}

// Config maps a language code ("ko", "en", ..., and "default" for every
// language without its own entry) to its Rules. Codes are normalised as
// Check does. A Config without "default" uses DefaultRules("") for the rest.
type Config struct {
	// Langs holds the rules per language code.
	Langs map[string]Rules
}

// DefaultConfig returns DefaultRules for "ko", "en" and "default".
func DefaultConfig() Config {
	return Config{Langs: map[string]Rules{
		"ko":      DefaultRules("ko"),
		"en":      DefaultRules("en"),
		"default": DefaultRules("default"),
	}}
}

// Validate reports every bad value, each naming the language and field
// (as in YAML: "ko: gopher.min_words"): negative numbers, ratios above 1,
// NaN, a minimum above its maximum, empty list entries, and language codes
// that are empty or that normalise to the same code.
func (c Config) Validate() error {
	var errs []error
	seen := map[string]string{}
	for _, lang := range slices.Sorted(maps.Keys(c.Langs)) {
		n := normLang(lang)
		if strings.TrimSpace(lang) == "" {
			errs = append(errs, errors.New(`quality: empty language code (use "default" for the fallback)`))
			continue
		}
		if prev, ok := seen[n]; ok {
			errs = append(errs, fmt.Errorf("quality: languages %q and %q are the same code %q", prev, lang, n))
		}
		seen[n] = lang
		errs = append(errs, c.Langs[lang].validate(lang)...)
	}
	return errors.Join(errs...)
}

type checker struct {
	lang string
	errs []error
}

func (c *checker) bad(field, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("quality: %s: %s: %s", c.lang, field, fmt.Sprintf(format, args...)))
}

func (c *checker) count(field string, v int) {
	if v < 0 {
		c.bad(field, "%d is negative", v)
	}
}

func (c *checker) num(field string, v float64) bool {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		c.bad(field, "%v is not a number", v)
	case v < 0:
		c.bad(field, "%v is negative", v)
	default:
		return true
	}
	return false
}

func (c *checker) ratio(field string, v float64) {
	if c.num(field, v) && v > 1 {
		c.bad(field, "%v is above 1", v)
	}
}

func (c *checker) order(minField string, lo float64, maxField string, hi float64) {
	if lo > 0 && hi > 0 && lo > hi {
		c.bad(minField, "%v is above %s %v", lo, maxField, hi)
	}
}

func (c *checker) list(field string, l []string) {
	for i, s := range l {
		if strings.TrimSpace(s) == "" {
			c.bad(field, "entry %d is empty", i)
		}
	}
}

func (r Rules) validate(lang string) []error {
	c := &checker{lang: lang}
	g := r.Gopher
	c.count("gopher.min_words", g.MinWords)
	c.count("gopher.max_words", g.MaxWords)
	c.order("gopher.min_words", float64(g.MinWords), "gopher.max_words", float64(g.MaxWords))
	c.num("gopher.min_mean_word_len", g.MinMeanWordLen)
	c.num("gopher.max_mean_word_len", g.MaxMeanWordLen)
	c.order("gopher.min_mean_word_len", g.MinMeanWordLen, "gopher.max_mean_word_len", g.MaxMeanWordLen)
	c.ratio("gopher.max_symbol_word_ratio", g.MaxSymbolWordRatio)
	c.ratio("gopher.max_bullet_lines", g.MaxBulletLines)
	c.ratio("gopher.max_ellipsis_lines", g.MaxEllipsisLines)
	c.ratio("gopher.min_alpha_words", g.MinAlphaWords)
	c.list("gopher.stop_words", g.StopWords)
	c.count("gopher.min_stop_words", g.MinStopWords)

	p := r.GopherRep
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"max_dup_line_frac", p.MaxDupLineFrac}, {"max_dup_line_char_frac", p.MaxDupLineCharFrac},
		{"max_dup_para_frac", p.MaxDupParaFrac}, {"max_dup_para_char_frac", p.MaxDupParaCharFrac},
		{"max_top_2gram_frac", p.MaxTop2GramFrac}, {"max_top_3gram_frac", p.MaxTop3GramFrac},
		{"max_top_4gram_frac", p.MaxTop4GramFrac}, {"max_dup_5gram_frac", p.MaxDup5GramFrac},
		{"max_dup_6gram_frac", p.MaxDup6GramFrac}, {"max_dup_7gram_frac", p.MaxDup7GramFrac},
		{"max_dup_8gram_frac", p.MaxDup8GramFrac}, {"max_dup_9gram_frac", p.MaxDup9GramFrac},
		{"max_dup_10gram_frac", p.MaxDup10GramFrac},
	} {
		c.ratio("gopher_rep."+f.name, f.v)
	}

	k := r.C4
	for i, ch := range k.TerminalChars {
		if ch == utf8.RuneError || isSpace(ch) {
			c.bad("c4.terminal_chars", "%q at byte %d is white space or invalid", ch, i)
		}
	}
	c.list("c4.sentence_endings", k.SentenceEndings)
	c.count("c4.min_words_per_line", k.MinWordsPerLine)
	c.count("c4.max_word_len", k.MaxWordLen)
	c.list("c4.javascript_words", k.JavascriptWords)
	c.list("c4.policy_phrases", k.PolicyPhrases)
	c.count("c4.min_sentences", k.MinSentences)

	w := r.FineWeb
	c.ratio("fineweb.min_line_punct_ratio", w.MinLinePunctRatio)
	c.list("fineweb.sentence_endings", w.SentenceEndings)
	c.ratio("fineweb.max_short_line_ratio", w.MaxShortLineRatio)
	c.count("fineweb.short_line_chars", w.ShortLineChars)
	if w.MaxShortLineRatio > 0 && w.ShortLineChars == 0 {
		c.bad("fineweb.short_line_chars", "must be above 0 when max_short_line_ratio is set")
	}
	c.ratio("fineweb.max_char_dup_ratio", w.MaxCharDupRatio)
	c.ratio("fineweb.max_newline_word_ratio", w.MaxNewlineWordRatio)

	o := r.Korean
	c.ratio("korean.min_hangul_ratio", o.MinHangulRatio)
	c.list("korean.particles", o.Particles)
	c.list("korean.endings", o.Endings)
	c.count("korean.min_particle_words", o.MinParticleWords)
	c.ratio("korean.max_jamo_ratio", o.MaxJamoRatio)
	c.count("korean.run_min_len", o.RunMinLen)
	if o.RunMinLen == 1 {
		c.bad("korean.run_min_len", "1 would count every character; use 0 (off) or at least 2")
	}
	c.ratio("korean.max_run_char_ratio", o.MaxRunCharRatio)
	return c.errs
}

// normLang reduces a language label to the key Config uses: lower case,
// without a "__label__" prefix (fastText) or a region or script suffix
// ("ko-KR", "kor_Hang"), ISO 639-3 "kor"/"eng" as "ko"/"en", and "", "und"
// and "default" as "default".
func normLang(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "__label__")
	if i := strings.IndexAny(s, "-_"); i >= 0 {
		s = s[:i]
	}
	s = strings.ToLower(s)
	switch s {
	case "", "und":
		return "default"
	case "kor":
		return "ko"
	case "eng":
		return "en"
	}
	return s
}
