package serve

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/dokja/dokja/infer"
)

// Load loads a checkpoint folder or a GGUF file with its tokenizer
// and chat template into an engine, named after the folder or file.
func Load(path, kernels string, opt infer.EngineOptions) (*Model, error) {
	m, tok, err := infer.LoadModel(path, kernels)
	if err != nil {
		return nil, err
	}
	chat, err := infer.LoadChat(path)
	if err != nil {
		return nil, err
	}
	e, err := infer.NewEngine(m, tok, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	name := strings.TrimSuffix(filepath.Base(filepath.Clean(path)), ".gguf")
	return &Model{Name: name, Engine: e, Chat: chat}, nil
}
