package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dokja index build, then search; a second build with nothing changed
// redoes nothing, and the searches agree.
func TestIndexCommand(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.jsonl"), []byte(`{"text": "서울에서 회의를 엽니다."}`+"\n"+`{"text": "부산행 기차 시간표"}`+"\n"), 0o644)
	out := filepath.Join(t.TempDir(), "idx")
	r := mustRun(t, "", "index", "build", "--out", out, src)
	if !strings.Contains(r.stdout, "1 files, 2 documents, 2 chunks") {
		t.Errorf("build: %s", r.stdout)
	}
	r = mustRun(t, "", "index", "search", "--index", out, "-k", "1", "--json", "서울")
	var hit struct {
		Doc, Text string
		Score     float64
	}
	if err := json.Unmarshal([]byte(r.stdout), &hit); err != nil || !strings.Contains(hit.Text, "서울에서") || hit.Score <= 0 {
		t.Errorf("search: %q %v", r.stdout, err)
	}
	for _, bad := range [][]string{
		{"index", "build", src},
		{"index", "search", "--index", out},
		{"index", "search", "--index", out, "-k", "0", "x"},
		{"index", "frobnicate"},
	} {
		if r := dokja(t, "", bad...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, r.code)
		}
	}
	if r := dokja(t, "", "index", "search", "--index", src, "x"); r.code != 1 || !strings.Contains(r.stderr, "manifest.json") {
		t.Errorf("searching a folder that is no index: exit %d %s", r.code, r.stderr)
	}
}

// dokja eval retrieval on a BEIR folder prints the metrics.
func TestEvalRetrievalCommand(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "corpus.jsonl"), []byte(`{"_id": "d1", "text": "서울에서 회의를 엽니다."}`+"\n"+`{"_id": "d2", "text": "부산행 기차"}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "queries.jsonl"), []byte(`{"_id": "q1", "text": "서울 회의"}`+"\n"+`{"_id": "q2", "text": "기차"}`+"\n"), 0o644)
	os.Mkdir(filepath.Join(dir, "qrels"), 0o755)
	os.WriteFile(filepath.Join(dir, "qrels", "test.tsv"), []byte("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n"), 0o644)
	r := mustRun(t, "", "eval", "retrieval", "--beir", dir, "--json")
	var got map[string]struct {
		Queries int
		NDCG10  float64 `json:"ndcg@10"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got[filepath.Base(dir)].Queries != 2 || got[filepath.Base(dir)].NDCG10 != 1 {
		t.Errorf("%s: %v", r.stdout, err)
	}
	// With an encoder, dense and fused rankings are scored too.
	r = mustRun(t, "", "eval", "retrieval", "--beir", dir, "--json", "--embedding-model", tinyEncoder(t))
	var modes map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &modes); err != nil || len(modes) != 3 {
		t.Errorf("with an encoder: %s %v", r.stdout, err)
	}
	for _, m := range []string{"bm25", "dense", "hybrid"} {
		if _, ok := modes[m+", "+filepath.Base(dir)]; !ok {
			t.Errorf("no %s row in %s", m, r.stdout)
		}
	}
	if r := dokja(t, "", "eval", "retrieval"); r.code != 2 {
		t.Errorf("no task: exit %d", r.code)
	}
}

// An index built with an encoder searches by vectors and by both; the
// encoder must be the one it was built with.
func TestIndexDenseCommand(t *testing.T) {
	enc := tinyEncoder(t)
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.jsonl"), []byte(`{"text": "서울에서 회의를 엽니다."}`+"\n"+`{"text": "To save the document, open the file."}`+"\n"), 0o644)
	out := filepath.Join(t.TempDir(), "idx")
	mustRun(t, "", "index", "build", "--out", out, "--embedding-model", enc, src)
	for _, mode := range []string{"dense", "hybrid"} {
		r := mustRun(t, "", "index", "search", "--index", out, "--mode", mode, "--embedding-model", enc, "-k", "2", "--json", "서울에서 회의를 엽니다.")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		var first struct{ Text string }
		if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &first) != nil || !strings.HasPrefix(first.Text, "서울에서") {
			t.Errorf("%s: %s", mode, r.stdout)
		}
	}
	if r := dokja(t, "", "index", "search", "--index", out, "--mode", "dense", "x"); r.code != 2 || !strings.Contains(r.stderr, "--embedding-model") {
		t.Errorf("dense without the encoder: exit %d %s", r.code, r.stderr)
	}
}

// tinyEncoder is a BERT folder: the encoder test checkpoint with a
// WordPiece tokenizer.
func tinyEncoder(t *testing.T) string {
	t.Helper()
	enc := filepath.Join(t.TempDir(), "bert")
	copyFiles(t, enc, map[string]string{
		filepath.Join("..", "..", "encoder", "testdata", "tiny-bert", "config.json"):       "config.json",
		filepath.Join("..", "..", "encoder", "testdata", "tiny-bert", "model.safetensors"): "model.safetensors",
		filepath.Join("..", "..", "tokenizer", "wordpiece", "testdata", "cased.json"):      "tokenizer.json",
	})
	return enc
}

// --rerank-model reorders the candidates by the cross-encoder's scores.
func TestIndexRerank(t *testing.T) {
	rr := filepath.Join(t.TempDir(), "reranker")
	copyFiles(t, rr, map[string]string{
		filepath.Join("..", "..", "encoder", "testdata", "tiny-xlmr-reranker", "config.json"):       "config.json",
		filepath.Join("..", "..", "encoder", "testdata", "tiny-xlmr-reranker", "model.safetensors"): "model.safetensors",
		filepath.Join("..", "..", "tokenizer", "unigram", "testdata", "xlmr-like.json"):             "tokenizer.json",
	})
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.jsonl"), []byte(`{"text": "서울에서 회의를 엽니다."}`+"\n"+`{"text": "서울 문서를 저장"}`+"\n"+`{"text": "서울 파일"}`+"\n"), 0o644)
	out := filepath.Join(t.TempDir(), "idx")
	mustRun(t, "", "index", "build", "--out", out, src)
	r := mustRun(t, "", "index", "search", "--index", out, "--rerank-model", rr, "-k", "3", "--json", "서울")
	var scores []float64
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var h struct{ Score float64 }
		if err := json.Unmarshal([]byte(line), &h); err != nil || h.Score <= 0 || h.Score >= 1 {
			t.Fatalf("%q: %v (a relevance is a sigmoid)", line, err)
		}
		scores = append(scores, h.Score)
	}
	if len(scores) != 3 || scores[0] < scores[1] || scores[1] < scores[2] {
		t.Errorf("reranked scores %v: want three, best first", scores)
	}
}

// copyFiles copies test fixtures (source path -> name) into dir.
func copyFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	for src, dst := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
