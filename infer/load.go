package infer

import (
	"fmt"
	"strings"

	"github.com/dokja/dokja/gguf"
	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tensor"
	"github.com/dokja/dokja/tokenizer"
)

// LoadModel loads a checkpoint folder or a GGUF file with its tokenizer,
// on the named kernel path (default: the fastest).
func LoadModel(path, kernels string) (*model.Model, *tokenizer.Tokenizer, error) {
	var m *model.Model
	var tok *tokenizer.Tokenizer
	var err error
	if strings.HasSuffix(path, ".gguf") {
		// Quantized matrices stay in their blocks: less memory, faster decoding.
		if m, tok, err = model.LoadGGUFWith(path, model.GGUFOptions{KeepQuantized: true}); err != nil {
			return nil, nil, err
		}
		if tok == nil {
			return nil, nil, fmt.Errorf("%s: the file carries no tokenizer", path)
		}
	} else {
		if m, err = model.Load(path); err != nil {
			return nil, nil, err
		}
		if tok, err = tokenizer.Load(path); err != nil {
			return nil, nil, fmt.Errorf("%s: tokenizer: %w", path, err)
		}
	}
	if kernels != "" {
		if m.K, err = tensor.ByName(kernels); err != nil {
			return nil, nil, err
		}
	}
	return m, tok, nil
}

// LoadChat finds the chat template of a checkpoint folder
// (tokenizer_config.json) or a GGUF file (tokenizer.chat_template), ChatML
// when there is none.
func LoadChat(path string) (*ChatTemplate, error) {
	if !strings.HasSuffix(path, ".gguf") {
		return LoadChatTemplate(path)
	}
	chat, err := NewChatTemplate(ChatML, "", "")
	if err != nil {
		return nil, err
	}
	chat.Origin = "ChatML (no tokenizer.chat_template in " + path + ")"
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if src, err := f.String("tokenizer.chat_template"); err == nil && src != "" {
		if chat, err = NewChatTemplate(src, "", ""); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		chat.Origin = path
	}
	return chat, nil
}
