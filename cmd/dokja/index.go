package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dokja/dokja/corpus"
	"github.com/dokja/dokja/index"
	"github.com/dokja/dokja/serve"
)

// embedderName identifies an encoder folder in an index's manifest.
func embedderName(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

func init() {
	lateCommands = append(lateCommands, command{"index", "a local search index over corpus files: build, search, pairs", runIndex, "build|search|pairs"})
}

func runIndex(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return dispatch(ctx, "index", "", []subcommand{
		{"build", "index corpus files for search (BM25 over overlapping chunks); rebuilds only what changed", runIndexBuild},
		{"search", "search an index", runIndexSearch},
		{"pairs", "training pairs for embeddings from the help pages that retrieval evaluation leaves out", runIndexPairs},
	}, args, stdin, stdout, stderr)
}

func runIndexPairs(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("index pairs", "", `
Write contrastive training pairs (JSON lines of "query" and "positive",
what dokja train's pairs: key reads) from the LibreOffice help pages
that dokja eval retrieval's --pages sample leaves out: each unique
Korean title with its page's text and with its English counterpart's
text (cut to --max-chars), so an encoder fine-tuned on them is then
scored on unseen pages, in Korean and across languages.

Example:
  dokja index pairs --help-pages .cache/libreoffice-help/usr/share/libreoffice/help --pages 500 --out runs/help-pairs.jsonl`, stdout, stderr)
	help := fs.String("help-pages", "", "LibreOffice help `folder` (with ko/ and en-US/)")
	pages := fs.Int("pages", 500, "the evaluation's sample of Korean pages, left out")
	maxChars := fs.Int("max-chars", 1500, "characters of page text kept")
	out := fs.String("out", "", "pairs `file` (JSON lines)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *help == "" || *out == "" {
		return fs.usageError("--help-pages and --out are required")
	}
	if *pages < 1 || *maxChars < 1 {
		return fs.usageError("--pages %d, --max-chars %d: want positive numbers", *pages, *maxChars)
	}
	task, err := index.NewHelpPages(*help, *pages)
	if err != nil {
		return err
	}
	pairs, err := index.HelpPagePairs(*help, task, *maxChars)
	if err != nil {
		return err
	}
	if err := index.WritePairs(*out, pairs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d pairs from the pages outside the evaluation's %d\n", *out, len(pairs), *pages)
	return nil
}

func runIndexBuild(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("index build", "PATH...", `
Index corpus files (text, JSON lines, HTML, Parquet, WARC; folders are
read whole) for search: each document is cut into chunks of --chunk
characters that overlap by --overlap, ranked by BM25 with an analyzer
that matches Korean words by their syllable pairs too (서울 finds
서울에서). The index is written beside --out and swapped in whole; when
--out already holds an index built with the same options, only files
that are new or changed are indexed again, and files not given are
dropped.

Example:
  dokja index build --out runs/help-index .cache/libreoffice-help/usr/share/libreoffice/help/ko`, stdout, stderr)
	out := fs.String("out", "", "index `folder`")
	format := fs.String("format", "auto", "input format: auto, text, jsonl, html, parquet or warc")
	field := fs.String("field", "", "JSON field or Parquet column holding the text (default text)")
	idField := fs.String("id-field", "", "JSON field or Parquet column naming each document")
	chunk := fs.Int("chunk", 1000, "chunk length in characters")
	overlap := fs.Int("overlap", 200, "characters consecutive chunks share")
	embModel := fs.String("embedding-model", "", "encoder `folder` that also gives every chunk a vector (dense and hybrid search)")
	approxFrom := fs.Int("approx-from", index.DefaultApproxFrom, "with --embedding-model: from this many chunks, also an approximate index (an inverted file; -1: never)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() == 0 {
		return fs.usageError("--out and at least one PATH are required")
	}
	var emb *serve.Embedder
	if *embModel != "" {
		var err error
		if emb, err = serve.LoadEmbedder(*embModel); err != nil {
			return err
		}
	}
	f, err := corpus.ParseFormat(*format)
	if err != nil {
		return fs.usageError("--format: %v", err)
	}
	if *approxFrom == 0 {
		return fs.usageError("--approx-from 0: want a number of chunks, or -1 for never")
	}
	opt := index.Options{Format: f, Field: *field, IDField: *idField, ChunkChars: *chunk, Overlap: *overlap, ApproxFrom: *approxFrom,
		Progress: func(file string, chunks int) { fmt.Fprintf(stderr, "indexed %s: %d chunks\n", file, chunks) }}
	if emb != nil {
		opt.Embedder, opt.EmbedderName = emb, embedderName(*embModel)
	}
	man, err := index.Build(ctx, fs.Args(), *out, opt)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d files, %d documents, %d chunks\n", *out, len(man.Files), man.Docs, man.Chunks)
	return nil
}

func runIndexSearch(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("index search", "QUERY...", `
Search an index built by dokja index build: the best chunks by BM25, with
their documents and scores.

Example:
  dokja index search --index runs/help-index -k 5 문서 저장`, stdout, stderr)
	dir := fs.String("index", "", "index `folder`")
	k := fs.Int("k", 10, "chunks to return (1 to 1000)")
	asJSON := fs.Bool("json", false, "print JSON lines")
	mode := fs.String("mode", "bm25", "bm25, dense or hybrid (dense and hybrid need the index's --embedding-model)")
	embModel := fs.String("embedding-model", "", "the encoder `folder` the index was built with")
	rerankModel := fs.String("rerank-model", "", "cross-encoder `folder`: rerank the best 3k candidates by it (see dokja serve --rerank-model)")
	probes := fs.Int("probes", 0, "lists of the approximate index a dense search scans (0: 16; -1: every vector, exactly)")
	if err := parse(fs, args); err != nil {
		return err
	}
	query := strings.Join(fs.Args(), " ")
	if *dir == "" || strings.TrimSpace(query) == "" {
		return fs.usageError("--index and a QUERY are required")
	}
	if *k < 1 || *k > 1000 {
		return fs.usageError("-k %d: want 1 to 1000", *k)
	}
	ix, err := index.Open(*dir)
	if err != nil {
		return err
	}
	defer ix.Close()
	ix.Probes = *probes
	var rr *serve.Reranker
	want := *k
	if *rerankModel != "" {
		if rr, err = serve.LoadReranker(*rerankModel); err != nil {
			return err
		}
		want = min(1000, 3**k) // candidates for the reranker
	}
	var hits []index.Hit
	switch *mode {
	case "bm25":
		hits, err = ix.Search(ctx, query, want)
	case "dense", "hybrid":
		if *embModel == "" || embedderName(*embModel) != ix.Manifest.Embedder {
			return fs.usageError("--mode %s needs --embedding-model, the one the index was built with (%q)", *mode, ix.Manifest.Embedder)
		}
		emb, lerr := serve.LoadEmbedder(*embModel)
		if lerr != nil {
			return lerr
		}
		if *mode == "hybrid" {
			hits, err = ix.SearchHybrid(ctx, query, emb, want)
		} else {
			hits, err = ix.SearchDense(ctx, query, emb, want)
		}
	default:
		return fs.usageError("--mode %q: want bm25, dense or hybrid", *mode)
	}
	if err != nil {
		return err
	}
	if rr != nil {
		for i := range hits {
			if hits[i].Score, _, err = rr.Score(query, hits[i].Text); err != nil {
				return err
			}
		}
		sort.SliceStable(hits, func(a, b int) bool { return hits[a].Score > hits[b].Score })
		hits = hits[:min(*k, len(hits))]
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	for i, h := range hits {
		if *asJSON {
			if err := enc.Encode(h); err != nil {
				return err
			}
			continue
		}
		text := strings.Join(strings.Fields(h.Text), " ")
		if r := []rune(text); len(r) > 200 {
			text = string(r[:200]) + "…"
		}
		fmt.Fprintf(stdout, "%d. %.3f %s\n   %s\n", i+1, h.Score, h.Doc, text)
	}
	if len(hits) == 0 {
		fmt.Fprintln(stderr, "no match")
	}
	return nil
}
