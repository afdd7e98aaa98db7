package serve

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/dokja/dokja/checkpoint"
	"github.com/dokja/dokja/infer"
)

// Load opens a checkpoint folder or a GGUF file (checkpoint.Open) into an
// engine with its chat template, named after the folder or file.
func Load(path, kernels string, opt infer.EngineOptions) (*Model, error) {
	ck, err := checkpoint.Open(path, checkpoint.Options{Kernels: kernels})
	if err != nil {
		return nil, err
	}
	chat, err := infer.CompileChat(ck.Chat)
	if err != nil {
		return nil, err
	}
	e, err := infer.NewEngine(ck.Model, ck.Tokenizer, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	name := strings.TrimSuffix(filepath.Base(filepath.Clean(path)), ".gguf")
	return &Model{Name: name, Engine: e, Chat: chat}, nil
}
