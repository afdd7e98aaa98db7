package eval

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/tokenizer"
)

// WeightsSHA256 identifies a checkpoint folder's weights: the SHA-256 of
// model.safetensors, or for sharded weights of all *.safetensors files in
// name order, one after the other.
func WeightsSHA256(dir string) (string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if err != nil {
		return "", err
	}
	if len(files) == 0 {
		return "", fmt.Errorf("%s: no .safetensors files", dir)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("%s: %w", p, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// endOfText are the spellings of end-of-text tokens tried, in order, when
// a model names no BOS or EOS id.
var endOfText = []string{"<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>", "<|begin_of_text|>", "<s>", "<bos>"}

// PrefixToken picks the token that starts a document for rolling
// log-likelihood and stands in for an empty context: the config's
// bos_token_id, else its eos_token_id (the harness's prefix_token_id is the
// end-of-text token unless a BOS is asked for), else the tokenizer's
// end-of-text token. cfg may be nil.
func PrefixToken(cfg *model.Config, tok *tokenizer.Tokenizer) (int, error) {
	if cfg != nil {
		for _, v := range []any{cfg.BOSTokenID, cfg.EOSTokenID} {
			if id, ok := firstID(v); ok && id >= 0 && id < tok.VocabSize() {
				return id, nil
			}
		}
	}
	for _, s := range endOfText {
		if id, ok := tok.TokenID(s); ok {
			return id, nil
		}
	}
	return 0, errors.New("the model names no BOS or EOS token and the tokenizer has no end-of-text token to start documents with")
}

func firstID(v any) (int, bool) {
	switch x := v.(type) {
	case float64:
		return int(x), x == float64(int(x))
	case int:
		return x, true
	case []any:
		if len(x) > 0 {
			return firstID(x[0])
		}
	}
	return 0, false
}
