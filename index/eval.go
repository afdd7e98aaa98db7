package index

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/dokja/dokja/atomicfile"
)

// Retrieval evaluation in the BEIR manner: queries, graded relevance
// judgements (qrels), and the usual metrics over the documents a system
// ranks.

// Qrels maps a query id to its relevant documents and their grades (> 0).
type Qrels map[string]map[string]int

// Metrics are a run's means over the judged queries.
type Metrics struct {
	Queries   int     `json:"queries"`
	NDCG10    float64 `json:"ndcg@10"`
	MRR10     float64 `json:"mrr@10"`
	Recall10  float64 `json:"recall@10"`
	Recall100 float64 `json:"recall@100"`
}

// Score computes the metrics of ranked document ids per query against
// the judgements. A query without judgements is skipped; a judged query
// without a ranking counts as zero. nDCG uses the grades as gains with a
// log2(rank+1) discount, as trec_eval and BEIR do.
func Score(ranked map[string][]string, qrels Qrels) Metrics {
	var m Metrics
	// Queries in sorted order: the sums, and so the metrics, are the same
	// to the last bit on every run.
	for _, q := range slices.Sorted(maps.Keys(qrels)) {
		rel := qrels[q]
		if len(rel) == 0 {
			continue
		}
		m.Queries++
		docs := ranked[q]
		var dcg float64
		found10, found100 := 0, 0
		rr := 0.0
		for i, d := range docs {
			g := rel[d]
			if g <= 0 {
				continue
			}
			if i < 10 {
				dcg += float64(g) / math.Log2(float64(i)+2)
				found10++
				if rr == 0 {
					rr = 1 / float64(i+1)
				}
			}
			if i < 100 {
				found100++
			}
		}
		grades := make([]int, 0, len(rel))
		for _, g := range rel {
			if g > 0 {
				grades = append(grades, g)
			}
		}
		sort.Sort(sort.Reverse(sort.IntSlice(grades)))
		var ideal float64
		for i, g := range grades[:min(10, len(grades))] {
			ideal += float64(g) / math.Log2(float64(i)+2)
		}
		if ideal > 0 {
			m.NDCG10 += dcg / ideal
		}
		m.MRR10 += rr
		m.Recall10 += float64(found10) / float64(len(grades))
		m.Recall100 += float64(found100) / float64(len(grades))
	}
	if m.Queries > 0 {
		n := float64(m.Queries)
		m.NDCG10 /= n
		m.MRR10 /= n
		m.Recall10 /= n
		m.Recall100 /= n
	}
	return m
}

// Rank searches the index for every query and returns the documents in
// order of their best chunk (each document once), at most k of them.
// docID maps an index document name (file:line or file#ID) to the id the
// judgements use.
func (ix *Index) Rank(ctx context.Context, queries map[string]string, k int, docID func(string) string) (map[string][]string, error) {
	return RankWith(ctx, queries, k, docID, ix.Search)
}

// RankWith is Rank with another search: dense or hybrid.
func RankWith(ctx context.Context, queries map[string]string, k int, docID func(string) string,
	search func(ctx context.Context, query string, k int) ([]Hit, error)) (map[string][]string, error) {
	out := make(map[string][]string, len(queries))
	for q, text := range queries {
		// Chunks of one document repeat: ask for more than k.
		hits, err := search(ctx, text, min(maxK, 3*k))
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", q, err)
		}
		seen := map[string]bool{}
		for _, h := range hits {
			d := docID(h.Doc)
			if !seen[d] {
				seen[d] = true
				out[q] = append(out[q], d)
				if len(out[q]) == k {
					break
				}
			}
		}
	}
	return out, nil
}

// BEIR is a retrieval task in BEIR's layout: corpus.jsonl ({"_id",
// "title", "text"}), queries.jsonl ({"_id", "text"}) and qrels/SPLIT.tsv
// (query-id, corpus-id, score, with a header line).
type BEIR struct {
	Dir     string
	Queries map[string]string
	Qrels   Qrels
	corpus  string // set by WithTitles
}

// LoadBEIR reads a BEIR folder's queries and the split's judgements.
func LoadBEIR(dir, split string) (*BEIR, error) {
	t := &BEIR{Dir: dir, Queries: map[string]string{}, Qrels: Qrels{}}
	qpath := filepath.Join(dir, "queries.jsonl")
	f, err := os.Open(qpath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var q struct {
			ID   string `json:"_id"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &q); err != nil || q.ID == "" {
			return nil, fmt.Errorf("%s line %d: want {\"_id\": ..., \"text\": ...}", qpath, line)
		}
		t.Queries[q.ID] = q.Text
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", qpath, err)
	}
	rpath := filepath.Join(dir, "qrels", split+".tsv")
	b, err := os.ReadFile(rpath)
	if err != nil {
		return nil, err
	}
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		fields := strings.Split(strings.TrimRight(line, "\r"), "\t")
		if len(fields) != 3 {
			return nil, fmt.Errorf("%s line %d: want query-id, corpus-id and score separated by tabs", rpath, i+1)
		}
		score, err := strconv.Atoi(fields[2])
		if err != nil {
			if i == 0 {
				continue // the header
			}
			return nil, fmt.Errorf("%s line %d: score %q is not a whole number", rpath, i+1, fields[2])
		}
		if _, ok := t.Queries[fields[0]]; !ok {
			return nil, fmt.Errorf("%s line %d: query %q is not in queries.jsonl", rpath, i+1, fields[0])
		}
		if t.Qrels[fields[0]] == nil {
			t.Qrels[fields[0]] = map[string]int{}
		}
		t.Qrels[fields[0]][fields[1]] = score
	}
	if len(t.Qrels) == 0 {
		return nil, errors.New(rpath + ": no judgements")
	}
	return t, nil
}

// Corpus is the file to index, with Format JSONL, Field "text" and
// IDField "_id": the task's corpus.jsonl, or the copy WithTitles wrote.
func (t *BEIR) Corpus() string {
	if t.corpus != "" {
		return t.corpus
	}
	return filepath.Join(t.Dir, "corpus.jsonl")
}

// DocID turns the name of an indexed document of the corpus (file#ID)
// back into its corpus id.
func (t *BEIR) DocID(doc string) string { return strings.TrimPrefix(doc, t.Corpus()+"#") }

// WithTitles writes a copy of the corpus into dir whose texts begin with
// their titles (as BEIR's baselines index them), and indexes that from
// then on.
func (t *BEIR) WithTitles(dir string) error {
	src := filepath.Join(t.Dir, "corpus.jsonl")
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	dst := filepath.Join(dir, "corpus-with-titles.jsonl")
	err = atomicfile.Write(dst, func(w io.Writer) error {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<16), 1<<26)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for line := 1; sc.Scan(); line++ {
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			var d struct {
				ID    string `json:"_id"`
				Title string `json:"title"`
				Text  string `json:"text"`
			}
			if err := json.Unmarshal(sc.Bytes(), &d); err != nil || d.ID == "" {
				return fmt.Errorf("%s line %d: want {\"_id\": ..., \"title\": ..., \"text\": ...}", src, line)
			}
			text := d.Text
			if d.Title != "" {
				text = d.Title + "\n" + d.Text
			}
			if err := enc.Encode(map[string]string{"_id": d.ID, "text": text}); err != nil {
				return err
			}
		}
		return sc.Err()
	})
	if err != nil {
		return err
	}
	t.corpus = dst
	return nil
}

// Task is a retrieval task ready to run: the documents to index, the
// queries, and judgements under names (a task may judge the same ranking
// more than one way, as the help pages do per language).
type Task struct {
	Files   []string
	Queries map[string]string
	// DocID turns an indexed document's name into the judgements' id.
	DocID  func(string) string
	Judged map[string]Qrels
}

// HelpPagesTask is the help-pages task as a Task: the Korean page and
// its English counterpart judged apart.
func (t *HelpPages) Task() *Task {
	return &Task{Files: t.Files, Queries: t.Queries, DocID: t.DocID,
		Judged: map[string]Qrels{"help pages: Korean page": t.Korean, "help pages: English page": t.English}}
}

// Evaluate builds (or updates) an index of the task's files in dir with
// opt, then ranks the queries' best 100 and scores them against every
// judgement: by BM25, and with opt.Embedder also by dense vectors and by
// the hybrid of both. Keys are "mode, judgement".
func Evaluate(ctx context.Context, t *Task, dir string, opt Options) (map[string]Metrics, *Manifest, error) {
	man, err := Build(ctx, t.Files, dir, opt)
	if err != nil {
		return nil, nil, err
	}
	ix, err := Open(dir)
	if err != nil {
		return nil, nil, err
	}
	defer ix.Close()
	ix.Probes = opt.Probes
	searches := map[string]func(context.Context, string, int) ([]Hit, error){"bm25": ix.Search}
	if e := opt.Embedder; e != nil {
		searches["dense"] = func(ctx context.Context, q string, k int) ([]Hit, error) { return ix.SearchDense(ctx, q, e, k) }
		searches["hybrid"] = func(ctx context.Context, q string, k int) ([]Hit, error) { return ix.SearchHybrid(ctx, q, e, k) }
	}
	results := map[string]Metrics{}
	for mode, search := range searches {
		ranked, err := RankWith(ctx, t.Queries, 100, t.DocID, search)
		if err != nil {
			return nil, nil, err
		}
		for name, q := range t.Judged {
			results[mode+", "+name] = Score(ranked, q)
		}
	}
	return results, man, nil
}
