// Package checkpoint opens the model files Dokja reads, a Hugging Face
// folder (config.json, safetensors single or sharded in f32, f16 or bf16,
// tokenizer.json, tokenizer_config.json or chat_template.jinja) or a GGUF
// file, as one thing: the model, its tokenizer and its chat template.
// Every command that takes a model path opens it here, so a path means
// the same model, with the same arithmetic, in generate, chat, serve,
// eval, train and export.
package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dokja/dokja/gguf"
	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/safetensors"
	"github.com/dokja/dokja/tensor"
	"github.com/dokja/dokja/tokenizer"
)

// Options adjust Open.
type Options struct {
	// Kernels names the matrix path (portable, simd, openblas); "" picks
	// the fastest this build and CPU have.
	Kernels string
	// Dequantize converts a GGUF file's quantized matrices to float32, as
	// training and GGUF export need. Otherwise Q8_0, Q4_0 and Q4_K
	// matrices stay in their blocks and products run on them: less memory,
	// faster decoding, and the arithmetic llama.cpp runs.
	Dequantize bool
	// TokenizerOptional lets a folder without tokenizer.json (or a GGUF
	// file without a tokenizer) open with a nil Tokenizer.
	TokenizerOptional bool
}

// Checkpoint is an opened model with what came with it.
type Checkpoint struct {
	// Path is the folder or file opened; GGUF tells which.
	Path string
	GGUF bool
	// Model holds the weights (quantized GGUF matrices stay in their
	// blocks unless Options.Dequantize).
	Model *model.Model
	// Tokenizer is nil only with Options.TokenizerOptional.
	Tokenizer *tokenizer.Tokenizer
	// Chat is the chat template the checkpoint ships (Source "" if none).
	Chat ChatTemplate
}

// ChatTemplate is a chat template as a checkpoint ships it: Jinja source,
// the bos_token and eos_token values it renders with, and where it was
// found. Source is empty when the checkpoint has none.
type ChatTemplate struct {
	Source, BOS, EOS string
	Origin           string
}

// IsGGUF reports whether path names a GGUF file: by its suffix, as every
// tool names them, or by its first four bytes ("GGUF").
func IsGGUF(path string) bool {
	if strings.HasSuffix(strings.ToLower(path), ".gguf") {
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	_, err = io.ReadFull(f, magic[:])
	return err == nil && string(magic[:]) == "GGUF"
}

// Open opens a checkpoint folder or a GGUF file.
func Open(path string, opt Options) (*Checkpoint, error) {
	ck := &Checkpoint{Path: path, GGUF: IsGGUF(path)}
	var err error
	if ck.GGUF {
		ck.Model, ck.Tokenizer, err = model.LoadGGUFWith(path, model.GGUFOptions{KeepQuantized: !opt.Dequantize})
		if err != nil {
			return nil, err
		}
		if ck.Tokenizer == nil && !opt.TokenizerOptional {
			return nil, fmt.Errorf("%s: the file carries no tokenizer", path)
		}
	} else {
		st, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("%s: neither a checkpoint folder (config.json, model.safetensors, ...) nor a GGUF file", path)
		}
		if ck.Model, err = model.Load(path); err != nil {
			return nil, err
		}
		tj := filepath.Join(path, "tokenizer.json")
		if _, err := os.Stat(tj); errors.Is(err, fs.ErrNotExist) && opt.TokenizerOptional {
			// none, and that is allowed
		} else if ck.Tokenizer, err = tokenizer.LoadJSON(tj); err != nil {
			return nil, fmt.Errorf("%s: tokenizer: %w", path, err)
		}
	}
	if opt.Kernels != "" {
		if ck.Model.K, err = tensor.ByName(opt.Kernels); err != nil {
			return nil, err
		}
	}
	if ck.Chat, err = ReadChatTemplate(path); err != nil {
		return nil, err
	}
	return ck, nil
}

// ReadChatTemplate finds the chat template of a checkpoint folder
// (chat_template.jinja, as recent Hugging Face releases ship it, or
// tokenizer_config.json's chat_template: a string, or the "default" of a
// list of named templates) or of a GGUF file (tokenizer.chat_template).
// A checkpoint without one gives an empty Source and no error.
func ReadChatTemplate(path string) (ChatTemplate, error) {
	if IsGGUF(path) {
		f, err := gguf.Open(path)
		if err != nil {
			return ChatTemplate{}, err
		}
		defer f.Close()
		t := ChatTemplate{Origin: path}
		if src, err := f.String("tokenizer.chat_template"); err == nil {
			t.Source = src
		} else if !errors.Is(err, gguf.ErrNotFound) {
			return ChatTemplate{}, err
		}
		t.BOS, t.EOS = ggufToken(f, "tokenizer.ggml.bos_token_id"), ggufToken(f, "tokenizer.ggml.eos_token_id")
		return t, nil
	}
	var t ChatTemplate
	cfgPath := filepath.Join(path, "tokenizer_config.json")
	data, err := os.ReadFile(cfgPath)
	switch {
	case err == nil:
		var cfg struct {
			ChatTemplate json.RawMessage `json:"chat_template"`
			BOS          json.RawMessage `json:"bos_token"`
			EOS          json.RawMessage `json:"eos_token"`
		}
		if err := json.Unmarshal(data, &cfg); err != nil {
			return ChatTemplate{}, fmt.Errorf("%s: %w", cfgPath, err)
		}
		if t.Source, err = templateSource(cfg.ChatTemplate); err != nil {
			return ChatTemplate{}, fmt.Errorf("%s: field \"chat_template\": %w", cfgPath, err)
		}
		t.BOS, t.EOS, t.Origin = specialToken(cfg.BOS), specialToken(cfg.EOS), cfgPath
	case !errors.Is(err, fs.ErrNotExist):
		return ChatTemplate{}, err
	}
	jinjaPath := filepath.Join(path, "chat_template.jinja")
	if src, err := os.ReadFile(jinjaPath); err == nil {
		t.Source, t.Origin = string(src), jinjaPath
	} else if !errors.Is(err, fs.ErrNotExist) {
		return ChatTemplate{}, err
	}
	return t, nil
}

// ggufToken returns the text of the token a GGUF key names by id, or "".
func ggufToken(f *gguf.File, key string) string {
	id, err := f.Uint(key)
	if err != nil {
		return ""
	}
	tokens, err := f.Strings("tokenizer.ggml.tokens")
	if err != nil || id >= uint64(len(tokens)) {
		return ""
	}
	return tokens[id]
}

// templateSource accepts a template string or a list of {name, template}.
func templateSource(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var named []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(raw, &named); err != nil {
		return "", errors.New("want a string or a list of {name, template}")
	}
	for _, n := range named {
		if n.Name == "default" {
			return n.Template, nil
		}
	}
	return "", errors.New("no template named \"default\" in the list")
}

// specialToken reads a bos/eos entry: a string or an {"content": ...} object.
func specialToken(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj struct {
		Content string `json:"content"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return obj.Content
	}
	return ""
}

// Info is what a checkpoint is, read without its weights.
type Info struct {
	Path string
	GGUF bool
	// Config is the model's configuration (config.json, or the GGUF
	// file's metadata).
	Config *model.Config
	// Tokenizer is nil when the checkpoint has none.
	Tokenizer *tokenizer.Tokenizer
	Chat      ChatTemplate
	// Types counts the stored tensors by type (F32, BF16, Q8_0, Q4_K, ...).
	Types map[string]int
	// Bytes is the size of the weight files.
	Bytes int64
}

// Inspect reads a checkpoint folder's config.json, tokenizer and safetensors
// headers, or a GGUF file's metadata: cheap whatever the model's size, as
// the weights are not read.
func Inspect(path string) (*Info, error) {
	info := &Info{Path: path, GGUF: IsGGUF(path), Types: map[string]int{}}
	var err error
	if info.GGUF {
		if info.Config, info.Tokenizer, info.Types, err = model.ReadGGUFInfo(path); err != nil {
			return nil, err
		}
		st, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		info.Bytes = st.Size()
	} else {
		if info.Config, err = model.LoadConfig(filepath.Join(path, "config.json")); err != nil {
			return nil, err
		}
		set, err := safetensors.OpenSharded(path)
		if err != nil {
			return nil, err
		}
		for _, name := range set.Names() {
			t, _ := set.Info(name)
			info.Types[string(t.DType)]++
			info.Bytes += int64(t.Size)
		}
		set.Close()
		tj := filepath.Join(path, "tokenizer.json")
		if _, err := os.Stat(tj); err == nil {
			if info.Tokenizer, err = tokenizer.LoadJSON(tj); err != nil {
				return nil, fmt.Errorf("%s: tokenizer: %w", path, err)
			}
		}
	}
	if info.Chat, err = ReadChatTemplate(path); err != nil {
		return nil, err
	}
	return info, nil
}
