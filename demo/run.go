package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dokja/dokja/agent"
	"github.com/dokja/dokja/atomicfile"
	"github.com/dokja/dokja/checkpoint"
	"github.com/dokja/dokja/corpus"
	"github.com/dokja/dokja/data"
	"github.com/dokja/dokja/eval"
	"github.com/dokja/dokja/index"
	"github.com/dokja/dokja/infer"
	"github.com/dokja/dokja/mcpserver"
	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/progress"
	"github.com/dokja/dokja/serve"
	"github.com/dokja/dokja/shards"
	"github.com/dokja/dokja/tokenizer"
	"github.com/dokja/dokja/train"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// Options configures Run.
type Options struct {
	// Corpus is files or folders; empty means DefaultCorpus (or, with
	// Pipeline, that file's input).
	Corpus []string
	// Pipeline is a data pipeline config (YAML) to curate with instead of
	// the one tuned for the help pages; its tokenize stage, if any, is
	// dropped (the demo tokenizes with the tokenizer it trains).
	Pipeline string
	// Out is the run folder; a rerun with the same options resumes there.
	Out string
	// Minutes is the pretraining budget (default 15); Steps, when
	// positive, fixes the number of optimizer steps instead.
	Minutes float64
	Steps   int
	// VocabSize of the tokenizer (default 16000).
	VocabSize int
	// Model is the decoder to pretrain; nil means DemoModel.
	Model *model.Config
	// SeqLen and BatchSize of pretraining (defaults 256 and 8).
	SeqLen, BatchSize int
	// KoBEST is a KoBEST data folder; when set, the model is scored on its
	// dev split, KoBESTLimit items per task (0: all).
	KoBEST      string
	KoBESTLimit int
	// KoBESTTasks names the tasks to score (default: all five).
	KoBESTTasks []string
	// YourModel is a model the user already has (a Hugging Face folder or
	// a GGUF file, any architecture Dokja runs): when set, the demo also
	// describes it, evaluates it on the same held-out pages (bits per byte
	// compare across tokenizers) and KoBEST, and serves it the same prompts.
	YourModel string
	// EncoderMinutes is the encoder step's training budget (default 5):
	// six tenths pretraining on masked tokens, the rest fine-tuning for
	// embeddings.
	EncoderMinutes float64
	// HelpPages is the LibreOffice help root (ko/ and en-US/) of the
	// encoder step's retrieval task and training pairs (default: where
	// DefaultCorpus looks).
	HelpPages string
	// YourEncoder is an embedding model the user already has (a Hugging
	// Face folder: BERT, XLM-RoBERTa or ModernBERT), scored on the same
	// retrieval task.
	YourEncoder string
	// Prompts are sent to the served model (default: a few in Korean and
	// English); MaxTokens is the length of each answer (default 48).
	Prompts   []string
	MaxTokens int
	Workers   int // default: all cores
	Stdout    io.Writer
	Status    io.Writer // the live status lines of long steps (stderr)
	Progress  *progress.Line
}

// DefaultPrompts are continued by the demo's model.
var DefaultPrompts = []string{
	"LibreOffice Calc에서 셀 서식을 바꾸려면",
	"문서를 PDF로 내보내려면",
	"To insert a table in Writer,",
	"The Navigator shows",
}

// DemoModel is the decoder the demo pretrains: a Llama of about 7.5M
// parameters with a 16k vocabulary, big enough to learn the help pages'
// phrasing in fifteen minutes on two cores.
func DemoModel(vocab int) *model.Config {
	return &model.Config{
		Architectures: []string{"LlamaForCausalLM"}, ModelType: "llama", VocabSize: vocab,
		HiddenSize: 256, IntermediateSize: 768, NumHiddenLayers: 4, NumAttentionHeads: 4, NumKeyValueHeads: 4,
		HiddenAct: "silu", MaxPositionEmbeddings: 256, RMSNormEps: 1e-5, RopeTheta: 10000, TieWordEmbeddings: true,
		TorchDtype: "float32",
	}
}

// Summary is what a demo run measured; it is also written as summary.json
// and shown in index.html.
type Summary struct {
	Corpus []string `json:"corpus"`
	// Data pipeline.
	DocsRead             int64   `json:"docs_read"`
	DocsKept             int64   `json:"docs_kept"`
	MBRead               float64 `json:"mb_read"`
	MBKept               float64 `json:"mb_kept"`
	DataSeconds          float64 `json:"data_seconds"`
	Tokenizer            *Report `json:"tokenizer"`
	TrainTokens          int64   `json:"train_tokens"`
	ValTokens            int64   `json:"val_tokens"`
	Params               int     `json:"params"`
	Steps                int     `json:"steps"`
	TokensSeen           int64   `json:"tokens_seen"`
	FirstLoss            float64 `json:"first_loss"`
	LastLoss             float64 `json:"last_loss"`
	ValLoss              float64 `json:"val_loss"`
	TrainTokensPerSecond float64 `json:"train_tokens_per_s"`
	// Evaluation: metric values per task ("perplexity word_perplexity").
	Eval map[string]float64 `json:"eval"`
	// Serving.
	Samples []Sample `json:"samples"`
	// Yours is the user's model, when Options.YourModel is set.
	Yours *YourModel `json:"your_model,omitempty"`
	// Search is the index of the curated documents and a few searches.
	Search *SearchRun `json:"search,omitempty"`
	// Agent is the tool-calling run.
	Agent *AgentRun `json:"agent,omitempty"`
	// Encoder is the encoder step.
	Encoder *EncoderRun `json:"encoder,omitempty"`
}

// SearchRun is the demo's search step.
type SearchRun struct {
	Docs     int           `json:"docs"`
	Chunks   int           `json:"chunks"`
	Searches []SearchShown `json:"searches"`
}

// SearchShown is one query and its best passage.
type SearchShown struct {
	Query string  `json:"query"`
	Doc   string  `json:"doc"`
	Text  string  `json:"text"`
	Score float64 `json:"score"`
}

// searchQueries are the demo's searches: Korean with a word's ending
// dropped (저장하 for 저장하려면), and English.
var searchQueries = []string{"문서 저장하", "표 서식", "insert a chart"}

// AgentRun is the demo's agent step: the model, given Dokja's MCP tools
// and a calculator, must call one, and gets the result back.
type AgentRun struct {
	Model  string      `json:"model"`
	Prompt string      `json:"prompt"`
	Calls  []AgentCall `json:"calls"`
	Answer string      `json:"answer"`
	Stop   string      `json:"stop"`
	Steps  int         `json:"steps"`
}

// AgentCall is one tool call of the agent step.
type AgentCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
	Result    string `json:"result"`
}

// YourModel is what the demo measured on the user's own model.
type YourModel struct {
	Path         string             `json:"path"`
	Architecture string             `json:"architecture"`
	Params       float64            `json:"params"`
	ActiveParams float64            `json:"active_params"`
	Context      int                `json:"context"`
	Eval         map[string]float64 `json:"eval"`
	Samples      []Sample           `json:"samples"`
}

// Sample is one streamed answer of the served model.
type Sample struct {
	Prompt     string  `json:"prompt"`
	Answer     string  `json:"answer"`
	Tokens     int     `json:"tokens"`
	TTFTMillis float64 `json:"ttft_ms"`
	TokensPerS float64 `json:"tokens_per_s"`
}

// Run executes the whole demo. Each step leaves its output in a subfolder
// of opt.Out and is skipped when a rerun finds it complete, so an
// interrupted demo resumes where it stopped (pretraining from its last
// checkpoint).
func Run(ctx context.Context, opt Options) (*Summary, error) {
	if opt.Minutes == 0 {
		opt.Minutes = 15
	}
	if opt.VocabSize == 0 {
		opt.VocabSize = 16000
	}
	if opt.SeqLen == 0 {
		opt.SeqLen = 256
	}
	if opt.BatchSize == 0 {
		opt.BatchSize = 8
	}
	if opt.EncoderMinutes == 0 {
		opt.EncoderMinutes = 5
	}
	if opt.MaxTokens == 0 {
		opt.MaxTokens = 48
	}
	if len(opt.Prompts) == 0 {
		opt.Prompts = DefaultPrompts
	}
	if opt.Stdout == nil {
		opt.Stdout = io.Discard
	}
	if len(opt.Corpus) == 0 && opt.Pipeline == "" {
		c, err := DefaultCorpus()
		if err != nil {
			return nil, err
		}
		opt.Corpus = c
	}
	if err := os.MkdirAll(opt.Out, 0o755); err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	sum := &Summary{Corpus: opt.Corpus, Eval: map[string]float64{}}
	say := func(format string, args ...any) { fmt.Fprintf(opt.Stdout, format+"\n", args...) }
	steps := []struct {
		name string
		run  func(context.Context, *Options, *Summary) error
	}{
		{"curate the corpus (data pipeline)", curate},
		{"train the tokenizer", trainTokenizer},
		{"encode token shards", encodeShards},
		{"pretrain", pretrain},
		{"evaluate", evaluate},
		{"serve and ask", serveAndAsk},
		{"index and search", searchStep},
		{"agent: tools over MCP", agentStep},
		{"encoder: pretrain, fine-tune for embeddings, retrieve", encoderStep},
	}
	if opt.YourModel != "" {
		steps = append(steps, struct {
			name string
			run  func(context.Context, *Options, *Summary) error
		}{"your model: describe, evaluate, serve", yourModel})
	}
	for i, st := range steps {
		say("\n[%d/%d] %s", i+1, len(steps), st.name)
		if err := st.run(ctx, &opt, sum); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%s: interrupted; run the demo again to resume: %w", st.name, ctx.Err())
			}
			return nil, fmt.Errorf("%s: %w", st.name, err)
		}
	}
	if err := atomicfile.WriteJSON(filepath.Join(opt.Out, "summary.json"), sum); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(opt.Out, "index.html"), func(w io.Writer) error { return writeIndex(w, sum) }); err != nil {
		return nil, err
	}
	say("\nDone: %s", filepath.Join(opt.Out, "index.html"))
	return sum, nil
}

// demoPipeline curates help pages: the web defaults, with word and
// sentence minimums lowered for short pages and the Hangul ratio lowered
// for Korean pages that name English menus and code.
const demoPipeline = `
stages:
  - normalize: {}
  - langid: {keep: [ko, en]}
  - quality:
      ko: {gopher: {min_words: 20}, korean: {min_hangul_ratio: 0.3}, c4: {min_sentences: 2}}
      en: {gopher: {min_words: 20}, c4: {min_sentences: 2}}
  - exact_dedup: {}
  - line_dedup: {}
  - minhash_dedup: {}
  - pii: {}
`

func curate(ctx context.Context, o *Options, s *Summary) error {
	var cfg *data.Config
	var err error
	if o.Pipeline != "" {
		if cfg, err = data.ReadConfig(o.Pipeline); err != nil {
			return err
		}
		cfg.Stages = slices.DeleteFunc(cfg.Stages, func(st data.StageSpec) bool { return st.Kind == "tokenize" })
	} else if cfg, err = data.ParseConfig([]byte(demoPipeline)); err != nil {
		return err
	}
	if len(o.Corpus) > 0 {
		// Paths given on the command line are taken as they are.
		cfg.Input.Paths = nil
		for _, p := range o.Corpus {
			abs, err := filepath.Abs(p)
			if err != nil {
				return err
			}
			cfg.Input.Paths = append(cfg.Input.Paths, abs)
		}
	}
	s.Corpus = cfg.Input.Paths
	if o.Workers != 0 {
		cfg.Workers = o.Workers
	}
	env := &data.Env{EvalTexts: eval.ItemTexts}
	rep, err := data.Run(ctx, cfg, data.RunOptions{Out: filepath.Join(o.Out, "data"), Env: env, Progress: o.Progress})
	o.Progress.Done()
	if err != nil {
		return err
	}
	s.DocsRead, s.DocsKept = rep.Input.Docs, rep.Output.Docs
	s.MBRead, s.MBKept = float64(rep.Input.Bytes)/1e6, float64(rep.Output.Bytes)/1e6
	s.DataSeconds = rep.Seconds
	if s.DocsKept == 0 {
		var why []string
		for _, st := range rep.Stages {
			for reason, n := range st.Dropped {
				why = append(why, fmt.Sprintf("%s %s %d", st.Name, reason, n))
			}
		}
		slices.Sort(why)
		return fmt.Errorf("the data pipeline kept none of %d documents (%s; data/report.html shows samples)", s.DocsRead, strings.Join(why, ", "))
	}
	fmt.Fprintf(o.Stdout, "  kept %d of %d documents (%.1f of %.1f MB): data/report.html\n", s.DocsKept, s.DocsRead, s.MBKept, s.MBRead)
	return nil
}

// valFraction of the curated documents, chosen by hash, are held out:
// from the tokenizer's training, from pretraining (the val split) and for
// the perplexity evaluation.
const valFraction = 0.05

func isVal(_ int, text string) bool { return shards.IsVal(text, valFraction) }

func trainTokenizer(ctx context.Context, o *Options, s *Summary) error {
	dir := filepath.Join(o.Out, "tokenizer")
	if rep, err := atomicfile.ReadJSON[Report](filepath.Join(dir, "report.json")); err == nil {
		s.Tokenizer = rep
		fmt.Fprintf(o.Stdout, "  done before: %s\n", rep.Tokenizer)
		return nil
	}
	files, err := data.OutputFiles(filepath.Join(o.Out, "data"))
	if err != nil {
		return err
	}
	rep, err := TrainTokenizer(ctx, TokenizerOptions{Corpus: files, Out: dir, VocabSize: o.VocabSize, Workers: o.Workers,
		HeldOut: isVal, Stdout: o.Stdout, Progress: o.Progress})
	if err != nil {
		return err
	}
	s.Tokenizer = rep
	return nil
}

func encodeShards(ctx context.Context, o *Options, s *Summary) error {
	dir := filepath.Join(o.Out, "tokens")
	if m, err := shards.ReadManifest(dir); err == nil {
		s.TrainTokens, s.ValTokens = m.Splits["train"].Tokens, m.Splits["val"].Tokens
		fmt.Fprintf(o.Stdout, "  done before: %d train and %d val tokens\n", s.TrainTokens, s.ValTokens)
		return nil
	}
	tok, err := tokenizer.LoadJSON(s.Tokenizer.Tokenizer)
	if err != nil {
		return err
	}
	files, err := data.OutputFiles(filepath.Join(o.Out, "data"))
	if err != nil {
		return err
	}
	res, err := data.Tokenize(ctx, data.TokenizeOptions{Tokenizer: tok, Files: files, Read: corpus.Options{Format: corpus.JSONL},
		Out: dir, ValFraction: valFraction, ShardTokens: 100_000_000, Workers: o.Workers, Force: true, Progress: o.Progress})
	o.Progress.Done()
	if err != nil {
		return err
	}
	s.TrainTokens, s.ValTokens = res.Train.Tokens, res.Val.Tokens
	fmt.Fprintf(o.Stdout, "  %d train and %d val tokens: tokens/\n", s.TrainTokens, s.ValTokens)
	return nil
}

func pretrain(ctx context.Context, o *Options, s *Summary) error {
	dir := filepath.Join(o.Out, "train")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tok, err := tokenizer.LoadJSON(s.Tokenizer.Tokenizer)
	if err != nil {
		return err
	}
	mc := o.Model
	if mc == nil {
		mc = DemoModel(tok.VocabSize())
	}
	c := *mc
	c.VocabSize = tok.VocabSize()
	c.MaxPositionEmbeddings = max(c.MaxPositionEmbeddings, o.SeqLen)
	if id, ok := tok.TokenID("<|endoftext|>"); ok {
		c.EOSTokenID = id
	}
	mcPath := filepath.Join(dir, "model-config.json")
	js, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(mcPath, js); err != nil {
		return err
	}
	cfg := &train.Config{
		Model: mcPath, Data: filepath.Join(o.Out, "tokens"), Out: dir, Seed: 1,
		SeqLen: o.SeqLen, BatchSize: o.BatchSize, GradAccum: 1, Steps: o.Steps,
		LR: 2e-3, MinLR: 2e-4, WeightDecay: 0.1, GradClip: 1,
		EvalEvery: 50, EvalBatches: 8, CheckpointEvery: 50, Keep: 2,
	}
	if o.Steps == 0 {
		cfg.Minutes = o.Minutes
	}
	cfg.Warmup = 20
	if o.Steps > 0 {
		cfg.Warmup = max(1, o.Steps/10)
		cfg.EvalEvery = max(1, o.Steps/2)
		cfg.CheckpointEvery = max(1, o.Steps/2)
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	final := filepath.Join(dir, "model")
	if _, err := os.Stat(filepath.Join(final, "config.json")); err != nil {
		_, statErr := os.Stat(filepath.Join(dir, "latest"))
		res, err := train.Run(ctx, cfg, train.Options{Resume: statErr == nil, Status: o.Status})
		if err != nil {
			return err
		}
		if res.Model == "" {
			return errors.New("training stopped before its last step")
		}
	}
	hist, err := train.ReadMetrics(dir)
	if err != nil {
		return err
	}
	var elapsed float64
	for _, m := range hist {
		if m.Loss > 0 {
			if s.FirstLoss == 0 {
				s.FirstLoss = m.Loss
			}
			s.LastLoss = m.Loss
			s.Steps = m.Step
			s.TokensSeen = m.Tokens
			elapsed = m.Elapsed
		}
		if m.ValLoss > 0 {
			s.ValLoss = m.ValLoss
		}
	}
	if elapsed > 0 {
		s.TrainTokensPerSecond = float64(s.TokensSeen) / elapsed
	}
	if m, err := model.Load(final); err == nil {
		s.Params = m.NumParams()
	}
	fmt.Fprintf(o.Stdout, "  %d steps, %d tokens: loss %.3f -> %.3f, val loss %.3f: train/loss.png\n", s.Steps, s.TokensSeen, s.FirstLoss, s.LastLoss, s.ValLoss)
	return nil
}

// maxHeldOut bounds the documents of the perplexity evaluation.
const maxHeldOut = 200

func evaluate(ctx context.Context, o *Options, s *Summary) error {
	dir := filepath.Join(o.Out, "eval")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rep, err := evalModel(ctx, o, filepath.Join(o.Out, "train", "model"), dir)
	if err != nil {
		return err
	}
	for _, t := range rep.Tasks {
		for _, m := range t.Metrics {
			s.Eval[t.Task+" "+m.Metric] = m.Value
		}
	}
	var parts []string
	for _, t := range rep.Tasks {
		for _, m := range t.Metrics {
			parts = append(parts, fmt.Sprintf("%s %s %.3f", t.Task, m.Metric, m.Value))
		}
	}
	fmt.Fprintf(o.Stdout, "  %s: eval/report.html\n", strings.Join(parts, "; "))
	return nil
}

// evalModel scores a model into dir (held-out perplexity, KoBEST with
// --kobest), or reads the report a previous run left there.
func evalModel(ctx context.Context, o *Options, modelDir, dir string) (*eval.Report, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if rep, err := eval.ReadReport(filepath.Join(dir, "report.json")); err == nil && rep.Config.ModelPath == modelDir {
		return rep, nil
	}
	return runEval(ctx, o, modelDir, dir)
}

func runEval(ctx context.Context, o *Options, modelDir, dir string) (*eval.Report, error) {
	// The held-out text: curated documents of the val split.
	files, err := data.OutputFiles(filepath.Join(o.Out, "data"))
	if err != nil {
		return nil, err
	}
	var held []string
	for text, err := range corpus.Texts(files, corpus.Options{Format: corpus.JSONL}) {
		if err != nil {
			return nil, err
		}
		if shards.IsVal(text, valFraction) && len(held) < maxHeldOut {
			held = append(held, text)
		}
	}
	if len(held) == 0 {
		return nil, errors.New("no held-out document to evaluate on")
	}
	heldPath := filepath.Join(dir, "heldout.jsonl")
	if err := atomicfile.Write(heldPath, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, t := range held {
			if err := enc.Encode(map[string]string{"text": t}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	e, id, err := eval.LoadEngine(modelDir, "", "", 8, 0)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	var tasks []*eval.Task
	tasks = append(tasks, eval.Perplexity())
	if o.KoBEST != "" {
		names := o.KoBESTTasks
		if len(names) == 0 {
			names = []string{"kobest"}
		}
		for _, n := range names {
			kb, err := eval.Lookup(n)
			if err != nil {
				return nil, err
			}
			tasks = append(tasks, kb...)
		}
	}
	td, err := eval.LoadTaskData(tasks, o.KoBEST, "dev", heldPath, "", false)
	if err != nil {
		return nil, err
	}
	opt := eval.Options{Encoder: e.Tokenizer(), MaxLength: e.MaxContext(), Seed: 1234, Identity: id}
	opt.Identity.DataDir, opt.Identity.Split = o.KoBEST, "dev"
	if opt.PrefixToken, err = eval.PrefixToken(e.Model().Config, e.Tokenizer()); err != nil {
		return nil, err
	}
	for i := range td {
		if td[i].Task.Dir != "" && o.KoBESTLimit > 0 && len(td[i].Docs) > o.KoBESTLimit {
			td[i].Docs = td[i].Docs[:o.KoBESTLimit]
		}
	}
	opt.Progress = func(task string, requests int) { o.Progress.Printf("evaluating %s: %d requests", task, requests) }
	rep, err := eval.Evaluate(ctx, &eval.Engine{Engine: e, Concurrency: 16}, td, opt)
	o.Progress.Done()
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(dir, "report.html"), func(w io.Writer) error {
		return eval.WriteHTML(w, []eval.Run{{Label: "demo", Report: rep}})
	}); err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(dir, "report.json"), rep.WriteJSON); err != nil {
		return nil, err
	}
	return rep, nil
}

// serveAndAsk starts the OpenAI-compatible server on a loopback port,
// streams an answer to each prompt through the official OpenAI client,
// and stops the server.
func serveAndAsk(ctx context.Context, o *Options, s *Summary) error {
	samples, err := serveModel(ctx, o, filepath.Join(o.Out, "train", "model"), filepath.Join(o.Out, "serve"))
	s.Samples = samples
	return err
}

// serveModel serves a model on a loopback port and asks it the prompts
// through the OpenAI client, keeping the answers in dir/samples.json (a
// rerun that finds them asks nothing).
func serveModel(ctx context.Context, o *Options, modelDir, dir string) ([]Sample, error) {
	samplesPath := filepath.Join(dir, "samples.json")
	if got, err := atomicfile.ReadJSON[[]Sample](samplesPath); err == nil && len(*got) == len(o.Prompts) {
		fmt.Fprintf(o.Stdout, "  done before: %d answers in %s\n", len(*got), samplesPath)
		return *got, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	m, base, stop, err := serve.StartModel(ctx, modelDir, infer.EngineOptions{MaxBatch: 4, MaxQueue: 16})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Stdout, "  serving %s at %s\n", m.Name, base)
	var samples []Sample
	for _, p := range o.Prompts {
		sample, err := ask(ctx, base, m.Name, p, o.MaxTokens, o.Stdout)
		if err != nil {
			stop()
			return nil, err
		}
		samples = append(samples, sample)
	}
	if err := stop(); err != nil {
		return nil, fmt.Errorf("server shutdown: %w", err)
	}
	return samples, atomicfile.WriteJSON(samplesPath, samples)
}

// yourModel describes the user's model (without loading its weights),
// evaluates it on the demo's held-out pages (and KoBEST) and serves it the
// demo's prompts, next to the demo's own model.
func yourModel(ctx context.Context, o *Options, s *Summary) error {
	info, err := checkpoint.Inspect(o.YourModel)
	if err != nil {
		return fmt.Errorf("--your-model %s: %w", o.YourModel, err)
	}
	c := info.Config
	a, _ := c.Arch()
	y := &YourModel{Path: o.YourModel, Architecture: a.Name, Params: c.NumParams(), ActiveParams: c.ActiveParams(),
		Context: c.MaxPositionEmbeddings, Eval: map[string]float64{}}
	fmt.Fprintf(o.Stdout, "  %s: %s, %.3g parameters (%.3g per token), context %d\n", o.YourModel, a.Name, y.Params, y.ActiveParams, y.Context)
	// A different model than last run's starts afresh.
	dir := filepath.Join(o.Out, "yours")
	stamp := filepath.Join(dir, "model.txt")
	if b, err := os.ReadFile(stamp); err != nil || string(b) != o.YourModel {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(stamp, []byte(o.YourModel)); err != nil {
			return err
		}
	}
	rep, err := evalModel(ctx, o, o.YourModel, filepath.Join(dir, "eval"))
	if err != nil {
		return err
	}
	var parts []string
	for _, t := range rep.Tasks {
		for _, m := range t.Metrics {
			y.Eval[t.Task+" "+m.Metric] = m.Value
			parts = append(parts, fmt.Sprintf("%s %s %.3f (demo model: %.3f)", t.Task, m.Metric, m.Value, s.Eval[t.Task+" "+m.Metric]))
		}
	}
	fmt.Fprintf(o.Stdout, "  %s: yours/eval/report.html\n", strings.Join(parts, "; "))
	if y.Samples, err = serveModel(ctx, o, o.YourModel, filepath.Join(dir, "serve")); err != nil {
		return err
	}
	s.Yours = y
	return nil
}

// agentPrompt asks for a tool's work in Korean.
const agentPrompt = "제 연락처 010-1234-5678 과 메일 kim@example.com 을 가려서 다시 써 주세요."

// agentStep serves the model (--your-model when given, the demo's own
// otherwise), starts Dokja's MCP server in process, and lets the model act
// as an agent with the MCP server's tools and a calculator: it must call
// one first (tool_choice required, held to the tool's schema), gets the
// result back, and answers.
func agentStep(ctx context.Context, o *Options, s *Summary) error {
	modelDir, label := filepath.Join(o.Out, "train", "model"), "the demo's model"
	if o.YourModel != "" {
		modelDir, label = o.YourModel, o.YourModel
	}
	dir := filepath.Join(o.Out, "agent")
	runPath := filepath.Join(dir, "run.json")
	if got, err := atomicfile.ReadJSON[AgentRun](runPath); err == nil && got.Model == modelDir {
		s.Agent = got
		fmt.Fprintf(o.Stdout, "  done before: %d tool calls in agent/run.json\n", len(got.Calls))
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// The demo's model was trained on short windows: the tools' prompt
	// runs past them (its positions there are untrained; the step shows
	// the mechanics, --your-model a model that uses them).
	m, base, stop, err := serve.StartModel(ctx, modelDir, infer.EngineOptions{MaxBatch: 1, MaxContext: 4096})
	if err != nil {
		return err
	}
	defer stop()
	mopt := mcpserver.Options{Tokenizer: m.Engine.Tokenizer()}
	if ix, err := index.Open(filepath.Join(o.Out, "index")); err == nil {
		defer ix.Close()
		mopt.Index = ix
	}
	ms, err := mcpserver.New(mopt)
	if err != nil {
		return err
	}
	st, ct := mcp.NewInMemoryTransports()
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ss, err := ms.Connect(mctx, st, nil)
	if err != nil {
		return err
	}
	defer ss.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "dokja-demo", Version: agent.Version}, nil).Connect(mctx, ct, nil)
	if err != nil {
		return err
	}
	defer cs.Close()
	tools, err := agent.MCPTools(ctx, cs)
	if err != nil {
		return err
	}
	tools = append(tools, agent.Calculator())
	fmt.Fprintf(o.Stdout, "  %s at %s, with Dokja's MCP server (%d tools) and a calculator\n  user: %s\n", label, base, len(tools)-1, agentPrompt)
	zero := 0.0
	client := openai.NewClient(option.WithBaseURL(base), option.WithAPIKey("demo"), option.WithMaxRetries(0))
	res, err := agent.Run(ctx, agent.Options{Client: client, Model: m.Name, Tools: tools, FirstToolChoice: "required",
		MaxSteps: 3, MaxTokens: 400, Temperature: &zero,
		OnEvent: func(ev agent.Event) {
			switch ev.Kind {
			case "call":
				fmt.Fprintf(o.Stdout, "  → %s(%s)\n", ev.Name, clip(ev.Arguments, 200))
			case "result":
				text := ev.Text
				if ev.Err != nil {
					text = "error: " + ev.Err.Error()
				}
				fmt.Fprintf(o.Stdout, "  ← %s\n", clip(text, 300))
			}
		}}, agentPrompt)
	if err != nil {
		return err
	}
	run := &AgentRun{Model: modelDir, Prompt: agentPrompt, Answer: res.Answer, Stop: res.Stop, Steps: res.Steps}
	for _, c := range res.Calls {
		r := c.Result
		if c.Err != nil {
			r = "error: " + c.Err.Error()
		}
		run.Calls = append(run.Calls, AgentCall{Name: c.Name, Arguments: c.Arguments, Result: r})
	}
	fmt.Fprintf(o.Stdout, "  assistant: %s\n  (%s after %d steps)\n", res.Answer, res.Stop, res.Steps)
	s.Agent = run
	return atomicfile.WriteJSON(runPath, run)
}

// searchStep indexes the curated documents (BM25 over overlapping
// chunks; a rerun redoes only what changed) and shows a few searches.
func searchStep(ctx context.Context, o *Options, s *Summary) error {
	files, err := data.OutputFiles(filepath.Join(o.Out, "data"))
	if err != nil {
		return err
	}
	dir := filepath.Join(o.Out, "index")
	man, err := index.Build(ctx, files, dir, index.Options{Format: corpus.JSONL})
	if err != nil {
		return err
	}
	ix, err := index.Open(dir)
	if err != nil {
		return err
	}
	defer ix.Close()
	run := &SearchRun{Docs: man.Docs, Chunks: man.Chunks}
	fmt.Fprintf(o.Stdout, "  index/: %d documents in %d chunks\n", man.Docs, man.Chunks)
	for _, q := range searchQueries {
		hits, err := ix.Search(ctx, q, 1)
		if err != nil {
			return err
		}
		shown := SearchShown{Query: q}
		if len(hits) > 0 {
			text := strings.Join(strings.Fields(hits[0].Text), " ")
			if r := []rune(text); len(r) > 160 {
				text = string(r[:160]) + "…"
			}
			shown.Doc, shown.Text, shown.Score = filepath.Base(hits[0].Doc), text, hits[0].Score
		}
		fmt.Fprintf(o.Stdout, "  %q → %s\n    %s\n", q, shown.Doc, shown.Text)
		run.Searches = append(run.Searches, shown)
	}
	s.Search = run
	return atomicfile.WriteJSON(filepath.Join(dir, "searches.json"), run)
}

// clip shortens text for the terminal (the files keep it whole).
func clip(text string, n int) string {
	if r := []rune(text); len(r) > n {
		return string(r[:n]) + "…"
	}
	return text
}
