package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/dokja/dokja/tokenizer"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// cliResult is what one in-process run of the CLI produced.
type cliResult struct {
	code           int
	stdout, stderr string
}

// dokja runs the CLI in process with the given stdin and arguments.
func dokja(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	return dokjaCtx(t.Context(), stdin, args...)
}

func dokjaCtx(ctx context.Context, stdin string, args ...string) cliResult {
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, strings.NewReader(stdin), &stdout, &stderr)
	return cliResult{code, stdout.String(), stderr.String()}
}

// mustRun fails the test unless the command exits 0.
func mustRun(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	r := dokja(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("dokja %q: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	return r
}

// Word lists for the generated corpora: LibreOffice-help-like sentences.
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

// genLines returns n deterministic lines, alternating Korean and English
// sentences, some with numbers.
func genLines(n int, seed uint64) []string {
	return genLinesBy(n, seed, func(i int) bool { return i%2 == 0 })
}

// genLinesBy returns n deterministic lines; line i is Korean when
// korean(i) holds, English otherwise.
func genLinesBy(n int, seed uint64, korean func(i int) bool) []string {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	lines := make([]string, n)
	for i := range lines {
		var b strings.Builder
		if korean(i) {
			for j := range 3 + r.IntN(4) {
				if j > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(koNouns[r.IntN(len(koNouns))])
				b.WriteString(koParticles[r.IntN(len(koParticles))])
			}
			b.WriteString(" " + koVerbs[r.IntN(len(koVerbs))] + ".")
		} else {
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
		}
		if r.IntN(5) == 0 {
			fmt.Fprintf(&b, " (%d)", r.IntN(10000))
		}
		lines[i] = b.String()
	}
	return lines
}

// writeCorpus writes lines to dir/name: one JSON object per line when the
// name (without .gz) ends in .jsonl, plain lines otherwise; gzip when the
// name ends in .gz. It returns the path.
func writeCorpus(t *testing.T, dir, name string, lines []string) string {
	t.Helper()
	var buf bytes.Buffer
	jsonl := strings.HasSuffix(strings.TrimSuffix(name, ".gz"), ".jsonl")
	for i, l := range lines {
		if jsonl {
			data, err := json.Marshal(map[string]any{"id": i, "text": l})
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(data)
		} else {
			buf.WriteString(l)
		}
		buf.WriteByte('\n')
	}
	data := buf.Bytes()
	if strings.HasSuffix(name, ".gz") {
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		if _, err := zw.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		data = zb.Bytes()
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func corpusSize() int {
	if testing.Short() {
		return 200
	}
	return 400
}

// trainTokenizer trains a 400-token tokenizer on a generated JSONL corpus
// and returns the corpus and tokenizer paths.
func trainTokenizer(t *testing.T) (corpusPath, tokPath string) {
	t.Helper()
	dir := t.TempDir()
	corpusPath = writeCorpus(t, dir, "corpus.jsonl", genLines(corpusSize(), 1))
	tokPath = filepath.Join(dir, "tokenizer.json")
	mustRun(t, "", "tokenizer", "train", "--input", corpusPath, "--vocab-size", "400", "--out", tokPath)
	return corpusPath, tokPath
}

// tokInfo mirrors the JSON of "tokenizer info --json".
type tokInfo struct {
	VocabSize int    `json:"vocab_size"`
	Merges    int    `json:"merges"`
	Pattern   string `json:"pattern"`
	Added     []struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
	} `json:"added_tokens"`
}

func info(t *testing.T, spec string) tokInfo {
	t.Helper()
	r := mustRun(t, "", "tokenizer", "info", "--tokenizer", spec, "--json")
	var inf tokInfo
	if err := json.Unmarshal([]byte(r.stdout), &inf); err != nil {
		t.Fatalf("info --json output is not JSON: %v\n%s", err, r.stdout)
	}
	return inf
}

func addedContents(inf tokInfo) []string {
	var out []string
	for _, a := range inf.Added {
		out = append(out, a.Content)
	}
	return out
}

func TestHelpAndUsage(t *testing.T) {
	const topUsage = "Usage: dokja <command> [arguments]"
	const tokUsage = "Usage: dokja tokenizer <train|encode|stats|info|convert> [flags]"
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     []string // substrings stdout must hold
		stderr     []string // substrings stderr must hold
		noStdout   bool
		noStderr   bool
		stdoutNots []string // substrings stdout must not hold
	}{
		// Help asked for goes to stdout with exit 0; a usage mistake (no
		// command, an unknown one, a missing or bad flag) goes to stderr
		// with exit 2.
		{name: "no args", args: nil, code: 2, stderr: []string{topUsage, "tokenizer", "demo", "version"}, noStdout: true},
		{name: "help", args: []string{"help"}, stdout: []string{topUsage, "  demo ", "  tokenizer ", "  version ", "eval tasks | compare | redteam", "train plot", "data run | stages", "export gguf"}, noStderr: true},
		{name: "-h", args: []string{"-h"}, stdout: []string{topUsage}, noStderr: true},
		{name: "--help", args: []string{"--help"}, stdout: []string{topUsage}, noStderr: true},
		{name: "help tokenizer", args: []string{"help", "tokenizer"}, stdout: []string{tokUsage, "convert", "o200k"}, stdoutNots: []string{topUsage}, noStderr: true},
		{name: "tokenizer -h", args: []string{"tokenizer", "-h"}, stdout: []string{tokUsage}, noStderr: true},
		{name: "tokenizer alone", args: []string{"tokenizer"}, code: 2, stderr: []string{tokUsage, "name a command"}, noStdout: true},
		{name: "help tokenizer train", args: []string{"help", "tokenizer", "train"}, stdout: []string{"Usage: dokja tokenizer train", "-vocab-size", "-special"}, noStderr: true},
		{name: "tokenizer encode -h", args: []string{"tokenizer", "encode", "-h"}, stdout: []string{"Usage: dokja tokenizer encode", "-decode", "-ordinary"}, noStderr: true},
		{name: "help version", args: []string{"help", "version"}, stdout: []string{"Usage: dokja version"}, noStderr: true},
		{name: "demo -h", args: []string{"demo", "-h"}, stdout: []string{"Usage: dokja demo", "-corpus", "-vocab-size"}, noStderr: true},
		{name: "help eval", args: []string{"help", "eval"}, stdout: []string{"Usage: dokja eval", "-tasks"}, noStderr: true},
		{name: "help data", args: []string{"help", "data"}, stdout: []string{"Usage: dokja data <run|stages|redact|langid|quality>"}, noStderr: true},
		{name: "help data redact", args: []string{"help", "data", "redact"}, stdout: []string{"Usage: dokja data redact"}, noStderr: true},
		{name: "data alone", args: []string{"data"}, code: 2, stderr: []string{"Usage: dokja data", "name a command"}, noStdout: true},
		{name: "help export", args: []string{"help", "export"}, stdout: []string{"Usage: dokja export"}, noStderr: true},
		{name: "help train plot", args: []string{"help", "train", "plot"}, stdout: []string{"Usage: dokja train plot"}, noStderr: true},
		{name: "help eval compare", args: []string{"help", "eval", "compare"}, stdout: []string{"Usage: dokja eval compare"}, noStderr: true},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2, stderr: []string{`dokja: unknown command "frobnicate"`, topUsage}, noStdout: true},
		{name: "unknown tokenizer command", args: []string{"tokenizer", "frob"}, code: 2, stderr: []string{`dokja tokenizer: unknown command "frob"`, tokUsage}, noStdout: true},
		{name: "unknown data command", args: []string{"data", "frob"}, code: 2, stderr: []string{`dokja data: unknown command "frob"`}, noStdout: true},
		{name: "unknown flag", args: []string{"version", "--bogus"}, code: 2, stderr: []string{"flag provided but not defined: -bogus", "Usage: dokja version"}, noStdout: true},
		{name: "bad flag value", args: []string{"tokenizer", "train", "--vocab-size", "many"}, code: 2, stderr: []string{"invalid value", "-vocab-size"}, noStdout: true},
		{name: "quantize without flags", args: []string{"quantize"}, code: 2, stderr: []string{"Usage: dokja quantize", "dokja quantize: --model, --out and --type are required"}, noStdout: true},
		{name: "export without a format", args: []string{"export"}, code: 2, stderr: []string{"dokja export: the first argument must be the format, gguf"}, noStdout: true},
		{name: "export gguf without flags", args: []string{"export", "gguf"}, code: 2, stderr: []string{"dokja export: --model and --out are required"}, noStdout: true},
		{name: "train without flags", args: []string{"train"}, code: 2, stderr: []string{"dokja train: --config is required"}, noStdout: true},
		{name: "serve without flags", args: []string{"serve"}, code: 2, stderr: []string{"dokja serve: --model or --embedding-model is required"}, noStdout: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dokja(t, "", tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstderr: %s", r.code, tt.code, r.stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
				}
			}
			for _, s := range tt.stdoutNots {
				if strings.Contains(r.stdout, s) {
					t.Errorf("stdout holds %q:\n%s", s, r.stdout)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
				}
			}
			if tt.noStdout && r.stdout != "" {
				t.Errorf("unexpected stdout: %q", r.stdout)
			}
			if tt.noStderr && r.stderr != "" {
				t.Errorf("unexpected stderr: %q", r.stderr)
			}
		})
	}
}

// "help X" must not disturb the caller's argument slice.
func TestHelpKeepsArgs(t *testing.T) {
	backing := []string{"help", "tokenizer", "SENTINEL"}
	args := backing[:2]
	mustRun(t, "", args...)
	if backing[2] != "SENTINEL" {
		t.Errorf("run overwrote the caller's arguments: %q", backing)
	}
}

func TestVersion(t *testing.T) {
	r := mustRun(t, "", "version")
	if !strings.HasPrefix(r.stdout, "dokja ") || !strings.HasSuffix(r.stdout, "\n") {
		t.Fatalf("version output %q: want \"dokja VERSION GOVERSION\\n\"", r.stdout)
	}
	if !strings.Contains(r.stdout, runtime.Version()) {
		t.Errorf("version output %q lacks the Go version %s", r.stdout, runtime.Version())
	}
	if r.stderr != "" {
		t.Errorf("unexpected stderr: %q", r.stderr)
	}
}

func TestTrainFormats(t *testing.T) {
	lines := genLines(corpusSize(), 2)
	defaults := []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>"}
	tests := []struct {
		name       string
		file       string
		positional bool // give the input after the flags instead of --input
		extra      []string
	}{
		{name: "jsonl", file: "c.jsonl"},
		{name: "txt", file: "c.txt"},
		{name: "jsonl.gz", file: "c.jsonl.gz"},
		{name: "txt.gz positional", file: "c.txt.gz", positional: true},
		{name: "legacy merges", file: "c.jsonl", extra: []string{"--legacy-merges"}},
		{name: "cl100k pattern one worker", file: "c.txt", extra: []string{"--pattern", "cl100k", "--workers", "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			in := writeCorpus(t, dir, tt.file, lines)
			out := filepath.Join(dir, "out", "tokenizer.json")
			if err := os.Mkdir(filepath.Dir(out), 0o755); err != nil {
				t.Fatal(err)
			}
			args := []string{"tokenizer", "train", "--vocab-size", "400", "--out", out}
			args = append(args, tt.extra...)
			if tt.positional {
				args = append(args, in)
			} else {
				args = append(args[:2], append([]string{"--input", in}, args[2:]...)...)
			}
			r := mustRun(t, "", args...)
			wantMsg := fmt.Sprintf("wrote %s: 400 tokens (141 merges, 3 special) from %d texts", out, len(lines))
			if !strings.Contains(r.stdout, wantMsg) {
				t.Errorf("stdout %q lacks %q", r.stdout, wantMsg)
			}
			if strings.Contains(r.stdout, "note:") {
				t.Errorf("unexpected note about a small vocabulary: %q", r.stdout)
			}
			if _, err := os.Stat(out); err != nil {
				t.Fatal(err)
			}
			// info accepts the file or the folder holding it.
			for _, spec := range []string{out, filepath.Dir(out)} {
				inf := info(t, spec)
				if inf.VocabSize != 400 || inf.Merges != 141 {
					t.Errorf("info %s: vocab %d, merges %d; want 400, 141", spec, inf.VocabSize, inf.Merges)
				}
				if got := addedContents(inf); !slices.Equal(got, defaults) {
					t.Errorf("info %s: added tokens %q, want %q", spec, got, defaults)
				}
				for i, a := range inf.Added {
					if a.ID != 397+i || !a.Special {
						t.Errorf("added token %q: id %d special %v, want id %d special", a.Content, a.ID, a.Special, 397+i)
					}
				}
			}
			// Merges are ["a", "b"] pairs, or "a b" strings with --legacy-merges.
			raw, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			legacy := slices.Contains(tt.extra, "--legacy-merges")
			pairs := bytes.Contains(raw, []byte("\"merges\": [\n      ["))
			if legacy == pairs {
				t.Errorf("--legacy-merges %v, but merge pairs written as arrays: %v", legacy, pairs)
			}
		})
	}
}

func TestTrainText(t *testing.T) {
	r := mustRun(t, "", "tokenizer", "info", "--tokenizer", trainTokenizerWith(t, "--pattern", "o200k"))
	for _, want := range []string{"vocabulary: 400 ids", "merges:     141", "added:      3 tokens", "    397  <|endoftext|>", "    399  <|im_end|>"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("info lacks %q:\n%s", want, r.stdout)
		}
	}
}

// trainTokenizerWith trains on a generated corpus with extra flags.
func trainTokenizerWith(t *testing.T, extra ...string) string {
	t.Helper()
	dir := t.TempDir()
	in := writeCorpus(t, dir, "c.txt", genLines(corpusSize(), 3))
	out := filepath.Join(dir, "tokenizer.json")
	mustRun(t, "", append([]string{"tokenizer", "train", "--input", in, "--vocab-size", "400", "--out", out}, extra...)...)
	return out
}

func TestTrainSpecial(t *testing.T) {
	tests := []struct {
		name  string
		flags []string
		want  []string
	}{
		{"comma separated", []string{"--special", "<|a|>,<|b|>"}, []string{"<|a|>", "<|b|>"}},
		{"repeated", []string{"--special", "<|a|>", "--special", "<|b|>"}, []string{"<|a|>", "<|b|>"}},
		{"spaces and empties", []string{"--special", " <|pad|> ,,<|eos|>,"}, []string{"<|pad|>", "<|eos|>"}},
		{"one", []string{"--special", "<s>"}, []string{"<s>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inf := info(t, trainTokenizerWith(t, tt.flags...))
			if got := addedContents(inf); !slices.Equal(got, tt.want) {
				t.Errorf("added tokens %q, want %q", got, tt.want)
			}
			if inf.VocabSize != 400 || inf.Merges != 400-256-len(tt.want) {
				t.Errorf("vocab %d merges %d, want 400 and %d", inf.VocabSize, inf.Merges, 400-256-len(tt.want))
			}
			for i, a := range inf.Added {
				if want := 400 - len(tt.want) + i; a.ID != want || !a.Special {
					t.Errorf("added %q: id %d special %v, want id %d special", a.Content, a.ID, a.Special, want)
				}
			}
		})
	}
}

func TestTrainErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeCorpus(t, dir, "good.jsonl", genLines(50, 4))
	badType := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(badType, []byte(`{"text": "첫 줄"}`+"\n"+`{"text": "둘째 줄"}`+"\n"+`{"text": 42}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badJSON := filepath.Join(dir, "broken.jsonl")
	if err := os.WriteFile(badJSON, []byte(`{"text": "ok"}`+"\n"+`{"text": "unterminated`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badUTF8 := filepath.Join(dir, "latin1.txt")
	if err := os.WriteFile(badUTF8, []byte("fine\ncaf\xe9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	emptyDir := t.TempDir()
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr []string
	}{
		{"vocab too small", []string{"--input", good, "--vocab-size", "200"}, 1,
			[]string{"--vocab-size 200", "at least 259"}},
		{"vocab too small for specials", []string{"--input", good, "--vocab-size", "258", "--special", "<|a|>,<|b|>,<|c|>"}, 1,
			[]string{"--vocab-size 258", "at least 259"}},
		{"missing input", []string{"--vocab-size", "400"}, 2, []string{"no --input given", "Usage: dokja tokenizer train"}},
		{"empty folder", []string{"--input", emptyDir, "--vocab-size", "400"}, 1, []string{"the input holds no texts", emptyDir}},
		{"missing file", []string{"--input", filepath.Join(dir, "nope.jsonl"), "--vocab-size", "400"}, 1, []string{"nope.jsonl", "no such file"}},
		{"wrong field type", []string{"--input", badType, "--vocab-size", "400"}, 1,
			[]string{badType + " line 3", `field "text"`, "expected a string, got number"}},
		{"missing field", []string{"--input", good, "--field", "body", "--vocab-size", "400"}, 1,
			[]string{good + " line 1", `field "body"`, "missing"}},
		{"broken json", []string{"--input", badJSON, "--vocab-size", "400"}, 1, []string{badJSON + " line 2", "invalid JSON"}},
		{"invalid utf8", []string{"--input", badUTF8, "--vocab-size", "400"}, 1, []string{badUTF8 + " line 2", "invalid UTF-8"}},
		{"bad format", []string{"--input", good, "--format", "csv"}, 2, []string{`--format "csv"`}},
		{"bad pattern", []string{"--input", good, "--pattern", "bert"}, 1, []string{"--pattern", `"bert"`}},
		{"bad flag", []string{"--input", good, "--nope"}, 2, []string{"flag provided but not defined: -nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "tokenizer.json")
			r := dokja(t, "", append([]string{"tokenizer", "train", "--out", out}, tt.args...)...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstderr: %s", r.code, tt.code, r.stderr)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
				}
			}
			if tt.code == 1 && !strings.Contains(r.stderr, "dokja tokenizer: ") {
				t.Errorf("stderr lacks the command prefix:\n%s", r.stderr)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("failed train left %s behind (stat: %v)", out, err)
			}
		})
	}
}

func TestTrainCustomField(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	lines := genLines(corpusSize(), 5)
	for _, l := range lines {
		data, _ := json.Marshal(map[string]any{"meta": map[string]string{"body": l}})
		b.Write(append(data, '\n'))
	}
	in := filepath.Join(dir, "nested.ndjson")
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "tok.json")
	r := mustRun(t, "", "tokenizer", "train", "--input", in, "--field", "meta.body", "--vocab-size", "300", "--out", out)
	if want := fmt.Sprintf("from %d texts", len(lines)); !strings.Contains(r.stdout, want) {
		t.Errorf("stdout %q lacks %q", r.stdout, want)
	}
	if inf := info(t, out); inf.VocabSize != 300 {
		t.Errorf("vocab %d, want 300", inf.VocabSize)
	}
}

// A corpus too small for the requested vocabulary yields a smaller one,
// with a note saying so.
func TestTrainSmallCorpusNote(t *testing.T) {
	dir := t.TempDir()
	in := writeCorpus(t, dir, "tiny.txt", []string{"ab ab ab", "cd"})
	out := filepath.Join(dir, "tok.json")
	r := mustRun(t, "", "tokenizer", "train", "--input", in, "--vocab-size", "1000", "--out", out)
	if !strings.Contains(r.stdout, "note: the corpus supported only") {
		t.Errorf("stdout lacks the small-vocabulary note:\n%s", r.stdout)
	}
	inf := info(t, out)
	if inf.VocabSize >= 1000 || inf.VocabSize != 256+inf.Merges+3 {
		t.Errorf("vocab %d with %d merges, want 256+merges+3 < 1000", inf.VocabSize, inf.Merges)
	}
}

func TestTrainInterrupted(t *testing.T) {
	dir := t.TempDir()
	in := writeCorpus(t, dir, "c.txt", genLines(50, 6))
	out := filepath.Join(dir, "tok.json")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := dokjaCtx(ctx, "", "tokenizer", "train", "--input", in, "--vocab-size", "300", "--out", out)
	if r.code != 130 || !strings.Contains(r.stderr, "dokja: interrupted") {
		t.Errorf("exit %d stderr %q, want 130 and \"dokja: interrupted\"", r.code, r.stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("interrupted train left %s behind", out)
	}
}

// roundTripLines are encoded and decoded back; they must come back exactly.
var roundTripLines = []string{
	"안녕하세요, 세계! 오늘은 문서를 저장합니다.",
	"The quick brown fox jumps over the lazy dog.",
	"이모지 🎉👍🏽 and 한글 mixed, 숫자 1234567 and ZWJ 👩‍💻",
	"first<|endoftext|>second",
	"<|im_start|>user 질문입니다<|im_end|>",
	"",
	"  leading and trailing spaces  ",
	"tab\tseparated\tfields",
	"조합형이 아닌 ㄱㄴㄷ 자모와 漢字, ÀÉÎ",
}

func encodeLines(t *testing.T, spec string, lines []string, flags ...string) []string {
	t.Helper()
	r := mustRun(t, strings.Join(lines, "\n")+"\n", append([]string{"tokenizer", "encode", "--tokenizer", spec}, flags...)...)
	got := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(got) != len(lines) {
		t.Fatalf("encode printed %d lines for %d inputs:\n%s", len(got), len(lines), r.stdout)
	}
	return got
}

func parseIDs(t *testing.T, line string) []int {
	t.Helper()
	var ids []int
	for _, f := range strings.Fields(line) {
		id, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("encode output %q holds a non-number", line)
		}
		ids = append(ids, id)
	}
	return ids
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	_, tok := trainTokenizer(t)
	for _, spec := range []string{tok, "o200k"} {
		t.Run(filepath.Base(spec), func(t *testing.T) {
			ids := encodeLines(t, spec, roundTripLines)
			for i, l := range ids {
				if (l == "") != (roundTripLines[i] == "") {
					t.Errorf("line %d %q encoded as %q", i+1, roundTripLines[i], l)
				}
				parseIDs(t, l)
			}
			r := mustRun(t, strings.Join(ids, "\n")+"\n", "tokenizer", "encode", "--tokenizer", spec, "--decode")
			if want := strings.Join(roundTripLines, "\n") + "\n"; r.stdout != want {
				t.Errorf("decode(encode(x)) differs:\n got %q\nwant %q", r.stdout, want)
			}
		})
	}
}

func TestEncodeSpecialTokens(t *testing.T) {
	_, tok := trainTokenizer(t)
	const eot = 397 // first special token after 256 bytes and 141 merges

	got := encodeLines(t, tok, []string{"<|endoftext|>", "a<|endoftext|>b"})
	if got[0] != strconv.Itoa(eot) {
		t.Errorf("encode <|endoftext|> = %q, want %d", got[0], eot)
	}
	if ids := parseIDs(t, got[1]); !slices.Contains(ids, eot) {
		t.Errorf("encode a<|endoftext|>b = %v lacks %d", ids, eot)
	}

	ord := encodeLines(t, tok, []string{"<|endoftext|>", "a<|endoftext|>b"}, "--ordinary")
	for i, l := range ord {
		ids := parseIDs(t, l)
		if len(ids) < 3 || slices.Contains(ids, eot) || slices.ContainsFunc(ids, func(id int) bool { return id >= eot }) {
			t.Errorf("--ordinary line %d = %v: want several ordinary ids, none special", i+1, ids)
		}
	}
	r := mustRun(t, strings.Join(ord, "\n")+"\n", "tokenizer", "encode", "--tokenizer", tok, "--decode")
	if r.stdout != "<|endoftext|>\na<|endoftext|>b\n" {
		t.Errorf("decoding the --ordinary ids gave %q", r.stdout)
	}

	r = mustRun(t, got[1]+"\n", "tokenizer", "encode", "--tokenizer", tok, "--decode", "--skip-special")
	if r.stdout != "ab\n" {
		t.Errorf("--skip-special decoded %q, want \"ab\\n\"", r.stdout)
	}
}

func TestEncodeNamed(t *testing.T) {
	tests := []struct {
		tok, in, want string
		flags         []string
	}{
		{"cl100k", "hello world", "15339 1917", nil},
		{"cl100k_base", "hello world", "15339 1917", nil},
		{"cl100k", "<|endoftext|>", "100257", nil},
		{"o200k", "<|endoftext|>", "199999", nil},
		{"cl100k", "15339 1917", "hello world", []string{"--decode"}},
	}
	for _, tt := range tests {
		t.Run(tt.tok+" "+tt.in, func(t *testing.T) {
			r := mustRun(t, tt.in+"\n", append([]string{"tokenizer", "encode", "--tokenizer", tt.tok}, tt.flags...)...)
			if r.stdout != tt.want+"\n" {
				t.Errorf("got %q, want %q", r.stdout, tt.want+"\n")
			}
		})
	}
}

// Input without a final newline, and with CRLF line ends, still gives one
// output line per input line.
func TestEncodeLineEnds(t *testing.T) {
	a := mustRun(t, "hello world\r\nbye", "tokenizer", "encode", "--tokenizer", "cl100k")
	b := mustRun(t, "hello world\nbye\n", "tokenizer", "encode", "--tokenizer", "cl100k")
	if a.stdout != b.stdout || strings.Count(a.stdout, "\n") != 2 {
		t.Errorf("CRLF/no final newline gave %q, LF gave %q", a.stdout, b.stdout)
	}
	if r := mustRun(t, "", "tokenizer", "encode", "--tokenizer", "cl100k"); r.stdout != "" {
		t.Errorf("empty stdin printed %q", r.stdout)
	}
}

func TestEncodeErrors(t *testing.T) {
	_, tok := trainTokenizer(t)
	tests := []struct {
		name   string
		stdin  string
		flags  []string
		code   int
		stderr []string
	}{
		{"invalid UTF-8", "ok line\ncaf\xe9 bad\n", nil, 1, []string{"stdin line 2", "invalid UTF-8 at byte offset 3"}},
		{"decode non-number", "1 2 3\n4 x 5\n", []string{"--decode"}, 1, []string{"stdin line 2", `"x" is not a token id`}},
		{"decode out of range", "10\n20\n400\n", []string{"--decode"}, 1, []string{"stdin line 3", "token 400", "not in the vocabulary of 400 tokens"}},
		{"decode negative", "-1\n", []string{"--decode"}, 1, []string{"stdin line 1", "token -1"}},
		{"decode huge", "99999999999999999999999\n", []string{"--decode"}, 1, []string{"stdin line 1", "is not a token id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dokja(t, tt.stdin, append([]string{"tokenizer", "encode", "--tokenizer", tok}, tt.flags...)...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d; stderr %s", r.code, tt.code, r.stderr)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
				}
			}
		})
	}

	t.Run("no tokenizer", func(t *testing.T) {
		r := dokja(t, "x\n", "tokenizer", "encode")
		if r.code != 2 || !strings.Contains(r.stderr, "--tokenizer is required") {
			t.Errorf("exit %d stderr %q", r.code, r.stderr)
		}
	})
	t.Run("missing tokenizer file", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "none.json")
		r := dokja(t, "x\n", "tokenizer", "encode", "--tokenizer", missing)
		if r.code != 1 || !strings.Contains(r.stderr, "--tokenizer") || !strings.Contains(r.stderr, "none.json") {
			t.Errorf("exit %d stderr %q", r.code, r.stderr)
		}
	})
	t.Run("missing tokenizer in info", func(t *testing.T) {
		r := dokja(t, "", "tokenizer", "info", "--tokenizer", filepath.Join(t.TempDir(), "gpt5"))
		if r.code != 1 || !strings.Contains(r.stderr, "gpt5") {
			t.Errorf("exit %d stderr %q", r.code, r.stderr)
		}
	})
}

// failWriter fails every write, like a full disk or a closed pipe.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// A failed write to stdout must not exit 0: the ids would be silently lost.
func TestEncodeReportsWriteErrors(t *testing.T) {
	var stderr bytes.Buffer
	code := run(t.Context(), []string{"tokenizer", "encode", "--tokenizer", "cl100k"}, strings.NewReader("hello world\n"), failWriter{}, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "disk full") {
		t.Errorf("exit %d, stderr %q; want 1 and the write error", code, stderr.String())
	}
}

// statsRowJSON mirrors one row of "tokenizer stats --json".
type statsRowJSON struct {
	Tokenizer       string  `json:"tokenizer"`
	VocabSize       int     `json:"vocab_size"`
	CharsPerToken   float64 `json:"chars_per_token"`
	TokensPerHangul float64 `json:"tokens_per_hangul_syllable"`
	Texts           int64   `json:"texts"`
	Chars           int64   `json:"chars"`
	Hangul          int64   `json:"hangul_syllables"`
	Tokens          int64   `json:"tokens"`
}

func TestStats(t *testing.T) {
	corpus, tok := trainTokenizer(t)
	n := corpusSize()

	r := mustRun(t, "", "tokenizer", "stats", "--json", "--tokenizer", tok, "--tokenizer", "o200k", "--input", corpus)
	var rows []statsRowJSON
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("stats --json output is not JSON: %v\n%s", err, r.stdout)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2:\n%s", len(rows), r.stdout)
	}
	if rows[0].Tokenizer != tok || rows[1].Tokenizer != "o200k" {
		t.Errorf("rows name %q and %q, want %q and o200k", rows[0].Tokenizer, rows[1].Tokenizer, tok)
	}
	if rows[0].VocabSize != 400 || rows[1].VocabSize < 200000 {
		t.Errorf("vocab sizes %d and %d, want 400 and > 200000", rows[0].VocabSize, rows[1].VocabSize)
	}
	for _, row := range rows {
		if row.Texts != int64(n) || row.Tokens <= 0 || row.CharsPerToken <= 0 || row.TokensPerHangul <= 0 || row.Hangul <= 0 {
			t.Errorf("row %+v: want %d texts and positive tokens, chars/token, tokens/syllable, syllables", row, n)
		}
		if got := float64(row.Chars) / float64(row.Tokens); got != row.CharsPerToken {
			t.Errorf("%s: chars_per_token %v, want chars/tokens = %v", row.Tokenizer, row.CharsPerToken, got)
		}
		if got := float64(row.Tokens) / float64(row.Hangul); got != row.TokensPerHangul {
			t.Errorf("%s: tokens_per_hangul_syllable %v, want tokens/syllables = %v", row.Tokenizer, row.TokensPerHangul, got)
		}
	}
	if rows[0].Chars != rows[1].Chars || rows[0].Hangul != rows[1].Hangul {
		t.Errorf("the two rows measured different texts: %+v vs %+v", rows[0], rows[1])
	}

	t.Run("comma list, limit, positional input", func(t *testing.T) {
		r := mustRun(t, "", "tokenizer", "stats", "--json", "--limit", "7", "--workers", "1", "--tokenizer", tok+",cl100k", corpus)
		var rows []statsRowJSON
		if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 || rows[1].Tokenizer != "cl100k" || rows[0].Texts != 7 || rows[1].Texts != 7 {
			t.Errorf("rows %+v: want 2 rows of 7 texts, the second cl100k", rows)
		}
	})
	t.Run("table", func(t *testing.T) {
		r := mustRun(t, "", "tokenizer", "stats", "--tokenizer", tok, "--tokenizer", "cl100k", "--input", corpus)
		for _, want := range []string{fmt.Sprintf("%d texts", n), "chars/token", "tokens/syllable", tok, "cl100k", "1.000"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("table lacks %q:\n%s", want, r.stdout)
			}
		}
	})
	t.Run("errors", func(t *testing.T) {
		empty := writeCorpus(t, t.TempDir(), "empty.txt", nil)
		for _, tt := range []struct {
			args []string
			code int
			want string
		}{
			{[]string{"--input", corpus}, 2, "--tokenizer is required"},
			{[]string{"--tokenizer", "o200k"}, 2, "no --input given"},
			{[]string{"--tokenizer", "o200k", "--input", empty}, 1, "the input holds no texts"},
			{[]string{"--tokenizer", "nonesuch.tiktoken", "--input", corpus}, 1, "--tokenizer nonesuch.tiktoken"},
		} {
			r := dokja(t, "", append([]string{"tokenizer", "stats"}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stats %q: exit %d, stderr %q; want %d and %q", tt.args, r.code, r.stderr, tt.code, tt.want)
			}
		}
	})
}

func TestConvert(t *testing.T) {
	_, tok := trainTokenizer(t)
	dir := t.TempDir()

	// tokenizer.json → tokenizer.json (here with legacy merges) keeps
	// everything: special tokens, pattern, merges.
	legacy := filepath.Join(dir, "legacy.json")
	if r := mustRun(t, "", "tokenizer", "convert", "--tokenizer", tok, "--out", legacy, "--legacy-merges"); r.stdout != "wrote "+legacy+"\n" {
		t.Errorf("convert printed %q", r.stdout)
	}
	lines := append(genLines(20, 99), roundTripLines...)
	if got, want := encodeLines(t, legacy, lines), encodeLines(t, tok, lines); !slices.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("legacy.json encodes %q as %s, original as %s", lines[i], got[i], want[i])
			}
		}
	}

	// A rank file would lose the pattern and the added tokens: refused,
	// with nothing written.
	rank := filepath.Join(dir, "dokja.tiktoken")
	r := dokja(t, "", "tokenizer", "convert", "--tokenizer", tok, "--out", rank)
	if r.code != 1 || !strings.Contains(r.stderr, "--out "+rank) || !strings.Contains(r.stderr, "tokenizer.json instead") {
		t.Errorf("convert to .tiktoken: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(rank); !os.IsNotExist(err) {
		t.Errorf("a refused conversion left %s behind (%v)", rank, err)
	}
	// The tokenizer.json → tokenizer.json conversion is lossless.
	if a, b := info(t, tok), info(t, legacy); !slices.Equal(addedContents(a), addedContents(b)) || a.VocabSize != b.VocabSize || a.Merges != b.Merges || a.Pattern != b.Pattern {
		t.Errorf("json→json conversion changed the tokenizer: %+v vs %+v", a, b)
	}

	t.Run("named to json", func(t *testing.T) {
		if testing.Short() {
			t.Skip("writes and reads back cl100k's 100k-token tokenizer.json")
		}
		out := filepath.Join(t.TempDir(), "cl100k.json")
		mustRun(t, "", "tokenizer", "convert", "--tokenizer", "cl100k", "--out", out)
		if got := encodeLines(t, out, []string{"hello world", "<|endoftext|>"}); !slices.Equal(got, []string{"15339 1917", "100257"}) {
			t.Errorf("converted cl100k encodes %q", got)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--tokenizer", tok}, "--out is required"},
			{[]string{"--out", filepath.Join(t.TempDir(), "x.json")}, "--tokenizer is required"},
		} {
			r := dokja(t, "", append([]string{"tokenizer", "convert"}, tc.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("convert %q: exit %d stderr %q, want %q", tc.args, r.code, r.stderr, tc.want)
			}
		}
		r := dokja(t, "", "tokenizer", "convert", "--tokenizer", tok, "--out", filepath.Join(t.TempDir(), "no", "such", "dir.json"))
		if r.code != 1 {
			t.Errorf("convert into a missing folder: exit %d", r.code)
		}
	})
}

// A rank file named as OpenAI publishes it gets its encoding's pattern and
// special tokens, so it encodes exactly like the built-in one.
func TestOpenAIRankFile(t *testing.T) {
	cl, err := tokenizer.Named("cl100k")
	if err != nil {
		t.Fatal(err)
	}
	rank := filepath.Join(t.TempDir(), "cl100k_base.tiktoken")
	f, err := os.Create(rank)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.WriteTiktoken(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	lines := []string{"hello world", "a<|endoftext|>b", "숫자 1234567 and   spaces\tx"}
	if got, want := encodeLines(t, rank, lines), encodeLines(t, "cl100k", lines); !slices.Equal(got, want) {
		t.Errorf("cl100k_base.tiktoken encodes %q, built-in cl100k %q", got, want)
	}
}

func TestDemoCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole demo")
	}
	dir := t.TempDir()
	corpusDir := filepath.Join(dir, "corpus")
	if err := os.Mkdir(corpusDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// 120 documents of eight sentences each, Korean and English in turn.
	lines := genLinesBy(960, 7, func(i int) bool { return (i/8)%2 == 0 })
	var docs []string
	for i := 0; i < len(lines); i += 8 {
		docs = append(docs, strings.Join(lines[i:i+8], " "))
	}
	writeCorpus(t, corpusDir, "docs.jsonl", docs)
	out := filepath.Join(dir, "run")
	r := mustRun(t, "", "demo", "--corpus", corpusDir, "--out", out, "--vocab-size", "300", "--steps", "3", "--model-config", tinyConfig(t, dir))
	for _, want := range []string{"[1/9] curate", "Dokja demo: tokenizer", "held-out Korean pages", "o200k", "[4/9] pretrain", "3 steps", "[6/9] serve", "[7/9] index and search", "[8/9] agent: tools over MCP", "→ ", "[9/9] encoder", "index.html"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, f := range []string{"index.html", "summary.json", "data/report.html", "tokenizer/tokenizer.json", "train/model/config.json", "eval/report.html", "serve/samples.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}

	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	r = dokja(t, "", "demo", "--corpus", empty, "--out", filepath.Join(dir, "run2"))
	if r.code != 1 || !strings.Contains(r.stderr, "dokja demo: ") || !strings.Contains(r.stderr, "no readable files") {
		t.Errorf("empty corpus: exit %d stderr %q", r.code, r.stderr)
	}
}

func TestInitCommand(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "tok.json")
	mustRun(t, "", "tokenizer", "convert", "--tokenizer", "../../tokenizer/testdata/tiny.json", "--out", tok)
	cfgPath := tinyConfig(t, dir)
	out := filepath.Join(dir, "ckpt")
	r := mustRun(t, "", "init", "--config", cfgPath, "--tokenizer", tok, "--out", out, "--seed", "7", "--dtype", "bf16")
	if !strings.Contains(r.stdout, "Qwen2ForCausalLM") {
		t.Errorf("init printed %q", r.stdout)
	}
	for _, f := range []string{"config.json", "model.safetensors", "generation_config.json", "tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	// A tokenizer larger than the model's vocabulary is refused.
	r = dokja(t, "", "init", "--config", cfgPath, "--tokenizer", "cl100k", "--out", filepath.Join(dir, "x"))
	if r.code != 1 || !strings.Contains(r.stderr, "vocab_size 300") {
		t.Errorf("oversized tokenizer: exit %d, stderr %q", r.code, r.stderr)
	}
	r = dokja(t, "", "init", "--config", filepath.Join(dir, "missing.json"), "--out", filepath.Join(dir, "y"))
	if r.code != 1 || !strings.Contains(r.stderr, "missing.json") {
		t.Errorf("missing config: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestGenerateCommand(t *testing.T) {
	dir := t.TempDir()
	cfgPath := tinyConfig(t, dir)
	out := filepath.Join(dir, "ckpt")
	mustRun(t, "", "init", "--config", cfgPath, "--tokenizer", "../../tokenizer/testdata/tiny.json", "--out", out)
	a := mustRun(t, "", "generate", "--model", out, "--prompt", "hello", "--max-tokens", "8", "--temperature", "0")
	b := mustRun(t, "", "generate", "--model", out, "--prompt", "hello", "--max-tokens", "8", "--temperature", "0")
	if a.stdout != b.stdout || !strings.HasSuffix(a.stdout, "\n") {
		t.Fatalf("greedy generation is not repeatable: %q vs %q", a.stdout, b.stdout)
	}
	if !strings.Contains(a.stderr, "tokens=") {
		t.Errorf("no generation summary on stderr: %q", a.stderr)
	}
	r := dokja(t, "", "generate", "--model", out)
	if r.code != 2 || !strings.Contains(r.stderr, "--prompt") {
		t.Errorf("missing prompt: exit %d, stderr %q", r.code, r.stderr)
	}
	r = dokja(t, "", "generate", "--model", out, "--prompt", "x", "--temperature", "hot")
	if r.code != 2 || !strings.Contains(r.stderr, "temperature") {
		t.Errorf("bad temperature: exit %d, stderr %q", r.code, r.stderr)
	}
	// An fp16 cache generates too (the tiny model's greedy text may or
	// may not change with it); a type it does not know is named.
	h := mustRun(t, "", "generate", "--model", out, "--prompt", "hello", "--max-tokens", "8", "--temperature", "0", "--kv-cache", "f16")
	if !strings.Contains(h.stderr, "tokens=8") {
		t.Errorf("fp16 cache: %q", h.stderr)
	}
	r = dokja(t, "", "generate", "--model", out, "--prompt", "x", "--kv-cache", "q4")
	if r.code != 2 || !strings.Contains(r.stderr, "kv-cache") || !strings.Contains(r.stderr, "want f32 or f16") {
		t.Errorf("bad --kv-cache: exit %d, stderr %q", r.code, r.stderr)
	}
}

// tinyConfig writes the tiny Qwen2 test config with a vocabulary large
// enough for the 259-id test tokenizer, and returns its path.
func tinyConfig(t *testing.T, dir string) string {
	t.Helper()
	cfg, err := os.ReadFile("../../model/testdata/tiny-qwen2/config.json")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte(strings.Replace(string(cfg), `"vocab_size": 101`, `"vocab_size": 300`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
