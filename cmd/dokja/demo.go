package main

import (
	"context"
	"io"

	"github.com/dokja/dokja/demo"
	"github.com/dokja/dokja/progress"
)

func runDemo(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "", `
Run Dokja's main demo. Today: read the demo corpus (the Korean and English
LibreOffice help pages, or --corpus), hold out every tenth document, train
a byte-level BPE tokenizer on the rest, and compare it with o200k and
cl100k on the held-out Korean and English pages. Results land in --out.`, stderr)
	var corpusPaths pathsFlag
	fs.Var(&corpusPaths, "corpus", "corpus `file` or folder (repeatable); default: the LibreOffice help pages")
	out := fs.String("out", "runs/demo", "run folder")
	vocab := fs.Int("vocab-size", 16000, "tokenizer vocabulary size")
	if err := parse(fs, args); err != nil {
		return err
	}
	_, err := demo.Run(ctx, demo.Options{Corpus: corpusPaths, Out: *out, VocabSize: *vocab, Stdout: stdout, Progress: progress.New(stderr)})
	return err
}
