package main

import (
	"context"
	"fmt"
	"io"

	"github.com/dokja/dokja/demo"
	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/progress"
)

func runDemo(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "", `
Run the whole stack on one machine: curate the demo corpus (the Korean and
English LibreOffice help pages, or --corpus) with the data pipeline, train
a tokenizer and compare it with o200k and cl100k, encode token shards,
pretrain a small Llama for --minutes, evaluate it (held-out perplexity,
and KoBEST dev with --kobest), serve it over the OpenAI API and stream a
few answers, index the pages for search, let the model act as an agent
with Dokja's MCP tools, and pretrain a small ModernBERT encoder on the same
shards, fine-tune it for embeddings on help-page pairs and score BM25,
dense and hybrid retrieval on help pages it never saw (with
--your-encoder, an embedding model you have beside it). With --your-model, a model you already have (say Qwen2.5,
EXAONE or Gemma 3, as a folder or GGUF file) is evaluated on the same
pages and served the same prompts beside it. Everything lands in --out,
with an index.html linking every stage's report. Ctrl-C stops; running
the same command again resumes.

For another corpus, pass a pipeline tuned to it:
  dokja demo --pipeline examples/nsmc-pipeline.yaml --out runs/demo-nsmc`, stdout, stderr)
	var corpusPaths pathsFlag
	fs.Var(&corpusPaths, "corpus", "corpus `file` or folder (repeatable); default: the LibreOffice help pages")
	out := fs.String("out", "runs/demo", "run folder")
	vocab := fs.Int("vocab-size", 16000, "tokenizer vocabulary size")
	minutes := fs.Float64("minutes", 15, "pretraining budget in minutes")
	steps := fs.Int("steps", 0, "pretrain exactly this many steps instead of --minutes")
	kobest := fs.String("kobest", "", "KoBEST data `folder`: also score the model on its dev split")
	kobestLimit := fs.Int("kobest-limit", 200, "KoBEST items per task (0: all)")
	pipeline := fs.String("pipeline", "", "data pipeline `file` (YAML) to curate with, e.g. examples/nsmc-pipeline.yaml for NSMC (default: one tuned for the help pages)")
	modelPath := fs.String("model-config", "", "config.json of the decoder to pretrain (default: a 7.5M-parameter Llama; vocab_size follows the tokenizer)")
	yours := fs.String("your-model", "", "a model you already have (Hugging Face `folder` or GGUF file, any architecture in dokja models): also described, evaluated on the same pages and served the same prompts")
	encMinutes := fs.Float64("encoder-minutes", 5, "encoder training budget in minutes (pretraining and fine-tuning)")
	helpPages := fs.String("help-pages", "", "LibreOffice help `folder` (ko/ and en-US/) of the encoder's retrieval task (default: where the demo corpus is found)")
	yourEncoder := fs.String("your-encoder", "", "an embedding model you already have (Hugging Face `folder`: BERT, XLM-RoBERTa or ModernBERT, e.g. bge-m3): also scored on the retrieval task")
	if err := parse(fs, args); err != nil {
		return err
	}
	var mc *model.Config
	if *modelPath != "" {
		var err error
		if mc, err = model.LoadConfig(*modelPath); err != nil {
			return fmt.Errorf("--model-config: %w", err)
		}
	}
	line := progress.New(stderr)
	_, err := demo.Run(ctx, demo.Options{Model: mc, Pipeline: *pipeline, Corpus: corpusPaths, Out: *out, VocabSize: *vocab, Minutes: *minutes, Steps: *steps,
		KoBEST: *kobest, KoBESTLimit: *kobestLimit, YourModel: *yours,
		EncoderMinutes: *encMinutes, HelpPages: *helpPages, YourEncoder: *yourEncoder, Stdout: stdout, Status: stderr, Progress: line})
	line.Done()
	return err
}
