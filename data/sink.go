package data

import (
	"fmt"

	"github.com/dokja/dokja/tokenizer"
)

// TokenizeStageOptions configure the tokenize stage, which encodes the
// pipeline's output into training shards (see Tokenize).
type TokenizeStageOptions struct {
	// Tokenizer is a tokenizer.json (or tiktoken file) to encode with.
	Tokenizer string `yaml:"tokenizer"`
	// Separator is the added token before each document (default: the
	// first of DefaultSeparators the tokenizer has).
	Separator   string  `yaml:"separator"`
	ValFraction float64 `yaml:"val_fraction"`
	ShardTokens int64   `yaml:"shard_tokens"`
	// Out is the shard folder, relative to the run folder (default "tokens").
	Out string `yaml:"out"`

	tok *tokenizer.Tokenizer
}

func defaultTokenize() *TokenizeStageOptions {
	return &TokenizeStageOptions{ValFraction: 0.005, ShardTokens: 100_000_000, Out: "tokens"}
}

func (o *TokenizeStageOptions) build(env *Env) (any, error) {
	switch {
	case o.Tokenizer == "":
		return nil, fieldErr("tokenizer", `""`, "the path of a tokenizer.json")
	case !(o.ValFraction >= 0 && o.ValFraction < 1):
		return nil, fieldErr("val_fraction", o.ValFraction, "a number in [0, 1)")
	case o.ShardTokens <= 0:
		return nil, fieldErr("shard_tokens", o.ShardTokens, "a positive number of ids")
	case o.Out == "":
		return nil, fieldErr("out", `""`, "a folder name")
	}
	tok, err := tokenizer.Load(env.path(o.Tokenizer))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if _, _, err := ChooseSeparator(tok, o.Separator); err != nil {
		return nil, fmt.Errorf("separator: %w", err)
	}
	c := *o
	c.tok = tok
	return &c, nil
}
