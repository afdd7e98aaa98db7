package serve

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/dokja/dokja/encoder"
	"github.com/dokja/dokja/tokenizer"
	"github.com/dokja/dokja/tokenizer/unigram"
	"github.com/dokja/dokja/tokenizer/wordpiece"
)

// Embedder is an encoder served at /v1/embeddings.
type Embedder struct {
	Name  string
	Model encoder.Encoder
	// Tok encodes string inputs, with the special tokens the model
	// expects ([CLS] ... [SEP], <s> ... </s>); without it the model takes
	// token ids only (TokErr says why).
	Tok     TextEncoder
	TokErr  error
	Pooling encoder.Pooling
	// Normalize scales embeddings to unit length.
	Normalize bool

	// Concurrent requests batch through one forward pass (batch.go).
	mu    sync.Mutex
	queue []*embedJob
	busy  bool
	// onQueue, for tests, is called after a request joins the queue.
	onQueue func()
}

// TextEncoder turns text into a model's input ids.
type TextEncoder interface {
	Encode(text string) ([]int, error)
}

// withSpecial encodes through a WordPiece or Unigram tokenizer's
// template.
type withSpecial struct {
	t interface {
		EncodeWithSpecial(string) ([]int, error)
	}
}

func (w withSpecial) Encode(text string) ([]int, error) { return w.t.EncodeWithSpecial(text) }

// withTemplate encodes with a BPE tokenizer and puts its post_processor's
// special tokens around the ids ([CLS] ... [SEP] for ModernBERT).
type withTemplate struct {
	t             *tokenizer.Tokenizer
	before, after []int
}

func (w withTemplate) Encode(text string) ([]int, error) {
	ids, err := w.t.Encode(text)
	if err != nil {
		return nil, err
	}
	out := append(append([]int(nil), w.before...), ids...)
	return append(out, w.after...), nil
}

// LoadEmbedder opens an encoder folder (see encoder.Open) with its
// tokenizer.json and its sentence-transformers pooling (1_Pooling/
// config.json, and a Normalize module in modules.json); without those,
// mean pooling, normalised.
func LoadEmbedder(dir string) (*Embedder, error) {
	m, err := encoder.Open(dir)
	if err != nil {
		return nil, err
	}
	e := &Embedder{Name: filepath.Base(filepath.Clean(dir)), Model: m, Pooling: encoder.PoolMean, Normalize: true}
	// One read of the model type picks the tokenizer's reader.
	tokPath := filepath.Join(dir, "tokenizer.json")
	switch tokenizer.ModelType(tokPath) {
	case "WordPiece":
		wp, err := wordpiece.Load(tokPath)
		if err != nil {
			return nil, err
		}
		e.Tok = withSpecial{wp}
	case "Unigram":
		ug, err := unigram.Load(tokPath)
		if err != nil {
			return nil, err
		}
		e.Tok = withSpecial{ug}
	default:
		t, err := tokenizer.LoadJSON(tokPath)
		if err != nil {
			e.TokErr = err
			break
		}
		before, after, err := t.Template()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", tokPath, err)
		}
		e.Tok = withTemplate{t, before, after}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "1_Pooling", "config.json")); err == nil {
		var p struct {
			CLS  bool `json:"pooling_mode_cls_token"`
			Mean bool `json:"pooling_mode_mean_tokens"`
			Last bool `json:"pooling_mode_lasttoken"`
		}
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "1_Pooling", "config.json"), err)
		}
		switch {
		case p.CLS:
			e.Pooling = encoder.PoolCLS
		case p.Last:
			e.Pooling = encoder.PoolLast
		case p.Mean:
			e.Pooling = encoder.PoolMean
		}
		e.Normalize = false
		if b, err := os.ReadFile(filepath.Join(dir, "modules.json")); err == nil {
			e.Normalize = strings.Contains(string(b), "sentence_transformers.models.Normalize")
		}
	}
	return e, nil
}

// embeddingInput is a string, a list of strings, a list of token ids or
// a list of lists of token ids.
type embeddingInput struct {
	texts []string
	ids   [][]int
}

func (in *embeddingInput) UnmarshalJSON(b []byte) error {
	var p promptList
	if err := p.UnmarshalJSON(b); err != nil {
		return errors.New("want a string, a list of strings, a list of token ids or a list of lists of token ids")
	}
	in.texts, in.ids = p.texts, p.ids
	return nil
}

type embeddingRequest struct {
	Model          string         `json:"model"`
	Input          embeddingInput `json:"input"`
	EncodingFormat string         `json:"encoding_format"`
	Dimensions     *int           `json:"dimensions"`
	User           string         `json:"user"`
}

type embeddingData struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"`
}

type embeddingResponse struct {
	Object string          `json:"object"`
	Data   []embeddingData `json:"data"`
	Model  string          `json:"model"`
	Usage  struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

// maxEmbedInputs bounds the inputs of one request.
const maxEmbedInputs = 256

func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) {
	var req embeddingRequest
	if !s.decode(w, r, &req) {
		return
	}
	e, ok := s.embedders[req.Model]
	if !ok {
		s.failErr(w, r, &requestError{http.StatusNotFound, "invalid_request_error", "model_not_found",
			fmt.Sprintf("the model %q is not an embedding model here (GET /v1/models lists them)", req.Model), "model"})
		return
	}
	format := req.EncodingFormat
	if format == "" {
		format = "float"
	}
	if format != "float" && format != "base64" {
		s.failErr(w, r, badRequest("encoding_format", "encoding_format %q: want float or base64", format))
		return
	}
	if req.Dimensions != nil && *req.Dimensions != e.Model.Dim() {
		s.failErr(w, r, badRequest("dimensions", "dimensions %d: this model's embeddings have %d (it was not trained to be shortened)", *req.Dimensions, e.Model.Dim()))
		return
	}
	inputs := req.Input.ids
	switch n := len(req.Input.texts) + len(req.Input.ids); {
	case n == 0:
		s.failErr(w, r, badRequest("input", "input is required"))
		return
	case n > maxEmbedInputs:
		s.failErr(w, r, badRequest("input", "%d inputs: at most %d per request", n, maxEmbedInputs))
		return
	}
	if len(req.Input.texts) > 0 {
		if e.Tok == nil {
			s.failErr(w, r, badRequest("input", "this model takes token ids only: its tokenizer.json could not be read (%v)", e.TokErr))
			return
		}
		for _, text := range req.Input.texts {
			ids, err := e.Tok.Encode(text)
			if err != nil {
				s.failErr(w, r, badRequest("input", "input: %v", err))
				return
			}
			inputs = append(inputs, ids)
		}
	}
	resp := embeddingResponse{Object: "list", Model: e.Name}
	// Checked here, not left to the encoder: these inputs join other
	// requests' in one pass, which one bad id would fail for all.
	for i, ids := range inputs {
		if len(ids) == 0 || len(ids) > e.Model.MaxTokens() {
			s.failErr(w, r, badRequest("input", "input %d has %d tokens: want 1 to %d", i, len(ids), e.Model.MaxTokens()))
			return
		}
		for _, id := range ids {
			if id < 0 || id >= e.Model.VocabSize() {
				s.failErr(w, r, badRequest("input", "input %d: token id %d outside the vocabulary of %d", i, id, e.Model.VocabSize()))
				return
			}
		}
	}
	vecs, err := e.embedMany(r.Context(), inputs)
	if err != nil {
		if r.Context().Err() == nil {
			s.failErr(w, r, badRequest("input", "input: %v", err))
		}
		return
	}
	for i, v := range vecs {
		ids := inputs[i]
		d := embeddingData{Object: "embedding", Index: i, Embedding: v}
		if format == "base64" {
			b := make([]byte, 4*len(v))
			for j, x := range v {
				binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(x))
			}
			d.Embedding = base64.StdEncoding.EncodeToString(b)
		}
		resp.Data = append(resp.Data, d)
		resp.Usage.PromptTokens += len(ids)
	}
	resp.Usage.TotalTokens = resp.Usage.PromptTokens
	s.respond(w, http.StatusOK, resp)
}

// Embed encodes and embeds texts in one batch (index.Embedder).
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if e.Tok == nil {
		return nil, fmt.Errorf("embedding model %s takes token ids only: %v", e.Name, e.TokErr)
	}
	out := make([][]float32, len(texts))
	var inputs [][]int
	var at []int
	for i, t := range texts {
		ids, err := e.Tok.Encode(t)
		if err != nil {
			return nil, err
		}
		if len(ids) > e.Model.MaxTokens() {
			ids = ids[:e.Model.MaxTokens()] // long chunks: their start
		}
		if len(ids) == 0 {
			out[i] = make([]float32, e.Model.Dim())
			continue
		}
		inputs, at = append(inputs, ids), append(at, i)
	}
	if len(inputs) == 0 {
		return out, nil
	}
	vecs, err := e.embedMany(ctx, inputs)
	if err != nil {
		return nil, err
	}
	for k, i := range at {
		out[i] = vecs[k]
	}
	return out, nil
}
