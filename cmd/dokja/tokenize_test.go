package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dokja/dokja/shards"
	"github.com/dokja/dokja/tokenizer"
	"github.com/parquet-go/parquet-go"
)

// tokenizeDocs returns n generated documents, with added-token strings
// inside some (they must stay text) and some exact duplicates.
func tokenizeDocs(n int) []string {
	docs := genLines(n, 11)
	for i := 0; i < n; i += 97 {
		docs[i] = "앞 <|endoftext|> 뒤 " + docs[i]
	}
	for i := 50; i < n; i += 50 {
		docs[i] = docs[i-37]
	}
	return docs
}

// readSplit reads a split back as documents (the ids between separators),
// checking that each shard starts with a separator.
func readSplit(t *testing.T, dir, split string) [][]int {
	t.Helper()
	set, err := shards.OpenSet(dir, split)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	for _, sh := range set.Shards() {
		first := make([]int32, 1)
		if err := sh.Read(0, first); err != nil || int(first[0]) != sh.Separator() {
			t.Errorf("%s does not start with the separator: %v %v", sh.Path(), first, err)
		}
	}
	ids := make([]int32, set.Len())
	if err := set.Read(0, ids); err != nil {
		t.Fatal(err)
	}
	var docs [][]int
	for _, id := range ids {
		if int(id) == set.Separator() {
			docs = append(docs, []int{})
			continue
		}
		docs[len(docs)-1] = append(docs[len(docs)-1], int(id))
	}
	if int64(len(docs)) != set.Docs() {
		t.Errorf("%s: %d separators, headers say %d documents", split, len(docs), set.Docs())
	}
	return docs
}

// expectSplits encodes texts as dokja tokenize should: ordinary encoding,
// val chosen by shards.IsVal.
func expectSplits(t *testing.T, tok *tokenizer.Tokenizer, texts []string, frac float64) (train, val [][]int) {
	t.Helper()
	for _, text := range texts {
		ids, err := tok.EncodeOrdinary(text)
		if err != nil {
			t.Fatal(err)
		}
		if shards.IsVal(text, frac) {
			val = append(val, ids)
		} else {
			train = append(train, ids)
		}
	}
	return train, val
}

func equalDocs(a, b [][]int) bool {
	return slices.EqualFunc(a, b, func(x, y []int) bool { return slices.Equal(x, y) })
}

// listNames returns the names in dir.
func listNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestTokenize(t *testing.T) {
	_, tokPath := trainTokenizer(t)
	tok, err := tokenizer.Load(tokPath)
	if err != nil {
		t.Fatal(err)
	}
	sep, ok := tok.TokenID("<|endoftext|>")
	if !ok {
		t.Fatal("the test tokenizer lacks <|endoftext|>")
	}
	dir := t.TempDir()
	texts := tokenizeDocs(300)
	in := writeCorpus(t, dir, "docs.jsonl.gz", texts)
	out := filepath.Join(dir, "out")
	r := mustRun(t, "", "tokenize", "--tokenizer", tokPath, "--input", in, "--out", out,
		"--val-fraction", "0.2", "--shard-tokens", "2000")
	if !strings.Contains(r.stdout, fmt.Sprintf("wrote %s: %d documents", out, len(texts))) || !strings.Contains(r.stdout, "tokens/s") {
		t.Errorf("summary:\n%s", r.stdout)
	}
	wantTrain, wantVal := expectSplits(t, tok, texts, 0.2)
	if len(wantVal) == 0 || len(wantTrain) == 0 {
		t.Fatalf("the test corpus splits %d/%d", len(wantTrain), len(wantVal))
	}
	gotTrain, gotVal := readSplit(t, out, "train"), readSplit(t, out, "val")
	if !equalDocs(gotTrain, wantTrain) {
		t.Errorf("train documents differ from EncodeOrdinary of the texts (%d vs %d docs)", len(gotTrain), len(wantTrain))
	}
	if !equalDocs(gotVal, wantVal) {
		t.Errorf("val documents differ from EncodeOrdinary of the texts (%d vs %d docs)", len(gotVal), len(wantVal))
	}
	// The added-token string inside documents stayed text.
	for _, d := range append(gotTrain, gotVal...) {
		if slices.Contains(d, sep) {
			t.Fatal("a document holds the separator id")
		}
	}
	// Duplicates land in the same split.
	for i := 50; i < len(texts); i += 50 {
		if shards.IsVal(texts[i], 0.2) != shards.IsVal(texts[i-37], 0.2) {
			t.Fatal("duplicates split apart")
		}
	}

	m, err := shards.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	tokData, err := os.ReadFile(filepath.Join(out, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(tokData)
	if m.TokenizerSHA256 != hex.EncodeToString(sum[:]) || m.Tokenizer != "tokenizer.json" || m.Vocab != tok.VocabSize() ||
		m.Separator != sep || m.SeparatorToken != "<|endoftext|>" || m.ValFraction != 0.2 || !slices.Equal(m.Inputs, []string{in}) || m.Created.IsZero() {
		t.Errorf("manifest %+v", m)
	}
	copied, err := tokenizer.Load(filepath.Join(out, "tokenizer.json"))
	if err != nil || copied.VocabSize() != tok.VocabSize() {
		t.Errorf("tokenizer copy: %v", err)
	}
	train := m.Splits["train"]
	if train.Documents != int64(len(wantTrain)) || m.Splits["val"].Documents != int64(len(wantVal)) || len(train.Files) < 2 {
		t.Errorf("manifest splits %+v", m.Splits)
	}
	var files []string
	for _, sp := range []string{"train", "val"} {
		for i, f := range m.Splits[sp].Files {
			if f != shards.ShardName(sp, i) {
				t.Errorf("%s file %d is %s", sp, i, f)
			}
			files = append(files, f)
		}
	}
	slices.Sort(files)
	want := append(files, "manifest.json", "tokenizer.json")
	slices.Sort(want)
	if got := listNames(t, out); !slices.Equal(got, want) {
		t.Errorf("folder holds %v, want %v", got, want)
	}
}

// The output does not depend on the number of workers, and the val split
// depends on the text alone.
func TestTokenizeDeterministic(t *testing.T) {
	_, tokPath := trainTokenizer(t)
	dir := t.TempDir()
	texts := tokenizeDocs(2500) // several batches
	in := writeCorpus(t, dir, "docs.jsonl", texts)
	run := func(name string, extra ...string) string {
		out := filepath.Join(dir, name)
		mustRun(t, "", append([]string{"tokenize", "--tokenizer", tokPath, "--input", in, "--out", out,
			"--val-fraction", "0.1", "--shard-tokens", "20000"}, extra...)...)
		return out
	}
	one, two := run("w1", "--workers", "1"), run("w2", "--workers", "2")
	names := listNames(t, one)
	if !slices.Equal(names, listNames(t, two)) {
		t.Fatalf("different files: %v vs %v", names, listNames(t, two))
	}
	shardsSeen := 0
	for _, n := range names {
		a, _ := os.ReadFile(filepath.Join(one, n))
		b, _ := os.ReadFile(filepath.Join(two, n))
		if n == "manifest.json" {
			continue // holds the creation time
		}
		if strings.HasSuffix(n, ".tok") {
			shardsSeen++
		}
		if !slices.Equal(a, b) {
			t.Errorf("%s differs between --workers 1 and 2", n)
		}
	}
	if shardsSeen < 3 {
		t.Errorf("only %d shards: %v", shardsSeen, names)
	}
	m1, _ := shards.ReadManifest(one)
	m2, _ := shards.ReadManifest(two)
	if fmt.Sprint(m1.Splits) != fmt.Sprint(m2.Splits) {
		t.Errorf("manifests differ: %v vs %v", m1.Splits, m2.Splits)
	}

	// A shorter run (--limit) sends the same documents to val.
	tok, _ := tokenizer.Load(tokPath)
	lim := run("limited", "--limit", "700")
	m3, _ := shards.ReadManifest(lim)
	if got := m3.Splits["train"].Documents + m3.Splits["val"].Documents; got != 700 {
		t.Errorf("--limit 700 wrote %d documents", got)
	}
	_, wantVal := expectSplits(t, tok, texts[:700], 0.1)
	if got := readSplit(t, lim, "val"); !equalDocs(got, wantVal) {
		t.Errorf("val of the limited run: %d docs, want %d", len(got), len(wantVal))
	}
}

// Folders are expanded, plain text and JSONL mixed, no val split with
// --val-fraction 0, and a 200k vocabulary takes 4-byte ids.
func TestTokenizeFolderAndWideVocab(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o755)
	a := writeCorpus(t, src, "a.txt", []string{"안녕하세요, 세계!", "second line"})
	b := writeCorpus(t, src, "b.jsonl", []string{"<|endoftext|> as text", "마지막"})
	out := filepath.Join(dir, "out")
	r := mustRun(t, "", "tokenize", "--tokenizer", "o200k", "--input", src, "--out", out, "--val-fraction", "0")
	if strings.Contains(r.stderr, "val") {
		t.Errorf("a warning about val with --val-fraction 0:\n%s", r.stderr)
	}
	m, err := shards.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Splits["val"]; ok || !slices.Equal(m.Inputs, []string{a, b}) || m.Vocab != 200019 {
		t.Errorf("manifest %+v", m)
	}
	if _, err := os.Stat(filepath.Join(out, "val-00000.tok")); !os.IsNotExist(err) {
		t.Error("a val shard with --val-fraction 0")
	}
	sh, err := shards.Open(filepath.Join(out, "train-00000.tok"))
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	if sh.Width() != 4 || sh.Docs() != 4 || sh.Vocab() != 200019 {
		t.Errorf("width %d docs %d vocab %d", sh.Width(), sh.Docs(), sh.Vocab())
	}
	tok, _ := tokenizer.Load("o200k")
	train, _ := expectSplits(t, tok, []string{"안녕하세요, 세계!", "second line", "<|endoftext|> as text", "마지막"}, 0)
	if got := readSplit(t, out, "train"); !equalDocs(got, train) {
		t.Errorf("got %v, want %v", got, train)
	}
}

func TestTokenizeBadRecords(t *testing.T) {
	_, tokPath := trainTokenizer(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "mixed.jsonl")
	os.WriteFile(in, []byte(`{"text": "첫 줄"}`+"\n"+`{"text": "unterminated`+"\n"+`{"text": 42}`+"\n"+`{"text": "넷째 줄"}`+"\n"), 0o644)
	out := filepath.Join(dir, "out")
	r := mustRun(t, "", "tokenize", "--tokenizer", tokPath, "--input", in, "--out", out, "--val-fraction", "0")
	for _, s := range []string{"skipped bad records", "count=2", in + " line 2"} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}
	if m, err := shards.ReadManifest(out); err != nil || m.Splits["train"].Documents != 2 {
		t.Errorf("manifest %+v, %v", m, err)
	}
	strictOut := filepath.Join(dir, "strict")
	r = dokja(t, "", "tokenize", "--tokenizer", tokPath, "--input", in, "--out", strictOut, "--strict")
	if r.code != 1 || !strings.Contains(r.stderr, in+" line 2") || !strings.Contains(r.stderr, "invalid JSON") {
		t.Errorf("--strict: exit %d\n%s", r.code, r.stderr)
	}
	if names := listNames(t, strictOut); len(names) != 0 {
		t.Errorf("a failed run left %v", names)
	}
}

func TestTokenizeErrors(t *testing.T) {
	_, tokPath := trainTokenizer(t)
	dir := t.TempDir()
	good := writeCorpus(t, dir, "good.jsonl", genLines(20, 3))
	empty := writeCorpus(t, dir, "empty.txt", nil)
	// A tokenizer without added tokens.
	pieces := make([]string, 256)
	for i := range pieces {
		pieces[i] = string([]byte{byte(i)})
	}
	bare, err := tokenizer.FromRanks(pieces, tokenizer.PatternO200K, nil)
	if err != nil {
		t.Fatal(err)
	}
	barePath := filepath.Join(dir, "bare.json")
	if err := bare.SaveJSON(barePath); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr []string
	}{
		{"no separator", []string{"--tokenizer", barePath, "--input", good}, 1,
			[]string{"none of <|endoftext|>, </s>, <|end_of_text|>, <eos>", "it has no added tokens", "--separator"}},
		{"unknown separator", []string{"--tokenizer", tokPath, "--input", good, "--separator", "</s>"}, 1,
			[]string{`--separator "</s>" is not an added token`, "<|im_start|>"}},
		{"missing input", []string{"--tokenizer", tokPath, "--input", filepath.Join(dir, "nope.jsonl")}, 1, []string{"nope.jsonl", "no such file"}},
		{"no input", []string{"--tokenizer", tokPath}, 2, []string{"no --input given", "Usage: dokja tokenize"}},
		{"no tokenizer", []string{"--input", good}, 2, []string{"--tokenizer is required"}},
		{"bad tokenizer", []string{"--tokenizer", filepath.Join(dir, "none.json"), "--input", good}, 1, []string{"--tokenizer", "none.json"}},
		{"bad val fraction", []string{"--tokenizer", tokPath, "--input", good, "--val-fraction", "1"}, 1, []string{"--val-fraction 1: must be in [0, 1)"}},
		{"bad shard size", []string{"--tokenizer", tokPath, "--input", good, "--shard-tokens", "0"}, 1, []string{"--shard-tokens 0: must be positive"}},
		{"bad workers", []string{"--tokenizer", tokPath, "--input", good, "--workers", "0"}, 1, []string{"--workers 0"}},
		{"empty input", []string{"--tokenizer", tokPath, "--input", empty}, 1, []string{"the input holds no texts"}},
		{"bad flag", []string{"--tokenizer", tokPath, "--input", good, "--nope"}, 2, []string{"flag provided but not defined: -nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			r := dokja(t, "", append([]string{"tokenize", "--out", out}, tt.args...)...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstderr: %s", r.code, tt.code, r.stderr)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
				}
			}
			if tt.code == 1 && !strings.Contains(r.stderr, "dokja tokenize: ") {
				t.Errorf("stderr lacks the command prefix:\n%s", r.stderr)
			}
			if names, _ := os.ReadDir(out); len(names) != 0 {
				t.Errorf("a failed run left %v", names)
			}
		})
	}
	t.Run("no out", func(t *testing.T) {
		r := dokja(t, "", "tokenize", "--tokenizer", tokPath, "--input", good)
		if r.code != 2 || !strings.Contains(r.stderr, "--out is required") {
			t.Errorf("exit %d\n%s", r.code, r.stderr)
		}
	})
}

func TestTokenizeExistingOutput(t *testing.T) {
	_, tokPath := trainTokenizer(t)
	dir := t.TempDir()
	in := writeCorpus(t, dir, "a.jsonl", genLines(40, 8))
	out := filepath.Join(dir, "out")
	args := []string{"tokenize", "--tokenizer", tokPath, "--input", in, "--out", out, "--val-fraction", "0"}
	mustRun(t, "", args...)
	before, _ := os.ReadFile(filepath.Join(out, "train-00000.tok"))

	r := dokja(t, "", args...)
	if r.code != 1 || !strings.Contains(r.stderr, "already holds a tokenization (manifest.json and 1 .tok files); use --force") {
		t.Errorf("second run: exit %d\n%s", r.code, r.stderr)
	}
	// Shards without a manifest (an interrupted run) are refused too.
	os.Remove(filepath.Join(out, "manifest.json"))
	stale := filepath.Join(out, "train-00007.tok")
	os.WriteFile(stale, []byte("old"), 0o644)
	r = dokja(t, "", args...)
	if r.code != 1 || !strings.Contains(r.stderr, "(2 .tok files); use --force") {
		t.Errorf("run over shards: exit %d\n%s", r.code, r.stderr)
	}
	mustRun(t, "", append(args, "--force")...)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Error("--force kept a stale shard")
	}
	after, _ := os.ReadFile(filepath.Join(out, "train-00000.tok"))
	if !slices.Equal(before, after) {
		t.Error("the rerun wrote a different shard")
	}
	if _, err := shards.ReadManifest(out); err != nil {
		t.Error(err)
	}
}

func TestTokenizeWarnsWithoutVal(t *testing.T) {
	_, tokPath := trainTokenizer(t)
	dir := t.TempDir()
	in := writeCorpus(t, dir, "a.txt", []string{"one", "two"})
	r := mustRun(t, "", "tokenize", "--tokenizer", tokPath, "--input", in, "--out", filepath.Join(dir, "out"), "--val-fraction", "0.0001")
	if !strings.Contains(r.stderr, "no document went to the val split") {
		t.Errorf("no warning:\n%s", r.stderr)
	}
}

func TestTokenizeInterrupted(t *testing.T) {
	_, tokPath := trainTokenizer(t)
	dir := t.TempDir()
	in := writeCorpus(t, dir, "a.jsonl", genLines(3000, 9))
	out := filepath.Join(dir, "out")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := dokjaCtx(ctx, "", "tokenize", "--tokenizer", tokPath, "--input", in, "--out", out)
	if r.code != 130 || !strings.Contains(r.stderr, "dokja: interrupted") {
		t.Errorf("exit %d stderr %q, want 130 and \"dokja: interrupted\"", r.code, r.stderr)
	}
	if names := listNames(t, out); len(names) != 0 {
		t.Errorf("an interrupted run left %v", names)
	}
}

func TestTokenizeHelp(t *testing.T) {
	r := dokja(t, "", "tokenize", "-h")
	for _, s := range []string{"Usage: dokja tokenize", "-val-fraction", "-shard-tokens", "-separator", "ordinary text"} {
		if !strings.Contains(r.stdout, s) || r.code != 0 {
			t.Errorf("help (exit %d) lacks %q on stdout:\n%s", r.code, s, r.stdout)
		}
	}
	if r := mustRun(t, "", "help"); !strings.Contains(r.stdout, "  tokenize ") {
		t.Errorf("help lacks tokenize:\n%s", r.stdout)
	}
}

// Interrupting a run that has already finished shards removes them: the
// input is a pipe that the test keeps open until a shard appears.
func TestTokenizeInterruptedMidway(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads a pipe through /dev/fd")
	}
	_, tokPath := trainTokenizer(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	out := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan cliResult, 1)
	go func() {
		done <- dokjaCtx(ctx, "", "tokenize", "--tokenizer", tokPath, "--input", fmt.Sprintf("/dev/fd/%d", pr.Fd()),
			"--out", out, "--shard-tokens", "300", "--val-fraction", "0", "--format", "text")
	}()
	for _, l := range genLines(2500, 10) {
		if _, err := pw.WriteString(l + "\n"); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(out, "train-00000.tok")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no shard appeared; folder holds %v", listNames(t, out))
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	pw.Close()
	r := <-done
	if r.code != 130 || !strings.Contains(r.stderr, "dokja: interrupted") {
		t.Errorf("exit %d stderr %q, want 130 and \"dokja: interrupted\"", r.code, r.stderr)
	}
	if names := listNames(t, out); len(names) != 0 {
		t.Errorf("an interrupted run left %v", names)
	}
}

// Parquet input (a "body" column, chosen with --field) gives the same
// shards as the same texts in JSON lines.
func TestTokenizeParquet(t *testing.T) {
	_, tokPath := trainTokenizer(t)
	dir := t.TempDir()
	texts := tokenizeDocs(120)
	type row struct {
		ID   int64  `parquet:"id"`
		Body string `parquet:"body"`
	}
	rows := make([]row, len(texts))
	for i, s := range texts {
		rows[i] = row{ID: int64(i), Body: s}
	}
	pq := filepath.Join(dir, "docs.parquet")
	if err := parquet.WriteFile(pq, rows); err != nil {
		t.Fatal(err)
	}
	jl := writeCorpus(t, dir, "docs.jsonl", texts)
	fromPQ, fromJL := filepath.Join(dir, "pq"), filepath.Join(dir, "jl")
	mustRun(t, "", "tokenize", "--tokenizer", tokPath, "--input", pq, "--field", "body", "--out", fromPQ, "--val-fraction", "0.2")
	mustRun(t, "", "tokenize", "--tokenizer", tokPath, "--input", jl, "--out", fromJL, "--val-fraction", "0.2")
	for _, split := range []string{"train", "val"} {
		a, b := readSplit(t, fromPQ, split), readSplit(t, fromJL, split)
		if len(a) == 0 || !equalDocs(a, b) {
			t.Errorf("%s: %d documents from Parquet, %d from JSON lines, or they differ", split, len(a), len(b))
		}
	}
	r := dokja(t, "", "tokenize", "--tokenizer", tokPath, "--input", pq, "--out", filepath.Join(dir, "x"), "--format", "csv")
	if r.code != 2 || !strings.Contains(r.stderr, "parquet or warc") {
		t.Errorf("bad --format: exit %d, stderr %q", r.code, r.stderr)
	}
}
