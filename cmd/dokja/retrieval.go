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
	"strings"

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
	approxFrom := fs.Int("approx-from", index.DefaultApproxFrom, "with --embedding-model: from this many chunks, an approximate index too (-1: never)")
	probes := fs.Int("probes", 0, "lists of the approximate index a dense search scans (0: 16; -1: every vector)")
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
	if *approxFrom == 0 {
		return fs.usageError("--approx-from 0: want a number of chunks, or -1 for never")
	}
	opt := index.Options{ChunkChars: *chunk, Overlap: *overlap, ApproxFrom: *approxFrom, Probes: *probes}
	var task *index.Task
	if *beir != "" {
		b, err := index.LoadBEIR(*beir, *split)
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
		if err := b.WithTitles(ctmp); err != nil {
			return err
		}
		task = &index.Task{Files: []string{b.Corpus()}, Queries: b.Queries, DocID: b.DocID, Judged: map[string]index.Qrels{filepath.Base(*beir): b.Qrels}}
		opt.Format, opt.IDField = corpus.JSONL, "_id"
	} else {
		h, err := index.NewHelpPages(*help, *pages)
		if err != nil {
			return err
		}
		task = h.Task()
		opt.Format = corpus.HTML
	}
	if *embModel != "" {
		emb, err := serve.LoadEmbedder(*embModel)
		if err != nil {
			return err
		}
		opt.Embedder, opt.EmbedderName = emb, embedderName(*embModel)
	}
	results, man, err := index.Evaluate(ctx, task, dir, opt)
	if err != nil {
		return err
	}
	if opt.Embedder == nil {
		// One mode: the judgements alone name the rows.
		for name, m := range results {
			delete(results, name)
			results[strings.TrimPrefix(name, "bm25, ")] = m
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	fmt.Fprintf(stdout, "%d documents (%d chunks), %d queries\n", man.Docs, man.Chunks, len(task.Queries))
	fmt.Fprintf(stdout, "%-34s %8s %8s %8s %9s %10s\n", "judged", "queries", "nDCG@10", "MRR@10", "recall@10", "recall@100")
	for _, name := range slices.Sorted(maps.Keys(results)) {
		m := results[name]
		fmt.Fprintf(stdout, "%-34s %8d %8.3f %8.3f %9.3f %10.3f\n", name, m.Queries, m.NDCG10, m.MRR10, m.Recall10, m.Recall100)
	}
	return nil
}
