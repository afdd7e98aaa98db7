package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/dokja/dokja/corpus"
	"github.com/dokja/dokja/index"
	"github.com/dokja/dokja/serve"
)

func runEvalRetrieval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval retrieval", "", `
Score retrieval: index a task's documents (BM25 over chunks, see dokja
index build; with --embedding-model also dense vectors, and both fused),
rank them for each query, and print nDCG@10, MRR@10, recall@10 and
recall@100 against the task's judgements. Tasks: a BEIR
folder (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv), or the LibreOffice
help pages (--help-pages, the folder holding ko/ and en-US/): each
sampled Korean page's title is a query, answered by the Korean page, and
across languages by its English counterpart (scored separately).

Examples:
  dokja eval retrieval --beir ~/beir/scifact --split test
  dokja eval retrieval --help-pages .cache/libreoffice-help/usr/share/libreoffice/help --pages 500`, stdout, stderr)
	beir := fs.String("beir", "", "BEIR task `folder`")
	split := fs.String("split", "test", "BEIR judgements to use (qrels/SPLIT.tsv)")
	help := fs.String("help-pages", "", "LibreOffice help `folder` (with ko/ and en-US/)")
	pages := fs.Int("pages", 500, "Korean help pages to sample")
	out := fs.String("index", "", "keep the index in this `folder` (default: a temporary one)")
	chunk := fs.Int("chunk", 1000, "chunk length in characters")
	overlap := fs.Int("overlap", 200, "characters consecutive chunks share")
	asJSON := fs.Bool("json", false, "print the metrics as JSON")
	embModel := fs.String("embedding-model", "", "encoder `folder`: also score dense and hybrid (BM25 + dense, reciprocal rank fusion) search")
	if err := parse(fs, args); err != nil {
		return err
	}
	if (*beir == "") == (*help == "") {
		return fs.usageError("give --beir or --help-pages")
	}
	if *pages < 1 {
		return fs.usageError("--pages %d: want at least 1", *pages)
	}
	dir := *out
	if dir == "" {
		tmp, err := os.MkdirTemp("", "dokja-retrieval-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = filepath.Join(tmp, "index")
	}
	opt := index.Options{ChunkChars: *chunk, Overlap: *overlap}
	var files []string
	var queries map[string]string
	var docID func(string) string
	judged := map[string]index.Qrels{}
	if *beir != "" {
		task, err := index.LoadBEIR(*beir, *split)
		if err != nil {
			return err
		}
		// Titles lead their texts, as BEIR's baselines index them: a copy
		// of the corpus, in a folder of its own that goes afterwards.
		ctmp, err := os.MkdirTemp("", "dokja-beir-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(ctmp)
		if err := task.WithTitles(ctmp); err != nil {
			return err
		}
		files, queries, docID = []string{task.Corpus()}, task.Queries, task.DocID
		opt.Format, opt.IDField = corpus.JSONL, "_id"
		judged[filepath.Base(*beir)] = task.Qrels
	} else {
		task, err := index.NewHelpPages(*help, *pages)
		if err != nil {
			return err
		}
		files, queries, docID = task.Files, task.Queries, task.DocID
		opt.Format = corpus.HTML
		judged["help pages: Korean page"] = task.Korean
		judged["help pages: English page"] = task.English
	}
	var emb *serve.Embedder
	if *embModel != "" {
		var err error
		if emb, err = serve.LoadEmbedder(*embModel); err != nil {
			return err
		}
		opt.Embedder, opt.EmbedderName = emb, embedderName(*embModel)
	}
	man, err := index.Build(ctx, files, dir, opt)
	if err != nil {
		return err
	}
	ix, err := index.Open(dir)
	if err != nil {
		return err
	}
	defer ix.Close()
	searches := map[string]func(context.Context, string, int) ([]index.Hit, error){"bm25": ix.Search}
	if emb != nil {
		searches["dense"] = func(ctx context.Context, q string, k int) ([]index.Hit, error) {
			return ix.SearchDense(ctx, q, emb, k)
		}
		searches["hybrid"] = func(ctx context.Context, q string, k int) ([]index.Hit, error) {
			return ix.SearchHybrid(ctx, q, emb, k)
		}
	}
	results := map[string]index.Metrics{}
	for mode, search := range searches {
		ranked, err := index.RankWith(ctx, queries, 100, docID, search)
		if err != nil {
			return err
		}
		for name, q := range judged {
			label := name
			if emb != nil {
				label = mode + ", " + name
			}
			results[label] = index.Score(ranked, q)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	fmt.Fprintf(stdout, "%d documents (%d chunks), %d queries\n", man.Docs, man.Chunks, len(queries))
	fmt.Fprintf(stdout, "%-34s %8s %8s %8s %9s %10s\n", "judged", "queries", "nDCG@10", "MRR@10", "recall@10", "recall@100")
	for _, name := range slices.Sorted(maps.Keys(results)) {
		m := results[name]
		fmt.Fprintf(stdout, "%-34s %8d %8.3f %8.3f %9.3f %10.3f\n", name, m.Queries, m.NDCG10, m.MRR10, m.Recall10, m.Recall100)
	}
	return nil
}
