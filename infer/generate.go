package infer

import (
	"context"
	"errors"
	"fmt"

	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tokenizer"
)

// GenerateOptions bound and shape a generation.
type GenerateOptions struct {
	MaxTokens int      // new tokens at most (default 256)
	Stop      []string // text that ends generation; not included in the output
	Sampler   SamplerOptions
}

// Generate continues prompt with m and tok, calling emit (when not nil)
// with each piece of text as soon as it is certain: pieces never split a
// UTF-8 character and never show the start of a stop string that may
// still complete. Generation ends at an end-of-sequence token, a stop
// string, MaxTokens, or when ctx is cancelled. It runs on an Engine of
// its own, the same decoding loop a server uses.
func Generate(ctx context.Context, m *model.Model, tok *tokenizer.Tokenizer, prompt string, opt GenerateOptions, emit func(string) error) (*Result, error) {
	if opt.MaxTokens <= 0 {
		opt.MaxTokens = 256
	}
	ids, err := tok.Encode(prompt)
	if err != nil {
		return nil, fmt.Errorf("prompt: %w", err)
	}
	if len(ids) == 0 {
		return nil, errors.New("prompt: empty; nothing to continue")
	}
	e, err := NewEngine(m, tok, EngineOptions{MaxBatch: 1, MaxQueue: 1, MaxContext: max(m.Config.MaxPositionEmbeddings, len(ids)+opt.MaxTokens)})
	if err != nil {
		return nil, err
	}
	defer e.Close()
	var send func(Event) error
	if emit != nil {
		send = func(ev Event) error {
			if ev.Text == "" {
				return nil
			}
			return emit(ev.Text)
		}
	}
	return e.Generate(ctx, Request{Prompt: ids, MaxTokens: opt.MaxTokens, Stop: opt.Stop, Sampler: opt.Sampler}, send)
}

// endTokens are the ids that end a generation: the config's eos_token_id
// (a number or a list) and the tokenizer's usual end markers.
func endTokens(cfg *model.Config, tok *tokenizer.Tokenizer) map[int]bool {
	out := map[int]bool{}
	switch v := cfg.EOSTokenID.(type) {
	case float64:
		out[int(v)] = true
	case []any:
		for _, x := range v {
			if f, ok := x.(float64); ok {
				out[int(f)] = true
			}
		}
	}
	for _, s := range []string{"<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "</s>"} {
		if id, ok := tok.TokenID(s); ok {
			out[id] = true
		}
	}
	return out
}
