package infer

import (
	"github.com/dokja/dokja/checkpoint"
	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tokenizer"
)

// LoadModel opens a checkpoint folder or a GGUF file with its tokenizer
// (checkpoint.Open; quantized GGUF matrices stay in their blocks), on the
// named kernel path (default: the fastest).
func LoadModel(path, kernels string) (*model.Model, *tokenizer.Tokenizer, error) {
	ck, err := checkpoint.Open(path, checkpoint.Options{Kernels: kernels})
	if err != nil {
		return nil, nil, err
	}
	return ck.Model, ck.Tokenizer, nil
}
