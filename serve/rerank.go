package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"sort"

	"github.com/dokja/dokja/encoder"
	"github.com/dokja/dokja/tokenizer/unigram"
)

// Reranker is a cross-encoder served at /v1/rerank: it reads a query and
// a document together and scores their relevance.
type Reranker struct {
	Name  string
	Model *encoder.Classifier
	Tok   *unigram.Tokenizer
}

// LoadReranker opens a sequence-classification folder with one label
// (bge-reranker-v2-m3 and its Korean fine-tunes) and its Unigram
// tokenizer with a pair template.
func LoadReranker(dir string) (*Reranker, error) {
	m, err := encoder.LoadClassifier(dir)
	if err != nil {
		return nil, err
	}
	if m.Labels != 1 {
		return nil, fmt.Errorf("%s: %d labels: a reranker has one (its relevance)", dir, m.Labels)
	}
	tok, err := unigram.Load(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, err
	}
	if _, err := tok.EncodePair("q", "d"); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "tokenizer.json"), err)
	}
	return &Reranker{Name: filepath.Base(filepath.Clean(dir)), Model: m, Tok: tok}, nil
}

// Score is the relevance of document to query, the logit through a
// sigmoid (as Text Embeddings Inference reports it by default).
func (r *Reranker) Score(query, document string) (float64, int, error) {
	ids, err := r.Tok.EncodePair(query, document)
	if err != nil {
		return 0, 0, err
	}
	if max := r.Model.MaxTokens(); len(ids) > max {
		ids = append(ids[:max-1], ids[len(ids)-1]) // the document's end is cut, its closing token kept
	}
	logits, err := r.Model.Logits(ids)
	if err != nil {
		return 0, 0, err
	}
	return 1 / (1 + math.Exp(-float64(logits[0]))), len(ids), nil
}

// rerankDocument is a document as a string or as {"text": ...}.
type rerankDocument string

func (d *rerankDocument) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*d = rerankDocument(s)
		return nil
	}
	var o struct {
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(b, &o); err != nil || o.Text == nil {
		return errors.New(`want a string or {"text": ...}`)
	}
	*d = rerankDocument(*o.Text)
	return nil
}

type rerankRequest struct {
	Model           string           `json:"model"`
	Query           string           `json:"query"`
	Documents       []rerankDocument `json:"documents"`
	TopN            *int             `json:"top_n"`
	ReturnDocuments bool             `json:"return_documents"`
}

type rerankResult struct {
	Index          int     `json:"index"`
	RelevanceScore float64 `json:"relevance_score"`
	Document       *struct {
		Text string `json:"text"`
	} `json:"document,omitempty"`
}

// maxRerankDocuments bounds the documents of one request.
const maxRerankDocuments = 1000

func (s *Server) rerank(w http.ResponseWriter, r *http.Request) {
	var req rerankRequest
	if !s.decode(w, r, &req) {
		return
	}
	rr, ok := s.rerankers[req.Model]
	if !ok {
		s.failErr(w, r, &requestError{http.StatusNotFound, "invalid_request_error", "model_not_found",
			fmt.Sprintf("the model %q is not a reranker here", req.Model), "model"})
		return
	}
	switch n := len(req.Documents); {
	case req.Query == "":
		s.failErr(w, r, badRequest("query", "query is required"))
		return
	case n == 0:
		s.failErr(w, r, badRequest("documents", "documents are required"))
		return
	case n > maxRerankDocuments:
		s.failErr(w, r, badRequest("documents", "%d documents: at most %d per request", n, maxRerankDocuments))
		return
	}
	top := len(req.Documents)
	if req.TopN != nil {
		if *req.TopN < 1 {
			s.failErr(w, r, badRequest("top_n", "top_n %d: must be at least 1", *req.TopN))
			return
		}
		top = min(top, *req.TopN)
	}
	var resp struct {
		Model   string         `json:"model"`
		Results []rerankResult `json:"results"`
		Usage   struct {
			PromptTokens int `json:"prompt_tokens"`
			TotalTokens  int `json:"total_tokens"`
		} `json:"usage"`
	}
	resp.Model = rr.Name
	for i, d := range req.Documents {
		if err := r.Context().Err(); err != nil {
			return
		}
		score, n, err := rr.Score(req.Query, string(d))
		if err != nil {
			s.failErr(w, r, badRequest("documents", "documents[%d]: %v", i, err))
			return
		}
		res := rerankResult{Index: i, RelevanceScore: score}
		if req.ReturnDocuments {
			res.Document = &struct {
				Text string `json:"text"`
			}{string(d)}
		}
		resp.Results = append(resp.Results, res)
		resp.Usage.PromptTokens += n
	}
	sort.SliceStable(resp.Results, func(a, b int) bool { return resp.Results[a].RelevanceScore > resp.Results[b].RelevanceScore })
	resp.Results = resp.Results[:top]
	resp.Usage.TotalTokens = resp.Usage.PromptTokens
	s.respond(w, http.StatusOK, resp)
}
