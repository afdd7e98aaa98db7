package serve

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// /v1/rerank scores each document with the query through the
// cross-encoder, in process, and returns them best first.
func TestRerank(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "reranker")
	copyFiles(t, dir, map[string]string{
		filepath.Join("..", "encoder", "testdata", "tiny-xlmr-reranker", "config.json"):       "config.json",
		filepath.Join("..", "encoder", "testdata", "tiny-xlmr-reranker", "model.safetensors"): "model.safetensors",
		filepath.Join("..", "tokenizer", "unigram", "testdata", "xlmr-like.json"):             "tokenizer.json",
	})
	rr, err := LoadReranker(dir)
	if err != nil {
		t.Fatal(err)
	}
	base := startServer(t, Options{Rerankers: []*Reranker{rr}})
	docs := []string{"서울에서 회의를 엽니다.", "to save the document, open a file", "한국어 문서를 저장"}
	code, out := postJSON(t, base+"/v1/rerank", `{"model":"reranker","query":"서울 회의","documents":["서울에서 회의를 엽니다.",{"text":"to save the document, open a file"},"한국어 문서를 저장"],"top_n":2,"return_documents":true}`)
	if code != 200 {
		t.Fatalf("%d %v", code, out)
	}
	results := out["results"].([]any)
	if len(results) != 2 {
		t.Fatalf("%d results, want top_n 2", len(results))
	}
	prev := math.Inf(1)
	for _, x := range results {
		res := x.(map[string]any)
		i := int(res["index"].(float64))
		want, _, err := rr.Score("서울 회의", docs[i])
		if err != nil {
			t.Fatal(err)
		}
		got := res["relevance_score"].(float64)
		if math.Abs(got-want) > 1e-9 || got > prev || res["document"].(map[string]any)["text"] != docs[i] {
			t.Errorf("result %v: want score %v, in order, with its document", res, want)
		}
		prev = got
	}
	// The dropped document scored no higher than those returned.
	var scores []float64
	for _, d := range docs {
		s, _, _ := rr.Score("서울 회의", d)
		scores = append(scores, s)
	}
	low := math.Inf(1)
	for _, s := range scores {
		low = min(low, s)
	}
	if prev < low {
		t.Errorf("returned %v, but the scores are %v", prev, scores)
	}
	for _, tc := range []struct{ body, param, want string }{
		{`{"model":"reranker","query":"","documents":["a"]}`, "query", "query is required"},
		{`{"model":"reranker","query":"q","documents":[]}`, "documents", "documents are required"},
		{`{"model":"reranker","query":"q","documents":["a"],"top_n":0}`, "top_n", "at least 1"},
		{`{"model":"nope","query":"q","documents":["a"]}`, "model", "not a reranker"},
	} {
		code, out := postJSON(t, base+"/v1/rerank", tc.body)
		e, _ := out["error"].(map[string]any)
		if code/100 != 4 || e == nil || e["param"] != tc.param || !strings.Contains(e["message"].(string), tc.want) {
			t.Errorf("%s: %d %v", tc.body, code, out)
		}
	}
	if _, err := LoadReranker(filepath.Join("..", "encoder", "testdata", "tiny-xlmr")); err == nil {
		t.Error("an encoder without a head loaded as a reranker")
	}
}
