package index

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dokja/dokja/corpus"
)

func TestScore(t *testing.T) {
	// By hand from the definitions: q1 ranks c (not relevant), b (grade
	// 2) at rank 2, a (grade 1) at rank 3:
	//   DCG  = 2/log2(3) + 1/log2(4) = 1.2618595 + 0.5 = 1.7618595
	//   IDCG = 2/log2(2) + 1/log2(3) = 2 + 0.6309298 = 2.6309298
	//   nDCG = 0.6696718, RR = 1/2, recall = 2/2.
	// q2 has one relevant document and no ranking: all zero. q3 has no
	// judgements and is not counted.
	m := Score(map[string][]string{"q1": {"c", "b", "a"}, "q3": {"a"}}, Qrels{"q1": {"a": 1, "b": 2}, "q2": {"x": 1}, "q3": {}})
	want := Metrics{Queries: 2, NDCG10: 0.6696718 / 2, MRR10: 0.25, Recall10: 0.5, Recall100: 0.5}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"nDCG@10", m.NDCG10, want.NDCG10}, {"MRR@10", m.MRR10, want.MRR10}, {"recall@10", m.Recall10, want.Recall10}, {"recall@100", m.Recall100, want.Recall100}} {
		if math.Abs(c.got-c.want) > 1e-6 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if m.Queries != 2 {
		t.Errorf("%d queries, want 2", m.Queries)
	}
	// Beyond rank 10 only recall@100 counts.
	long := make([]string, 50)
	for i := range long {
		long[i] = "n"
	}
	long[20] = "a"
	m = Score(map[string][]string{"q": long}, Qrels{"q": {"a": 1}})
	if m.NDCG10 != 0 || m.MRR10 != 0 || m.Recall10 != 0 || m.Recall100 != 1 {
		t.Errorf("relevant at rank 21: %+v", m)
	}
}

func TestBEIR(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "corpus.jsonl"), []byte(`{"_id": "d1", "title": "", "text": "서울에서 회의를 엽니다."}
{"_id": "d2", "title": "", "text": "부산행 기차는 매시간 출발합니다."}
{"_id": "d3", "title": "", "text": "To save a document, choose File - Save."}
`), 0o644)
	os.WriteFile(filepath.Join(dir, "queries.jsonl"), []byte(`{"_id": "q1", "text": "서울 회의"}
{"_id": "q2", "text": "기차 출발"}
{"_id": "q3", "text": "save document"}
`), 0o644)
	os.Mkdir(filepath.Join(dir, "qrels"), 0o755)
	os.WriteFile(filepath.Join(dir, "qrels", "test.tsv"), []byte("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t1\n"), 0o644)
	task, err := LoadBEIR(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	ranked, err := rankBEIR(t, task)
	if err != nil {
		t.Fatal(err)
	}
	if m := Score(ranked, task.Qrels); m.Queries != 3 || m.MRR10 != 1 || m.NDCG10 != 1 {
		t.Errorf("ranked %v: %+v", ranked, m)
	}
	for name, content := range map[string]string{
		"qrels/test.tsv": "query-id\tcorpus-id\tscore\nq9\td1\t1\n",
		"queries.jsonl":  "not json\n",
	} {
		bad := t.TempDir()
		for _, f := range []string{"corpus.jsonl", "queries.jsonl", "qrels/test.tsv"} {
			os.MkdirAll(filepath.Join(bad, "qrels"), 0o755)
			b, _ := os.ReadFile(filepath.Join(dir, f))
			os.WriteFile(filepath.Join(bad, f), b, 0o644)
		}
		os.WriteFile(filepath.Join(bad, name), []byte(content), 0o644)
		if _, err := LoadBEIR(bad, "test"); err == nil || !strings.Contains(err.Error(), filepath.Base(name)) {
			t.Errorf("bad %s: error %v, want one naming the file", name, err)
		}
	}
}

// TestHelpPagesTask: Korean titles find their Korean page (BM25 does well)
// and, across languages, their English page (BM25 shares only names and
// numbers between the two: the dense encoders are for that).
func TestHelpPagesTask(t *testing.T) {
	if testing.Short() {
		t.Skip("indexes hundreds of pages; the plain run covers it")
	}
	task, err := NewHelpPages(helpPages(t), 200)
	if err != nil {
		t.Fatal(err)
	}
	if len(task.Queries) < 100 || len(task.English) < len(task.Queries)*9/10 {
		t.Fatalf("%d queries, %d with an English page", len(task.Queries), len(task.English))
	}
	dir := filepath.Join(t.TempDir(), "idx")
	if _, err := Build(context.Background(), task.Files, dir, Options{Format: corpus.HTML}); err != nil {
		t.Fatal(err)
	}
	ix, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	ranked, err := ix.Rank(context.Background(), task.Queries, 100, task.DocID)
	if err != nil {
		t.Fatal(err)
	}
	ko, en := Score(ranked, task.Korean), Score(ranked, task.English)
	t.Logf("%d pages, %d queries: Korean page nDCG@10 %.3f MRR@10 %.3f recall@10 %.3f; English page nDCG@10 %.3f recall@100 %.3f",
		len(task.Files), ko.Queries, ko.NDCG10, ko.MRR10, ko.Recall10, en.NDCG10, en.Recall100)
	if ko.NDCG10 < 0.6 {
		t.Errorf("Korean known-item nDCG@10 %.3f", ko.NDCG10)
	}
}

// WithTitles puts each title before its text, so that a query naming the
// title finds a document whose text does not.
func TestBEIRTitles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "corpus.jsonl"), []byte(`{"_id": "d1", "title": "서울 회의", "text": "3층에서 엽니다."}
{"_id": "d2", "title": "", "text": "부산행 기차"}
`), 0o644)
	os.WriteFile(filepath.Join(dir, "queries.jsonl"), []byte(`{"_id": "q1", "text": "서울 회의"}`+"\n"), 0o644)
	os.Mkdir(filepath.Join(dir, "qrels"), 0o755)
	os.WriteFile(filepath.Join(dir, "qrels", "test.tsv"), []byte("q1\td1\t1\n"), 0o644)
	task, err := LoadBEIR(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := task.WithTitles(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	ranked, err := rankBEIR(t, task)
	if err != nil || len(ranked["q1"]) == 0 || ranked["q1"][0] != "d1" {
		t.Errorf("ranked %v %v, want d1 first (by its title)", ranked, err)
	}
}

// rankBEIR indexes a BEIR task's corpus by BM25 and ranks its queries.
func rankBEIR(t *testing.T, task *BEIR) (map[string][]string, error) {
	t.Helper()
	idx := filepath.Join(t.TempDir(), "idx")
	if _, err := Build(context.Background(), []string{task.Corpus()}, idx, Options{Format: corpus.JSONL, IDField: "_id"}); err != nil {
		t.Fatal(err)
	}
	ix, err := Open(idx)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	return ix.Rank(context.Background(), task.Queries, 10, task.DocID)
}

// Score gives the same metrics to the last bit however the maps
// iterate: two scorings of equal rankings (two encoders that rank alike)
// must compare equal.
func TestScoreIsDeterministic(t *testing.T) {
	ranked, qrels := map[string][]string{}, Qrels{}
	for i := range 300 {
		q := fmt.Sprintf("q%d", i)
		qrels[q] = map[string]int{fmt.Sprintf("d%d", i): 1 + i%3, fmt.Sprintf("e%d", i): 1}
		for j := range i%17 + 1 {
			ranked[q] = append(ranked[q], fmt.Sprintf("x%d", j))
		}
		ranked[q] = append(ranked[q], fmt.Sprintf("d%d", i))
	}
	first := Score(ranked, qrels)
	for range 20 {
		if got := Score(ranked, qrels); got != first {
			t.Fatalf("Score gave %+v, then %+v", first, got)
		}
	}
}
