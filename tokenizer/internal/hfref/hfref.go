// Package hfref runs the reference tokenizer, Tokenizers.js (the
// tokenizer/testdata/hfref harness), for the tests of Dokja's tokenizers.
package hfref

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Dir is the harness folder.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "hfref")
}

// IDs encodes each text with the tokenizer.json at path through
// Tokenizers.js (no template special tokens). Without Node.js or the
// harness it skips the test, or fails it under CI=true.
func IDs(t testing.TB, path string, texts []string) [][]int {
	t.Helper()
	dir := Dir()
	problem := ""
	if _, err := exec.LookPath("node"); err != nil {
		problem = "node is not on PATH"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "@huggingface", "tokenizers")); err != nil {
		problem = "Tokenizers.js is not installed"
	}
	if problem != "" {
		msg := problem + "; run `npm ci --prefix tokenizer/testdata/hfref`"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var in bytes.Buffer
	for _, s := range texts {
		b, _ := json.Marshal(s)
		in.Write(append(b, '\n'))
	}
	abs, _ := filepath.Abs(path)
	cmd := exec.Command("node", filepath.Join(dir, "encode.mjs"), abs)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("encode.mjs: %v\n%s", err, stderr.String())
	}
	var ids [][]int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var v []int
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		ids = append(ids, v)
	}
	return ids
}
