package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/dokja/dokja/data"
	"github.com/dokja/dokja/tokenizer"
	"go.yaml.in/yaml/v3"
)

// Word lists for the generated pages: LibreOffice-help-like sentences.
var (
	koNouns = []string{"문서", "파일", "설정", "사용자", "도구", "메뉴", "글꼴", "서식", "표", "그림",
		"창", "도움말", "보기", "편집", "페이지", "텍스트", "셀", "시트", "차트", "데이터",
		"함수", "단추", "목록", "대화 상자", "스타일", "문단", "머리글", "바닥글", "색상", "테두리"}
	koParticles = []string{"을", "를", "은", "는", "이", "가", "에서", "으로", "의", "에"}
	koVerbs     = []string{"선택합니다", "클릭합니다", "저장합니다", "엽니다", "표시됩니다",
		"변경할 수 있습니다", "입력하십시오", "삭제합니다", "추가합니다", "확인합니다"}
	enWords = []string{"the", "a", "document", "file", "settings", "user", "tool", "menu", "font",
		"format", "table", "picture", "window", "help", "view", "edit", "page", "text", "cell",
		"sheet", "chart", "data", "function", "button", "list", "dialog", "style", "paragraph",
		"select", "click", "save", "open", "display", "change", "enter", "delete", "add", "to",
		"of", "in", "and", "with", "you", "can", "LibreOffice", "Writer", "Calc"}
)

func sentence(r *rand.Rand, korean bool) string {
	var b strings.Builder
	if korean {
		for j := range 3 + r.IntN(4) {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(koNouns[r.IntN(len(koNouns))] + koParticles[r.IntN(len(koParticles))])
		}
		b.WriteString(" " + koVerbs[r.IntN(len(koVerbs))] + ".")
		return b.String()
	}
	for j := range 6 + r.IntN(7) {
		w := enWords[r.IntN(len(enWords))]
		if j == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		} else {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	b.WriteByte('.')
	return b.String()
}

// boilerplate is page furniture the HTML reader must drop. The English
// pages carry Korean furniture and the Korean pages English furniture, so
// a leak would also flip the Korean/English split of held-out pages.
func boilerplate(korean bool) (head, nav string) {
	junk := "ZQXJUNK 탐색메뉴바로가기 ZQXJUNK 탐색메뉴바로가기"
	if korean {
		junk = "ZQXJUNK skip to navigation menu ZQXJUNK skip to navigation menu"
	}
	head = `<head><title>` + junk + `</title><style>body { font: 12px sans-serif } /* ` + junk + ` */</style>` +
		`<script>var tracker = "` + junk + `"; for (var i = 0; i < 10; i++) { console.log(i < 5 && "x"); }</script></head>`
	nav = `<header><h1>` + junk + `</h1></header><nav><ul><li><a href="/">` + junk + `</a></li><li>` + junk + `</li></ul></nav>` +
		`<script type="text/javascript">document.write("` + junk + `");</script>`
	return head, nav
}

// writePages writes n pages, page-00.html onwards. Pages come in runs of
// ten, Korean first, so that every tenth document (the held-out ones)
// alternates Korean and English. It returns the folder.
func writePages(t *testing.T, n int, withBoilerplate bool) string {
	t.Helper()
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(42, 7))
	for i := range n {
		korean := (i/10)%2 == 0
		var b strings.Builder
		b.WriteString("<!DOCTYPE html>\n<html>")
		head, nav := boilerplate(korean)
		if withBoilerplate {
			b.WriteString(head)
		}
		b.WriteString("<body>")
		if withBoilerplate {
			b.WriteString(nav)
		}
		b.WriteString("<main>")
		for range 4 + r.IntN(4) {
			fmt.Fprintf(&b, "<p>%s %s</p>\n", html.EscapeString(sentence(r, korean)), html.EscapeString(sentence(r, korean)))
		}
		b.WriteString("</main>")
		if withBoilerplate {
			b.WriteString(`<script>alert("ZQXJUNK 탐색 ZQXJUNK")</script>`)
		}
		b.WriteString("</body></html>\n")
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("page-%02d.html", i)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// writeHelpRoot writes n help pages in ko/text and their counterparts in
// en-US/text, each with a title, as the LibreOffice help is laid out.
func writeHelpRoot(t *testing.T, n int) string {
	t.Helper()
	root := t.TempDir()
	r := rand.New(rand.NewPCG(9, 9))
	for i := range n {
		for _, lang := range []string{"ko", "en-US"} {
			korean := lang == "ko"
			title := fmt.Sprintf("Help page %d", i)
			if korean {
				title = fmt.Sprintf("도움말 %d번 페이지", i)
			}
			var b strings.Builder
			fmt.Fprintf(&b, "<!DOCTYPE html>\n<html><head><title>%s</title></head><body><main><h1>%s</h1>", title, title)
			for range 3 {
				fmt.Fprintf(&b, "<p>%s</p>\n", html.EscapeString(sentence(r, korean)))
			}
			b.WriteString("</main></body></html>\n")
			dir := filepath.Join(root, lang, "text", "shared")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("page-%02d.html", i)), []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

const (
	partKo = "held-out Korean pages"
	partEn = "held-out English pages"
)

var tokenizerNames = []string{"dokja (this run)", "o200k", "cl100k"}

func TestRun(t *testing.T) {
	corpusDir := writePages(t, 40, true)
	out := filepath.Join(t.TempDir(), "run", "nested")
	var stdout bytes.Buffer
	rep, err := TrainTokenizer(t.Context(), TokenizerOptions{Corpus: []string{corpusDir}, Out: out, VocabSize: 600, Workers: 2, Stdout: &stdout})
	if err != nil {
		t.Fatal(err)
	}

	if rep.Documents != 40 || rep.TrainDocs != 36 || rep.HeldOutDocs != 4 {
		t.Errorf("documents %d train %d held out %d, want 40, 36, 4", rep.Documents, rep.TrainDocs, rep.HeldOutDocs)
	}
	if rep.TrainBytes <= 0 || rep.VocabSize != 600 || rep.TrainSeconds <= 0 {
		t.Errorf("train bytes %d vocab %d seconds %v", rep.TrainBytes, rep.VocabSize, rep.TrainSeconds)
	}
	if !reflect.DeepEqual(rep.Corpus, []string{corpusDir}) {
		t.Errorf("corpus %q", rep.Corpus)
	}
	if want := filepath.Join(out, "tokenizer.json"); rep.Tokenizer != want {
		t.Errorf("tokenizer path %q, want %q", rep.Tokenizer, want)
	}

	// Three tokenizers for each part, Korean first, two pages each.
	if len(rep.Rows) != 6 {
		t.Fatalf("%d rows, want 6: %+v", len(rep.Rows), rep.Rows)
	}
	for i, row := range rep.Rows {
		part, name := partKo, tokenizerNames[i%3]
		if i >= 3 {
			part = partEn
		}
		if row.Part != part || row.Tokenizer != name {
			t.Errorf("row %d is %q / %q, want %q / %q", i, row.Part, row.Tokenizer, part, name)
		}
		if row.Texts != 2 || row.Tokens <= 0 || row.Chars <= 0 || row.MBPerSecond < 0 {
			t.Errorf("row %d: %+v", i, row)
		}
		if want := float64(row.Chars) / float64(row.Tokens); row.CharsPerToken != want {
			t.Errorf("row %d: chars/token %v, want %v", i, row.CharsPerToken, want)
		}
		// The English pages hold no Hangul, not even from the furniture.
		if (part == partKo) != (row.TokensPerHangul > 0) {
			t.Errorf("row %d (%s): tokens per syllable %v", i, part, row.TokensPerHangul)
		}
		if row.Chars != rep.Rows[i/3*3].Chars {
			t.Errorf("row %d measured %d chars, its part's first row %d", i, row.Chars, rep.Rows[i/3*3].Chars)
		}
	}
	if want := 1 - float64(rep.Rows[0].Tokens)/float64(rep.Rows[1].Tokens); rep.KoreanSavings != want {
		t.Errorf("Korean savings %v, want %v", rep.KoreanSavings, want)
	}

	// report.json holds the same report.
	data, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, rep) {
		t.Errorf("report.json differs from the returned report:\n%+v\n%+v", back, *rep)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"documents", "held_out_documents", "rows", "korean_token_savings_vs_o200k"} {
		if _, ok := raw[key]; !ok {
			t.Errorf("report.json lacks %q", key)
		}
	}

	// tokenizer.json is the trained tokenizer, without the furniture.
	tok, err := tokenizer.LoadJSON(rep.Tokenizer)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 600 || len(tok.AddedTokens()) != 3 {
		t.Errorf("tokenizer.json: vocab %d, %d added tokens; want 600 and 3", tok.VocabSize(), len(tok.AddedTokens()))
	}
	for _, piece := range []string{"ZQX", "JUNK", "UNK"} {
		if _, ok := tok.TokenID(piece); ok {
			t.Errorf("the vocabulary learned %q from page furniture", piece)
		}
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !reflect.DeepEqual(names, []string{"report.json", "tokenizer.json"}) {
		t.Errorf("run folder holds %q, want report.json and tokenizer.json only", names)
	}

	for _, want := range []string{"Dokja demo: tokenizer", "documents  40 (36 for training", "4 held out", partKo, partEn, "cl100k", "fewer tokens than o200k"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("printed report lacks %q:\n%s", want, stdout.String())
		}
	}
}

// Page furniture (<head>, <script>, <nav>, <header>) must change nothing:
// the same pages without it give the same counts and the same tokenizer.
func TestRunIgnoresBoilerplate(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two tokenizers")
	}
	run := func(withBoilerplate bool) (*Report, []byte) {
		out := t.TempDir()
		rep, err := TrainTokenizer(t.Context(), TokenizerOptions{Corpus: []string{writePages(t, 40, withBoilerplate)}, Out: out, VocabSize: 600})
		if err != nil {
			t.Fatal(err)
		}
		tj, err := os.ReadFile(rep.Tokenizer)
		if err != nil {
			t.Fatal(err)
		}
		return rep, tj
	}
	with, tokWith := run(true)
	without, tokWithout := run(false)
	if with.Documents != without.Documents || with.TrainDocs != without.TrainDocs || with.HeldOutDocs != without.HeldOutDocs || with.TrainBytes != without.TrainBytes {
		t.Errorf("with furniture: %d docs (%d train, %d held out, %d bytes); without: %d (%d, %d, %d)",
			with.Documents, with.TrainDocs, with.HeldOutDocs, with.TrainBytes,
			without.Documents, without.TrainDocs, without.HeldOutDocs, without.TrainBytes)
	}
	if len(with.Rows) != len(without.Rows) {
		t.Fatalf("%d rows with furniture, %d without", len(with.Rows), len(without.Rows))
	}
	for i := range with.Rows {
		a, b := with.Rows[i], without.Rows[i]
		if a.Part != b.Part || a.Tokenizer != b.Tokenizer || a.Texts != b.Texts || a.Chars != b.Chars || a.Tokens != b.Tokens || a.TokensPerHangul != b.TokensPerHangul {
			t.Errorf("row %d with furniture %+v, without %+v", i, a, b)
		}
	}
	if !bytes.Equal(tokWith, tokWithout) {
		t.Errorf("the furniture changed the trained tokenizer.json")
	}
}

func TestRunErrors(t *testing.T) {
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "notes.md"), []byte("# not a corpus file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	few := writePages(t, 9, false)
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		corpus []string
		out    string
		want   []string
	}{
		{"empty folder", []string{empty}, "", []string{empty, "holds 0 documents", "at least 10"}},
		{"nine pages", []string{few}, "", []string{"holds 9 documents", "at least 10"}},
		{"missing folder", []string{filepath.Join(empty, "nope")}, "", []string{"nope", "no such file"}},
		{"run folder under a file", []string{few}, filepath.Join(blocker, "run"), []string{"run folder"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := tt.out
			if out == "" {
				out = filepath.Join(t.TempDir(), "run")
			}
			rep, err := TrainTokenizer(t.Context(), TokenizerOptions{Corpus: tt.corpus, Out: out, VocabSize: 300})
			if err == nil {
				t.Fatalf("no error; report %+v", rep)
			}
			if rep != nil {
				t.Errorf("report %+v returned with error", rep)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if _, err := os.Stat(filepath.Join(out, "report.json")); err == nil {
				t.Errorf("report.json written despite the error")
			}
		})
	}

	t.Run("vocab too small", func(t *testing.T) {
		_, err := TrainTokenizer(t.Context(), TokenizerOptions{Corpus: []string{writePages(t, 10, false)}, Out: t.TempDir(), VocabSize: 100})
		if err == nil || !strings.Contains(err.Error(), "vocabulary size 100") {
			t.Errorf("error %v, want one about vocabulary size 100", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := TrainTokenizer(ctx, TokenizerOptions{Corpus: []string{writePages(t, 10, false)}, Out: t.TempDir(), VocabSize: 300})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
}

func TestDefaultCorpus(t *testing.T) {
	// DefaultCorpus looks at the system install first; when both
	// languages are installed there, it succeeds whatever the folder.
	installed := true
	for _, lang := range []string{"ko", "en-US"} {
		if st, err := os.Stat(filepath.Join("/usr/share/libreoffice/help", lang)); err != nil || !st.IsDir() {
			installed = false
		}
	}
	if installed {
		t.Skip("the Korean and English LibreOffice help pages are installed on this machine")
	}
	t.Run("nothing found", func(t *testing.T) {
		t.Chdir(t.TempDir())
		dirs, err := DefaultCorpus()
		if err == nil {
			t.Fatalf("found %q in an empty folder", dirs)
		}
		for _, s := range []string{"libreoffice-help-ko", "libreoffice-help-en-us", "--corpus"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q lacks %q", err, s)
			}
		}
		// Run with no corpus reports the same, before creating anything.
		out := filepath.Join(t.TempDir(), "run")
		if _, rerr := TrainTokenizer(t.Context(), TokenizerOptions{Out: out}); rerr == nil || rerr.Error() != err.Error() {
			t.Errorf("Run without a corpus: %v, want %v", rerr, err)
		}
		if _, serr := os.Stat(out); !os.IsNotExist(serr) {
			t.Errorf("Run created %s despite having no corpus", out)
		}
	})
	cache := filepath.Join(".cache", "libreoffice-help", "usr", "share", "libreoffice", "help")
	t.Run("only Korean unpacked", func(t *testing.T) {
		t.Chdir(t.TempDir())
		if err := os.MkdirAll(filepath.Join(cache, "ko"), 0o755); err != nil {
			t.Fatal(err)
		}
		if dirs, err := DefaultCorpus(); err == nil {
			t.Errorf("found %q with the English pages missing", dirs)
		}
	})
	t.Run("unpacked into .cache", func(t *testing.T) {
		t.Chdir(t.TempDir())
		for _, lang := range []string{"ko", "en-US"} {
			if err := os.MkdirAll(filepath.Join(cache, lang), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		dirs, err := DefaultCorpus()
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{filepath.Join(cache, "ko"), filepath.Join(cache, "en-US")}; !reflect.DeepEqual(dirs, want) {
			t.Errorf("DefaultCorpus() = %q, want %q", dirs, want)
		}
	})
}

func TestIsKorean(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"문서를 저장합니다.", true},
		{"Save the document.", false},
		{"LibreOffice 문서를 저장합니다", false}, // 11 Latin letters, 8 Hangul
		{"", false},
		{"12345 !?", false},
		{"ab 가나", true},   // half and half counts as Korean
		{"abc 가나", false}, // 3 Latin, 2 Hangul
		{"ㄱㄴㄷ abc", true}, // compatibility jamo are Hangul letters
	}
	for _, tt := range tests {
		if got := isKorean(tt.in); got != tt.want {
			t.Errorf("isKorean(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// examples/help-pages-pipeline.yaml is the demo's own pipeline as a file
// users can run and edit: same stages, same options.
func TestExamplePipelineIsTheDemos(t *testing.T) {
	file, err := data.ReadConfig(filepath.Join("..", "examples", "help-pages-pipeline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	builtin, err := data.ParseConfig([]byte(demoPipeline))
	if err != nil {
		t.Fatal(err)
	}
	stages := func(c *data.Config) string {
		var b strings.Builder
		for _, s := range c.Stages {
			out, err := yaml.Marshal(&s.Options)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s: %s", s.Kind, out)
		}
		return b.String()
	}
	if a, b := stages(file), stages(builtin); a != b {
		t.Errorf("the example pipeline's stages\n%s\ndiffer from the demo's\n%s", a, b)
	}
	if len(file.Input.Paths) != 2 {
		t.Errorf("the example reads %v, want the Korean and English help pages", file.Input.Paths)
	}
}
