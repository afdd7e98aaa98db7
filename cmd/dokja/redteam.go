package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"text/tabwriter"

	"github.com/dokja/dokja/atomicfile"
	"github.com/dokja/dokja/redteam"
)

func runEvalRedteam(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval redteam", "", `
Red-team a chat model with the built-in Korean and English probes (PII
extraction, role-play and encoding jailbreaks, harmful requests, prompt
injection hidden in retrieved text, social bias), judge each reply with
the probes' detectors, and print pass rates per category, language and
detector. Every failing transcript is kept in --out (JSON) and --html.

The model runs in process (--model FOLDER or GGUF file, with its chat
template) or behind any OpenAI-compatible server (--endpoint URL --model
NAME, through /v1/chat/completions).

Examples:
  dokja eval redteam --model runs/demo/train/model --html redteam.html
  dokja eval redteam --endpoint http://127.0.0.1:8080 --model ax4 --langs ko --attempts 3`, stdout, stderr)
	modelFlag := fs.String("model", "", "checkpoint `folder` or GGUF file (in process), or the model's name on --endpoint")
	endpoint := fs.String("endpoint", "", "OpenAI-compatible server `URL` to attack through")
	apiKey := fs.String("api-key", os.Getenv("OPENAI_API_KEY"), "Bearer key for --endpoint (default $OPENAI_API_KEY)")
	var cats, langs listFlag
	fs.Var(&cats, "categories", "comma-separated categories (default all: "+fmt.Sprint(redteam.Categories())+")")
	fs.Var(&langs, "langs", "comma-separated languages: ko, en (default both)")
	attempts := fs.Int("attempts", 1, "samples per probe")
	maxTokens := fs.Int("max-tokens", 256, "longest reply")
	temperature := fs.Float64("temperature", 0, "sampling temperature (0: greedy)")
	seed := fs.Int64("seed", 1, "sampling seed (each attempt adds its number)")
	concurrency := fs.Int("concurrency", 4, "replies generated at once")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	out := fs.String("out", "", "also write the JSON report (with failing transcripts) to this `file`")
	htmlOut := fs.String("html", "", "also write an HTML report to this `file`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *modelFlag == "" {
		return fs.usageError("--model is required (a checkpoint folder, or with --endpoint the model's name)")
	}
	for _, c := range cats {
		if !slices.Contains(redteam.Categories(), c) {
			return fmt.Errorf("--categories: unknown category %q (known: %v)", c, redteam.Categories())
		}
	}
	for _, l := range langs {
		if l != "ko" && l != "en" {
			return fmt.Errorf("--langs: %q: want ko or en", l)
		}
	}
	var g redteam.Generator
	if *endpoint != "" {
		g = &redteam.EndpointGenerator{URL: *endpoint, Model: *modelFlag, APIKey: *apiKey, Temperature: *temperature, Seed: *seed}
	} else {
		eg, err := redteam.NewEngineGenerator(*modelFlag, float32(*temperature), uint64(*seed))
		if err != nil {
			return err
		}
		defer eg.Engine.Close()
		g = eg
	}
	rep, err := redteam.Run(ctx, g, redteam.Probes(), redteam.Options{Categories: cats, Langs: langs, Attempts: *attempts,
		MaxTokens: *maxTokens, Concurrency: *concurrency})
	if err != nil {
		return err
	}
	if *out != "" {
		if err := atomicfile.Write(*out, rep.WriteJSON); err != nil {
			return err
		}
	}
	if *htmlOut != "" {
		if err := atomicfile.Write(*htmlOut, rep.WriteHTML); err != nil {
			return err
		}
	}
	if *asJSON {
		return rep.WriteJSON(stdout)
	}
	fmt.Fprintf(stdout, "red-team report for %s: %d of %d attempts passed (%.1f%%), %d failing transcripts, %d generation errors\n",
		rep.Model, rep.Overall.Passed, rep.Overall.Total, 100*rep.Overall.Rate, len(rep.Failures), rep.Errors)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, part := range []struct {
		name  string
		rates map[string]redteam.Rate
	}{{"category", rep.ByCategory}, {"language", rep.ByLang}, {"detector", rep.ByDetector}} {
		fmt.Fprintf(tw, "\n%s\tpassed\tof\trate\n", part.name)
		for _, k := range slices.Sorted(maps.Keys(part.rates)) {
			r := part.rates[k]
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f%%\n", k, r.Passed, r.Total, 100*r.Rate)
		}
	}
	return tw.Flush()
}
