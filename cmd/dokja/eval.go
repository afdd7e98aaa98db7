package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/dokja/dokja/atomicfile"
	"github.com/dokja/dokja/checkpoint"
	"github.com/dokja/dokja/eval"
	"github.com/dokja/dokja/infer"
	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/progress"
	"github.com/dokja/dokja/tokenizer"
)

func init() {
	lateCommands = append(lateCommands, command{"eval", "score models: KoBEST, perplexity, harness task files (log-likelihood or generation); red-team; compare results", runEval, "tasks|compare|redteam|retrieval"})
}

func runEval(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "tasks" {
		return runEvalTasks(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "compare" {
		return runEvalCompare(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "redteam" {
		return runEvalRedteam(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "retrieval" {
		return runEvalRetrieval(ctx, args[1:], stdout, stderr)
	}
	fs := newFlags("eval", "", `
Score a model on benchmarks as EleutherAI's lm-evaluation-harness does
(same prompts, log-likelihood scoring and metrics), and print a table of
metrics with standard errors and chance levels, or JSON with per-item
records ("dokja eval tasks" lists the tasks; "kobest" names all five
KoBEST tasks).

The model is scored in process (--model FOLDER, a checkpoint folder or a
GGUF file), or through any OpenAI-compatible server (--endpoint URL
--model NAME): log-likelihoods come from /v1/completions with the prompt as
token ids, echo and logprobs, so the server's tokenizer must be known here
(--tokenizer, or --model naming a local folder that holds it). Both ways
give the same numbers for the same model.

Task files in lm-evaluation-harness's YAML (--tasks FILE.yaml) may also
generate (output_type generate_until): the prompt goes to the model as a
chat conversation (in process with the model's chat template, or through
the endpoint's /v1/chat/completions, which needs no tokenizer here), the
reply is cut at the task's stop strings, filtered, and scored by
exact_match.

KoBEST tasks read DIR/{BoolQ,COPA,HellaSwag,SentiNeg,WiC}/SPLIT.tsv
(--data-dir; report scores on dev). The perplexity task scores the
documents of --text (one per line, or JSON lines with --field) in windows
of the model's context.

Examples:
  dokja eval --model runs/nsmc/15m/model --tasks kobest --data-dir ../shared/data/kobest
  dokja eval --model runs/tiny --tasks kobest_copa,perplexity --data-dir ../shared/data/kobest --text heldout.txt --limit 100 --json
  dokja eval --endpoint http://127.0.0.1:8080 --model tiny --tokenizer runs/tiny --tasks kobest_copa --data-dir ../shared/data/kobest
  dokja eval --endpoint http://127.0.0.1:8080 --model tiny --tasks examples/tasks/kobest_sentineg_gen.yaml --num-fewshot 2`, stdout, stderr)
	modelFlag := fs.String("model", "", "checkpoint `folder` or GGUF file (in process), or the model's name on --endpoint")
	endpoint := fs.String("endpoint", "", "OpenAI-compatible server `URL` (http://host:port or .../v1) to score through")
	apiKey := fs.String("api-key", os.Getenv("OPENAI_API_KEY"), "Bearer key for --endpoint (default $OPENAI_API_KEY)")
	tokSpec := fs.String("tokenizer", "", "tokenizer.json, folder or name (default: the --model folder's)")
	var taskNames listFlag
	fs.Var(&taskNames, "tasks", "tasks to run, comma separated (default kobest)")
	dataDir := fs.String("data-dir", "", "KoBEST `folder` (holding BoolQ/, COPA/, ...)")
	split := fs.String("split", "dev", "KoBEST split to score (a file SPLIT.tsv)")
	text := fs.String("text", "", "text or JSON-lines `file` for the perplexity task")
	field := fs.String("field", "", "JSON field holding the text in --text (default text)")
	limit := fs.Int("limit", 0, "score only the first N items of each task (0: all)")
	fewshot := fs.Int("num-fewshot", 0, "solved examples from the train split before each item")
	seed := fs.Uint64("seed", 1234, "seed for few-shot sampling and bootstrap standard errors")
	asJSON := fs.Bool("json", false, "print the results as JSON (with per-item records)")
	out := fs.String("out", "", "also write the JSON results to this `file`")
	htmlOut := fs.String("html", "", "also write an HTML report (charts, configuration, sample items) to this `file`")
	concurrency := fs.Int("concurrency", 0, "requests in flight (default: 2 x --max-batch in process, 8 to an endpoint)")
	maxBatch := fs.Int("max-batch", 8, "sequences the in-process engine runs together")
	maxLength := fs.Int("max-length", 0, "the model's context in tokens (default: max_position_embeddings, or 2048 for an endpoint without a config.json)")
	retries := fs.Int("retries", 6, "retries of an endpoint request on 429, 5xx and network errors")
	scoreMax := fs.Int("score-max-tokens", 0, "max_tokens sent with scoring requests (1 for servers that refuse 0, such as vLLM)")
	kernels := fs.String("kernels", "", "matrix kernels in process: portable, simd or openblas (default: fastest)")
	system := fs.String("system", "", "system instruction opening every prompt (a system message in chat)")
	multiturn := fs.Bool("fewshot-as-multiturn", false, "send generation tasks' few-shot examples as user and assistant turns")
	cachePath := fs.String("cache", "", "JSON-lines `file` of answered requests: an interrupted run given the same file restarts where it stopped")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fs.usageError("unexpected argument %q", fs.Arg(0))
	}
	if *modelFlag == "" {
		return fs.usageError("--model is required (a checkpoint folder, or with --endpoint the model's name)")
	}
	if len(taskNames) == 0 {
		taskNames = listFlag{"kobest"}
	}
	var tasks []*eval.Task
	for _, n := range taskNames {
		ts, err := eval.Lookup(n)
		if err != nil {
			return err
		}
		tasks = append(tasks, ts...)
	}
	data, err := eval.LoadTaskData(tasks, *dataDir, *split, *text, *field, *fewshot > 0)
	if err != nil {
		return err
	}

	if *concurrency <= 0 && *endpoint == "" {
		*concurrency = 2 * max(*maxBatch, 1)
	}
	opt := eval.Options{Limit: *limit, NumFewshot: *fewshot, Seed: *seed, SystemInstruction: *system, FewshotAsMultiturn: *multiturn}
	scoring := false // a task needs log-likelihoods, hence the tokenizer
	for _, td := range data {
		scoring = scoring || td.Task.OutputType != eval.GenerateUntil
	}
	opt.Identity.DataDir, opt.Identity.Split = *dataDir, *split
	var backend eval.Backend
	var done atomic.Int64
	onDone := func() { done.Add(1) }
	if *endpoint == "" {
		e, id, err := eval.LoadEngine(*modelFlag, *tokSpec, *kernels, *maxBatch, *maxLength)
		if err != nil {
			return err
		}
		defer e.Close()
		opt.Identity, opt.Encoder, opt.MaxLength = mergeIdentity(opt.Identity, id), e.Tokenizer(), e.MaxContext()
		if opt.PrefixToken, err = eval.PrefixToken(e.Model().Config, e.Tokenizer()); err != nil {
			return fmt.Errorf("--model %s: %w", *modelFlag, err)
		}
		chat, err := infer.LoadChat(*modelFlag)
		if err != nil && !scoring {
			return fmt.Errorf("--model %s: %w", *modelFlag, err)
		}
		backend = &eval.Engine{Engine: e, Chat: chat, Concurrency: *concurrency, Progress: onDone}
		slog.Info("loaded", "model", *modelFlag, "params", e.Model().NumParams(), "context", e.MaxContext(), "kernels", e.Model().K.Name())
	} else if !scoring && *tokSpec == "" {
		name := endpointModelName(*modelFlag)
		opt.Identity.Backend, opt.Identity.Endpoint, opt.Identity.ModelName = "endpoint", *endpoint, name
		backend = &eval.Endpoint{URL: *endpoint, Model: name, APIKey: *apiKey, Concurrency: *concurrency, Retries: retryFlag(*retries), Progress: onDone}
	} else {
		spec := *tokSpec
		if spec == "" {
			if st, err := os.Stat(*modelFlag); err == nil && (st.IsDir() || checkpoint.IsGGUF(*modelFlag)) {
				spec = *modelFlag
			} else {
				return errors.New("--endpoint needs the server's tokenizer here, to send prompts as token ids: pass --tokenizer (a tokenizer.json, a checkpoint folder, a GGUF file, o200k or cl100k), or the local checkpoint folder or GGUF file as --model")
			}
		}
		var tok *tokenizer.Tokenizer
		var cfg *model.Config
		if checkpoint.IsGGUF(spec) {
			// The tokenizer and metadata of a GGUF file, without its weights.
			info, err := checkpoint.Inspect(spec)
			if err != nil {
				return fmt.Errorf("--tokenizer %s: %w", spec, err)
			}
			if info.Tokenizer == nil {
				return fmt.Errorf("--tokenizer %s: the file carries no tokenizer", spec)
			}
			tok, cfg = info.Tokenizer, info.Config
		} else {
			if tok, err = tokenizer.Load(spec); err != nil {
				return fmt.Errorf("--tokenizer %s: %w", spec, err)
			}
			if st, err := os.Stat(spec); err == nil && st.IsDir() {
				if c, err := model.LoadConfig(filepath.Join(spec, "config.json")); err == nil {
					cfg = c
				}
			}
		}
		opt.MaxLength = *maxLength
		if opt.MaxLength <= 0 {
			opt.MaxLength = 2048
			if cfg != nil && cfg.MaxPositionEmbeddings > 0 {
				opt.MaxLength = cfg.MaxPositionEmbeddings
			}
		}
		if opt.PrefixToken, err = eval.PrefixToken(cfg, tok); err != nil {
			return fmt.Errorf("--tokenizer %s: %w", spec, err)
		}
		name := endpointModelName(*modelFlag)
		opt.Encoder = tok
		opt.Identity.Backend, opt.Identity.Endpoint, opt.Identity.ModelName = "endpoint", *endpoint, name
		opt.Identity.Tokenizer, opt.Identity.TokenizerSHA256 = eval.TokenizerIdentity(spec)
		backend = &eval.Endpoint{URL: *endpoint, Model: name, APIKey: *apiKey, MaxTokens: *scoreMax, MaxLength: opt.MaxLength,
			Concurrency: *concurrency, Retries: retryFlag(*retries), Progress: onDone}
	}

	if *cachePath != "" {
		id := opt.Identity
		// What the answers depend on: the model, its tokenizer and context.
		key := fmt.Sprintf("%s %s %s %s %s max_length=%d max_tokens=%d", id.Backend, id.ModelSHA256, id.Endpoint, id.ModelName, id.TokenizerSHA256, opt.MaxLength, *scoreMax)
		c, err := eval.OpenCache(*cachePath, key, backend)
		if err != nil {
			return fmt.Errorf("--cache: %w", err)
		}
		defer func() {
			c.Close()
			if c.Hits() > 0 {
				slog.Info("answers reused from the cache", "requests", c.Hits(), "cache", *cachePath)
			}
		}()
		backend = c
	}
	line := progress.New(stderr)
	var total atomic.Int64
	var current atomic.Value
	opt.Progress = func(task string, requests int) {
		done.Store(0)
		current.Store(task)
		total.Store(int64(requests))
	}
	stopDraw, drawn := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(drawn)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopDraw:
				return
			case <-tick.C:
				if n := total.Load(); n > 0 {
					line.Printf("%s: %d/%d requests", current.Load(), done.Load(), n)
				}
			}
		}
	}()
	rep, err := eval.Evaluate(ctx, backend, data, opt)
	close(stopDraw)
	<-drawn
	line.Done()
	if err != nil {
		return err
	}
	if *out != "" {
		var buf bytes.Buffer
		if err := rep.WriteJSON(&buf); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(*out, buf.Bytes()); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	if *htmlOut != "" {
		if err := writeHTMLReport(*htmlOut, []eval.Run{{Label: "run", Report: rep}}); err != nil {
			return fmt.Errorf("--html: %w", err)
		}
	}
	if *asJSON {
		return rep.WriteJSON(stdout)
	}
	return rep.WriteTable(stdout)
}

// endpointModelName is the name dokja serve gives a local folder or GGUF
// file, or the name as given.
func endpointModelName(model string) string {
	if st, err := os.Stat(model); err == nil && st.IsDir() {
		return filepath.Base(filepath.Clean(model))
	}
	if checkpoint.IsGGUF(model) {
		// dokja serve names a GGUF file after it, suffix dropped.
		return strings.TrimSuffix(filepath.Base(filepath.Clean(model)), ".gguf")
	}
	return model
}

// retryFlag turns --retries into Endpoint.Retries, whose 0 means the
// default.
func retryFlag(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

func writeHTMLReport(path string, runs []eval.Run) error {
	var buf bytes.Buffer
	if err := eval.WriteHTML(&buf, runs); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, buf.Bytes())
}

func runEvalCompare(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval compare", "RESULTS.json...", `
Show the results of several "dokja eval --out" runs side by side: a row
per task and metric, a column per run (value ± standard error), the
chance level, and each run's config hash and model. A run is named by its
file name, or LABEL=FILE.

Example:
  dokja eval compare --html compare.html base=runs/eval-15m.json cpt=runs/eval-cpt.json`, stdout, stderr)
	htmlOut := fs.String("html", "", "also write the comparison as an HTML page with charts to this `file`")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fs.usageError("name at least one results file")
	}
	var runs []eval.Run
	for _, arg := range fs.Args() {
		label, path, ok := strings.Cut(arg, "=")
		if !ok {
			label, path = strings.TrimSuffix(filepath.Base(arg), ".json"), arg
		}
		r, err := eval.ReadReport(path)
		if err != nil {
			return err
		}
		runs = append(runs, eval.Run{Label: label, Report: r})
	}
	if *htmlOut != "" {
		if err := writeHTMLReport(*htmlOut, runs); err != nil {
			return fmt.Errorf("--html: %w", err)
		}
	}
	return eval.Compare(stdout, runs)
}

func mergeIdentity(run, model eval.Identity) eval.Identity {
	model.DataDir, model.Split = run.DataDir, run.Split
	return model
}

func runEvalTasks(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval tasks", "", "List the built-in evaluation tasks.", stdout, stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "task\ttype\tmetrics\tdescription")
	for _, t := range eval.Tasks() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.OutputType, strings.Join(t.Metrics, ","), t.Description)
	}
	fmt.Fprintln(tw, "kobest\t\t\tall five KoBEST tasks")
	return tw.Flush()
}
