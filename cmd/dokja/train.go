package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/dokja/dokja/train"
)

func runTrain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "plot" {
		return runTrainPlot(args[1:], stdout, stderr)
	}
	fs := newFlags("train", "", `
Pretrain a decoder (Llama, Qwen2, Qwen3, Mistral, EXAONE, Gemma 3, ...) from
scratch, or continue pretraining a checkpoint, on token shards written by
"dokja tokenize". The run is described by a YAML file:

  model: config.json        # from scratch (Hugging Face config.json), or
  # init: runs/base/model   # continue from a checkpoint folder or a .gguf file
  # tokenizer: new.json     # with init: swap in a new vocabulary
  data: shards/nsmc         # folder of train-*.tok and val-*.tok
  out: runs/nsmc-15m
  seq_len: 256
  batch_size: 8             # sequences per micro-batch
  grad_accum: 4             # micro-batches per optimizer step
  steps: 2000               # or minutes: 15 (a time budget)
  lr: 1e-3
  min_lr: 1e-4
  warmup: 100
  weight_decay: 0.1
  grad_clip: 1.0
  eval_every: 100
  checkpoint_every: 500

The run folder receives metrics.jsonl, loss.png, checkpoints/step-N (model,
optimizer state, loader position; written atomically) and, at the end,
model/ (a Hugging Face folder for "dokja generate"). Ctrl-C saves a
checkpoint; --resume continues bit-identically. Documents start with the
shards' separator token, so prompts for a model trained from scratch should
begin with it too (e.g. "<|endoftext|>안녕하세요").

Encoders. A ModernBERT config.json (model_type modernbert) as model, or a
ModernBERT folder as init, trains on masked tokens instead, with the same
shards, checkpoints and resume: mask_rate (default 0.3) of the positions
are predicted; mask_token (default [MASK], <mask> or <|mask|>, added to
the data's tokenizer when it has none). The model/ folder is then a
ModernBertForMaskedLM. From a ModernBERT folder (init), instead of data:

  pairs: pairs.jsonl        # {"query", "positive"} lines: embeddings with
  temperature: 0.05         #   in-batch negatives (dokja index pairs writes some)
  labelled: lines.jsonl     # or {"text", "label"} lines: a classifier
                            #   (the classify stage of dokja data runs it)

fine-tunes it (seq_len caps each text; batch_size counts pairs or texts;
a twentieth, by a hash of the text, is held out for the validation loss
and accuracy) into
model/: a sentence-transformers folder (mean pooling, normalised) for
dokja serve --embedding-model and dokja index, or a
ModernBertForSequenceClassification.

"dokja train plot --out compare.png RUN..." draws several runs' losses
against training tokens in one chart.

Example:
  dokja train --config run.yaml`, stdout, stderr)
	cfgPath := fs.String("config", "", "run `file` (YAML)")
	resume := fs.Bool("resume", false, "continue from the run folder's latest checkpoint")
	kernels := fs.String("kernels", "", "matrix kernels: portable, simd or openblas (default: fastest built in)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return fs.usageError("--config is required")
	}
	cfg, err := train.LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *kernels != "" {
		cfg.Kernels = *kernels
	}
	res, err := train.Run(ctx, cfg, train.Options{Resume: *resume, Status: stderr, Log: slog.Default()})
	if res != nil {
		fmt.Fprintf(stdout, "steps %d/%d  tokens %d  loss %.4f  val_loss %.4f  %.0f tokens/s", res.Steps, res.Total, res.Tokens, res.Loss, res.ValLoss, res.TokensPerS)
		switch {
		case cfg.Labelled != "":
			fmt.Fprintf(stdout, "  val_accuracy %.4f\n", res.ValAccuracy)
		case res.PeakFLOPS > 0:
			fmt.Fprintf(stdout, "  MFU %.1f%% (peak %.1f GFLOP/s)\n", 100*res.MFU, res.PeakFLOPS/1e9)
		default:
			fmt.Fprintln(stdout)
		}
		if res.Checkpoint != "" {
			fmt.Fprintf(stdout, "checkpoint %s\n", res.Checkpoint)
		}
		if res.Model != "" {
			fmt.Fprintf(stdout, "model %s\n", res.Model)
		}
	}
	return err
}

func runTrainPlot(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train plot", "RUN...", `
Draw the validation and smoothed training losses of run folders (their
metrics.jsonl) against training tokens, in one PNG. A run is named by its
folder, or LABEL=FOLDER.

Example:
  dokja train plot --out compare.png swap=runs/cpt scratch=runs/scratch`, stdout, stderr)
	out := fs.String("out", "compare.png", "output PNG `path`")
	title := fs.String("title", "loss by training tokens", "chart title")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fs.usageError("name at least one run folder")
	}
	var runs []train.RunHistory
	for _, arg := range fs.Args() {
		label, dir, ok := strings.Cut(arg, "=")
		if !ok {
			label, dir = filepath.Base(arg), arg
		}
		ms, err := train.ReadMetrics(dir)
		if err != nil {
			return err
		}
		runs = append(runs, train.RunHistory{Label: label, Metrics: ms})
	}
	if err := train.PlotRuns(*out, *title, runs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}
