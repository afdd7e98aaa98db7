// Package infertest builds small random-weight models for the tests of
// the packages that decode, serve and score them (infer, serve, eval), as
// net/http/httptest does for servers.
package infertest

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tokenizer"
)

// TinyModel returns a Qwen2-shaped model (the tiny-qwen2 test config with
// 300 ids and a 4096-token context, no end token) with seeded random
// weights, and the byte-level test tokenizer (259 ids). The embedding is
// multiplied by embedScale: larger weights give peaked, input-dependent
// distributions, so that greedy decoding differs from prompt to prompt.
func TinyModel(t testing.TB, embedScale float32) (*model.Model, *tokenizer.Tokenizer) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	tok, err := tokenizer.LoadJSON(filepath.Join(root, "tokenizer", "testdata", "tiny.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := model.LoadConfig(filepath.Join(root, "model", "testdata", "tiny-qwen2"))
	if err != nil {
		t.Fatal(err)
	}
	c.VocabSize, c.EOSTokenID, c.MaxPositionEmbeddings = 300, nil, 4096
	m, err := model.NewRandom(c, 5)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Embed {
		m.Embed[i] *= embedScale
	}
	return m, tok
}
