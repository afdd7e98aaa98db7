package quality

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func defaultFilter(t testing.TB) *Filter {
	t.Helper()
	f, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestKeepsEncyclopedicText(t *testing.T) {
	f := defaultFilter(t)
	for _, c := range []struct{ name, lang, text string }{
		{"en river", "en", enRiver},
		{"en library", "en", enLibrary},
		{"en mountain", "en", enMountain},
		{"en all", "en", enRiver + "\n\n" + enLibrary + "\n\n" + enMountain},
		{"ko river", "ko", koRiver},
		{"ko library", "ko", koLibrary},
		{"ko mountain", "ko", koMountain},
		{"ko all", "ko", koRiver + "\n\n" + koLibrary + "\n\n" + koMountain},
		{"ko region tag", "ko-KR", koRiver},
		{"ko fastText label", "__label__ko", koLibrary},
		{"en under default rules", "", enLibrary},
		{"en under other language", "fr", enRiver},
		{"crlf", "en", strings.ReplaceAll(enLibrary, "\n", "\r\n")},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := f.Check(c.text, c.lang)
			if !r.Keep || r.Modified || r.Text != c.text || r.Reason != "" || r.Detail != "" {
				t.Errorf("Check = %+v; want kept unchanged", r)
			}
		})
	}
}

func TestLanguageSelectsRules(t *testing.T) {
	f := defaultFilter(t)
	// Korean has no English stop words: English rules drop it.
	if r := f.Check(koRiver, "en"); r.Keep || r.Reason != "gopher.min_stop_words" {
		t.Errorf("Korean text as en: %+v; want gopher.min_stop_words", r)
	}
	for _, lang := range []string{"ko", "KO", "ko-KR", "ko_KR", "kor", "kor_Hang", "__label__ko"} {
		if r := f.Check(koRiver, lang); !r.Keep {
			t.Errorf("Korean text as %q dropped by %s", lang, r.Reason)
		}
	}
	// The curly-bracket rule is English-only by default.
	koCurly := koRiver + "\n\n수학에서 집합 {1, 2, 3}은 세 원소를 가진다."
	if r := f.Check(koCurly, "ko"); !r.Keep {
		t.Errorf("ko with a curly bracket dropped by %s (%s)", r.Reason, r.Detail)
	}
	if r := f.Check(enRiver+"\n\nThe set {1, 2, 3} has three elements.", "en"); r.Reason != "c4.curly_bracket" {
		t.Errorf("en with a curly bracket: %+v", r)
	}
}

func TestNormLang(t *testing.T) {
	for in, want := range map[string]string{
		"ko": "ko", "KO": "ko", "ko-KR": "ko", "kor": "ko", "kor_Hang": "ko", "__label__ko": "ko",
		"en": "en", "en-US": "en", "eng_Latn": "en", "": "default", "und": "default", " ": "default",
		"default": "default", "ja": "ja", "zh-Hant": "zh",
	} {
		if got := normLang(in); got != want {
			t.Errorf("normLang(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestC4RemovesLines(t *testing.T) {
	f := defaultFilter(t)
	for _, c := range []struct {
		name, lang, in, want string
		detail               []string
	}{
		{
			name: "en boilerplate", lang: "en",
			in: "Skip to main content\n" + enRiver + "\n\nThis site uses cookies to give you the best experience.\n" +
				"Please enable JavaScript to view the comments.\nShare on Facebook\n\nBack to top",
			want:   enRiver,
			detail: []string{"c4 removed 5 of 8 lines", "policy 1", "no_terminal_punct 3", "javascript 1"},
		},
		{
			name: "en citations", lang: "en",
			in:     strings.Replace(strings.Replace(enLibrary, "1931.", "1931.[2]", 1), "volunteers.", "volunteers[citation needed].", 1),
			want:   enLibrary,
			detail: []string{"citations from 2 lines"},
		},
		{
			name: "en short and long-word lines", lang: "en",
			in:     enMountain + "\nTwo words.\n" + strings.Repeat("x", 1001) + " is too long.\n" + enLibrary,
			want:   enMountain + "\n" + enLibrary,
			detail: []string{"min_words 1", "too_long_word 1"},
		},
		{
			name: "ko boilerplate", lang: "ko",
			in: "메뉴 바로가기\n로그인 회원가입\n\n" + koRiver + "\n\n개인정보처리방침 | 이용약관\n" +
				"Copyright ⓒ 한강일보. 무단전재 및 재배포 금지.\n이 사이트는 쿠키를 사용합니다.",
			want:   koRiver,
			detail: []string{"c4 removed 5 of 8 lines", "no_terminal_punct 3", "policy 2"},
		},
		{
			name: "ko edit marks", lang: "ko",
			in:   strings.Replace(koLibrary, "완공되었다.", "완공되었다.[편집]", 1),
			want: koLibrary,
		},
		{
			// Blank lines around a removed paragraph collapse to one.
			name: "paragraphs kept", lang: "en",
			in:   enS(0) + "\n\nRelated articles\n\n" + enS(1) + "\n" + enS(2) + "\n\n\n" + enS(3) + " " + enS(4) + " " + enS(5),
			want: enS(0) + "\n\n" + enS(1) + "\n" + enS(2) + "\n\n" + enS(3) + " " + enS(4) + " " + enS(5),
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := f.Check(c.in, c.lang)
			if !r.Keep || !r.Modified {
				t.Fatalf("Check = keep %v modified %v reason %q (%s); want kept and modified", r.Keep, r.Modified, r.Reason, r.Detail)
			}
			if r.Text != c.want {
				t.Errorf("Text =\n%q\nwant\n%q", r.Text, c.want)
			}
			for _, d := range c.detail {
				if !strings.Contains(r.Detail, d) {
					t.Errorf("Detail %q lacks %q", r.Detail, d)
				}
			}
		})
	}
}

func enS(i int) string { return sentences(enRiver)[i] }

func TestC4Terminated(t *testing.T) {
	ko, en := compile(DefaultRules("ko")), compile(DefaultRules("en"))
	for _, c := range []struct {
		line   string
		ko, en bool
	}{
		{"강은 바다로 흘러간다.", true, true},
		{"강은 바다로 흘러간다", true, false},
		{"정말 좋았어요", true, false},
		{"그렇죠", true, false},
		{"무엇입니까", true, false},
		{"감사합니다", true, false},
		{`그는 "그만하자"라고 말했다`, true, false},
		{"결국 그렇게 되었다…", true, false},
		{"그래서 떠났는데...", true, false},
		{"메뉴 바로가기", false, false},
		{"서울특별시 중구", false, false},
		{"She said “yes.”", true, true},
		{`He said "stop"`, true, true},
		{"(See the map above.)", true, true},
		{"And then...", true, false},
		{"Why not?", true, true},
		{"Home | About | Contact", false, false},
	} {
		if got := ko.c4Terminated(c.line); got != c.ko {
			t.Errorf("ko c4Terminated(%q) = %v", c.line, got)
		}
		if got := en.c4Terminated(c.line); got != c.en {
			t.Errorf("en c4Terminated(%q) = %v", c.line, got)
		}
	}
}

func TestCountSentences(t *testing.T) {
	for in, want := range map[string]int{
		"":                                   0,
		"No end":                             1,
		"One. Two! Three?":                   3,
		"Dr. Smith arrived. He sat down.":    2,
		"J. R. R. Tolkien wrote books.":      1,
		"Prices rose, e.g. for bread. Fine.": 2,
		"Wait... what?! Yes.":                3,
		`He said "stop." Then he left.`:      2,
		"Version 2.0 is out. Try it.":        2,
		"좋았다 다음에 또 올게요":                      1,
		"1990년에 설립되었다. 본사는 서울에 있다.": 2,
		"정말요?! 네.": 2,
		"...":      0,
		"。。。文章。":   1,
	} {
		if got := countSentences(in); got != want {
			t.Errorf("countSentences(%q) = %d; want %d", in, got, want)
		}
	}
}

func TestAnalyze(t *testing.T) {
	text := "  Hello, world...  #tag\n\n(ㅋㅋㅋㅋ) 한국어! — 2024\n"
	st := analyze(text, 4)
	if len(st.lines) != 4 {
		t.Fatalf("%d lines; want 4 (the last one blank)", len(st.lines))
	}
	var cores []string
	for _, tk := range st.toks {
		cores = append(cores, tk.core(text))
	}
	if got := fmt.Sprintf("%q", cores); got != `["Hello" "world" "tag" "ㅋㅋㅋㅋ" "한국어" "" "2024"]` {
		t.Errorf("cores %s", got)
	}
	checks := []struct {
		name      string
		got, want int
	}{
		{"words", st.words, 6}, {"hashes", st.hashes, 1}, {"ellipses", st.ellipses, 1},
		{"hangul", st.hangul, 7}, {"jamo", st.jamo, 4}, {"letters", st.letters, 7 + 13},
		{"runChars", st.runChars, 4}, {"line 0 runes", int(st.lines[0].runes), len("Hello, world...  #tag")},
		{"line 1 blank", int(st.lines[1].end - st.lines[1].start), 0}, {"line 2 tokens", int(st.lines[2].ntok), 4},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d; want %d", c.name, c.got, c.want)
		}
	}
}

func TestRemoveCitations(t *testing.T) {
	for in, want := range map[string]string{
		"No marks here.":                  "No marks here.",
		"Built in 1931.[2][15]":           "Built in 1931.",
		"A claim[citation needed] stays.": "A claim stays.",
		"[Edit] Title":                    " Title",
		"array[i] and [x]":                "array[i] and [x]",
		"nested [a [1] b]":                "nested [a  b]",
		"[]":                              "",
		"unclosed [1":                     "unclosed [1",
		"문단 [편집] 끝":                       "문단  끝",
	} {
		got, _ := removeCitations(in)
		if got != want {
			t.Errorf("removeCitations(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestReasonsList(t *testing.T) {
	all := Reasons()
	seen := map[string]bool{}
	for _, r := range all {
		if seen[r] {
			t.Errorf("duplicate reason %q", r)
		}
		seen[r] = true
		if r != "empty" && !strings.Contains(r, ".") {
			t.Errorf("reason %q has no family prefix", r)
		}
	}
	if len(all) != 36 {
		t.Errorf("%d reasons; want 36 (update this test and the docs when adding one)", len(all))
	}
}

// TestConcurrent checks that one Filter gives the same answers from many
// goroutines (run with -race to check for data races).
func TestConcurrent(t *testing.T) {
	f := defaultFilter(t)
	var docs []struct{ text, lang string }
	for _, c := range reasonCases() {
		docs = append(docs, struct{ text, lang string }{c.text, c.lang})
	}
	want := make([]Result, len(docs))
	for i, d := range docs {
		want[i] = f.Check(d.text, d.lang)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for i := range docs {
				j := (i + g) % len(docs)
				if got := f.Check(docs[j].text, docs[j].lang); got != want[j] {
					t.Errorf("doc %d: concurrent result %+v differs from %+v", j, got, want[j])
				}
			}
		})
	}
	wg.Wait()
}

// runEveryFamily runs all of Check's work on text, not stopping at the
// first rule that drops it.
func runEveryFamily(f *Filter, text, lang string) {
	c := f.rules(lang)
	st := analyze(text, c.Korean.RunMinLen)
	c.gopher(text, st)
	c.korean(text, st)
	c.repetition(text, st, f.seed)
	c.fineweb(c.c4(text, st).view)
	c.fineweb(allLines(text, st))
}

// TestLinear checks that Check's time grows about linearly on inputs shaped
// to provoke quadratic behaviour: twenty times the input must not take four
// hundred times as long. The bound, 100x, leaves room for a loaded machine;
// each size is timed several times, interleaved, and the fastest run counts.
func TestLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	f := defaultFilter(t)
	shapes := map[string][2]string{ // unit repeated, then tail
		"periods":        {"a. ", ""},
		"open brackets":  {"[x ", "]"},
		"brackets":       {"[1]", ""},
		"short lines":    {"ab.\n", ""},
		"one word":       {"가", ""},
		"repeated words": {"the cat ", ""},
		"ellipses":       {"..", ""},
		"jamo":           {"ㅋ", ""},
		"policy prefix":  {"privacy polic", "y"},
	}
	for name, shape := range shapes {
		t.Run(name, func(t *testing.T) {
			small := strings.Repeat(shape[0], 50_000/len(shape[0])) + shape[1]
			large := strings.Repeat(shape[0], 1_000_000/len(shape[0])) + shape[1]
			timeOf := func(text string) time.Duration {
				start := time.Now()
				runEveryFamily(f, text, "ko")
				runEveryFamily(f, text, "en")
				return time.Since(start)
			}
			ts, tl := time.Duration(1<<62), time.Duration(1<<62)
			for range 3 {
				ts = min(ts, timeOf(small))
				tl = min(tl, timeOf(large))
				ts = min(ts, timeOf(small))
			}
			if ratio := float64(tl) / float64(max(ts, time.Microsecond)); ratio > 100 {
				t.Errorf("20x input took %.0fx as long (%v vs %v)", ratio, tl, ts)
			}
		})
	}
}

// TestFamiliesOff: with every family off only blank text is dropped, and
// with C4 off FineWeb sees every non-blank line and nothing is edited.
func TestFamiliesOff(t *testing.T) {
	off := func(r *Rules) {
		r.Gopher.Enabled, r.GopherRep.Enabled, r.C4.Enabled, r.FineWeb.Enabled, r.Korean.Enabled = false, false, false, false, false
	}
	for _, c := range reasonCases() {
		r := filterFor(t, c.lang, off).Check(c.text, c.lang)
		if c.reason == "empty" {
			if r.Keep {
				t.Errorf("%s: blank text kept", c.name)
			}
			continue
		}
		if !r.Keep || r.Modified || r.Text != c.text {
			t.Errorf("%s: with every family off: %+v", c.name, r)
		}
	}

	noC4 := func(r *Rules) { r.C4.Enabled = false }
	withPolicy := enRiver + "\n\nThis site uses cookies to give you the best experience."
	if r := filterFor(t, "en", noC4).Check(withPolicy, "en"); !r.Keep || r.Modified {
		t.Errorf("C4 off: %+v; want kept unchanged", r)
	}
	for _, c := range reasonCases() {
		if c.name == "navigation lines" {
			if r := filterFor(t, "en", noC4).Check(c.text, "en"); r.Reason != "fineweb.line_punct_ratio" {
				t.Errorf("C4 off, navigation lines: %+v", r)
			}
		}
	}
}
