package infer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tokenizer"
)

// GenerateOptions bound and shape a generation.
type GenerateOptions struct {
	MaxTokens int      // new tokens at most (default 256)
	Stop      []string // text that ends generation; not included in the output
	Sampler   SamplerOptions
}

// Result describes a finished generation.
type Result struct {
	Text         string
	PromptTokens int
	Tokens       []int  // generated ids, the stop token excluded
	FinishReason string // "stop" (end token or stop string) or "length"
}

// Generate continues prompt with m and tok, calling emit (when not nil)
// with each piece of text as soon as it is certain: pieces never split a
// UTF-8 character and never show the start of a stop string that may
// still complete. Generation ends at an end-of-sequence token, a stop
// string, MaxTokens, or when ctx is cancelled.
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
	if tok.VocabSize() > m.Config.VocabSize {
		return nil, fmt.Errorf("tokenizer has %d ids but the model only %d", tok.VocabSize(), m.Config.VocabSize)
	}
	stopIDs := endTokens(m, tok)
	sampler := NewSampler(opt.Sampler)
	cache := m.NewCache()
	res := &Result{PromptTokens: len(ids), FinishReason: "length"}
	history := append([]int(nil), ids...)
	var raw []byte // decoded bytes not yet emitted
	var text strings.Builder
	flush := func(final bool) (bool, error) {
		s := string(raw)
		// A stop string ends the text here.
		for _, st := range opt.Stop {
			if st == "" {
				continue
			}
			if i := strings.Index(text.String()+s, st); i >= 0 {
				keep := i - text.Len()
				if keep > 0 {
					if err := put(&text, s[:keep], emit); err != nil {
						return true, err
					}
				}
				raw = raw[:0]
				return true, nil
			}
		}
		// Hold back an incomplete character and any tail that could start
		// a stop string.
		n := len(s)
		if !final {
			for n > 0 && !utf8.ValidString(s[:n]) {
				n--
			}
			for _, st := range opt.Stop {
				for l := min(len(st)-1, n); l > 0; l-- {
					if strings.HasSuffix(s[:n], st[:l]) {
						n -= l
						break
					}
				}
			}
		}
		if n > 0 {
			if err := put(&text, s[:n], emit); err != nil {
				return true, err
			}
			raw = append(raw[:0], s[n:]...)
		}
		return false, nil
	}
	out, err := m.Step(cache, ids, false)
	if err != nil {
		return nil, err
	}
	for len(res.Tokens) < opt.MaxTokens {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		id := sampler.Sample(out[0], history)
		if stopIDs[id] {
			res.FinishReason = "stop"
			break
		}
		res.Tokens = append(res.Tokens, id)
		history = append(history, id)
		piece, err := tok.Decode([]int{id})
		if err != nil {
			return res, err
		}
		raw = append(raw, piece...)
		stopped, err := flush(false)
		if err != nil {
			return res, err
		}
		if stopped {
			res.FinishReason = "stop"
			res.Text = text.String()
			return res, nil
		}
		if len(res.Tokens) == opt.MaxTokens {
			break
		}
		if out, err = m.Step(cache, []int{id}, false); err != nil {
			return res, err
		}
	}
	if _, err := flush(true); err != nil {
		return res, err
	}
	res.Text = text.String()
	return res, nil
}

func put(b *strings.Builder, s string, emit func(string) error) error {
	b.WriteString(s)
	if emit != nil {
		return emit(s)
	}
	return nil
}

// endTokens are the ids that end a generation: the config's eos_token_id
// (a number or a list) and the tokenizer's usual end markers.
func endTokens(m *model.Model, tok *tokenizer.Tokenizer) map[int]bool {
	out := map[int]bool{}
	switch v := m.Config.EOSTokenID.(type) {
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
