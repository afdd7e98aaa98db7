package eval

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// TaskData is a task with the items to score and, for few-shot prompts,
// the pool to draw examples from (the train split).
type TaskData struct {
	Task    *Task
	Docs    []Doc
	Fewshot []Doc
	// Source is the file the items came from.
	Source string
}

// Identity says what was evaluated and on what, for the report's config.
type Identity struct {
	// Backend is "in-process" or "endpoint".
	Backend string `json:"backend"`
	// Model: a checkpoint folder and the SHA-256 of its weights, or an
	// endpoint URL and a model name.
	ModelPath   string `json:"model_path,omitempty"`
	ModelSHA256 string `json:"model_sha256,omitempty"`
	Endpoint    string `json:"endpoint,omitempty"`
	ModelName   string `json:"model_name,omitempty"`
	// Tokenizer is the tokenizer's path and the SHA-256 of its file.
	Tokenizer       string `json:"tokenizer,omitempty"`
	TokenizerSHA256 string `json:"tokenizer_sha256,omitempty"`
	DataDir         string `json:"data_dir,omitempty"`
	Split           string `json:"split,omitempty"`
}

// Options configure Evaluate.
type Options struct {
	// Encoder tokenizes prompts (required).
	Encoder Encoder
	// PrefixToken stands before an empty context and starts every
	// document of a rolling log-likelihood (the model's BOS, or its
	// end-of-text token, as the harness's prefix_token_id).
	PrefixToken int
	// MaxLength is the model's context in tokens: rolling windows fill it,
	// and the backends cut longer requests from the left (required for
	// perplexity).
	MaxLength int
	// Limit scores only the first Limit items of each task (0: all).
	Limit int
	// NumFewshot puts that many solved examples from TaskData.Fewshot
	// before each item, drawn with a generator seeded by Seed and the
	// item's index (so an item's prompt does not depend on Limit).
	NumFewshot int
	Seed       uint64
	// SystemInstruction, when set, opens every prompt (as a system message
	// in chat), before the task's description.
	SystemInstruction string
	// FewshotAsMultiturn sends a generation item's few-shot examples as
	// user and assistant turns; otherwise the examples and the item make
	// one user message (the harness's --fewshot_as_multiturn).
	FewshotAsMultiturn bool
	// Identity describes the run for the report's config.
	Identity Identity
	// Progress, when set, is told before each task how many backend
	// requests it will make.
	Progress func(task string, requests int)
}

// Config is what a report's results depend on; its hash names the run.
type Config struct {
	Tasks       []string `json:"tasks"`
	Limit       int      `json:"limit"`
	NumFewshot  int      `json:"num_fewshot"`
	Seed        uint64   `json:"seed"`
	MaxLength   int      `json:"max_length"`
	PrefixToken int      `json:"prefix_token"`
	// SystemInstruction and FewshotAsMultiturn change prompts.
	SystemInstruction  string `json:"system_instruction,omitempty"`
	FewshotAsMultiturn bool   `json:"fewshot_as_multiturn,omitempty"`
	Identity
	// Sources are the data files with their SHA-256, by task.
	Sources map[string]string `json:"sources"`
}

// Hash is the hex SHA-256 of the config's JSON.
func (c *Config) Hash() string {
	b, _ := json.Marshal(c)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Report is the outcome of an evaluation.
type Report struct {
	Config     Config       `json:"config"`
	ConfigHash string       `json:"config_hash"`
	Created    string       `json:"created"`
	Seconds    float64      `json:"seconds"`
	Tasks      []TaskReport `json:"tasks"`
}

// TaskReport is one task's metrics and per-item records.
type TaskReport struct {
	Task           string     `json:"task"`
	OutputType     OutputType `json:"output_type"`
	Source         string     `json:"source"`
	Items          int        `json:"items"`
	Requests       int        `json:"requests"`
	Seconds        float64    `json:"seconds"`
	ItemsPerSecond float64    `json:"items_per_second"`
	Metrics        []Value    `json:"metrics"`
	// Baselines are what trivial predictors score on the same items:
	// majority_acc and majority_f1 (always the most frequent label).
	Baselines map[string]float64 `json:"baselines,omitempty"`
	Records   []Record           `json:"records"`
}

// Value is a metric's value, its standard error where one is defined,
// and the score of guessing at random where that means something.
type Value struct {
	Metric string `json:"metric"`
	// Filter names the filter chain the answers went through
	// (generate_until), as the harness reports "exact_match,strict-match".
	Filter string   `json:"filter,omitempty"`
	Value  float64  `json:"value"`
	Stderr *float64 `json:"stderr"`
	Chance *float64 `json:"chance,omitempty"`
}

// Record is one item's outcome.
type Record struct {
	ID   string `json:"id"`
	Line int    `json:"line,omitempty"`
	// Multiple choice: the gold choice, each choice's log-likelihood and
	// whether it was the greedy continuation, the prediction (argmax) and
	// the length-normalised prediction.
	Target         *int      `json:"target,omitempty"`
	LogLikelihoods []float64 `json:"loglikelihoods,omitempty"`
	IsGreedy       []bool    `json:"is_greedy,omitempty"`
	Pred           *int      `json:"pred,omitempty"`
	PredNorm       *int      `json:"pred_norm,omitempty"`
	// Generation: the reply (cut at the stop strings), the answer each
	// filter chain made of it, and the gold answers.
	Generation *string           `json:"generation,omitempty"`
	Filtered   map[string]string `json:"filtered,omitempty"`
	References []string          `json:"references,omitempty"`
	// Rolling log-likelihood: the document's, and its size; loglikelihood:
	// the answer's (IsGreedy then holds whether it is greedy).
	LogLikelihood *float64 `json:"loglikelihood,omitempty"`
	Tokens        int      `json:"tokens,omitempty"`
	Words         int      `json:"words,omitempty"`
	Bytes         int      `json:"bytes,omitempty"`
}

// Evaluate scores every task's items with b and reports metrics computed
// from the per-item records.
func Evaluate(ctx context.Context, b Backend, tasks []TaskData, opt Options) (*Report, error) {
	for _, td := range tasks {
		if td.Task.OutputType != GenerateUntil && opt.Encoder == nil {
			return nil, fmt.Errorf("task %s: log-likelihoods need the model's tokenizer (eval.Options.Encoder)", td.Task.Name)
		}
	}
	start := time.Now()
	rep := &Report{Created: start.UTC().Format(time.RFC3339)}
	cfg := Config{Limit: opt.Limit, NumFewshot: opt.NumFewshot, Seed: opt.Seed, MaxLength: opt.MaxLength,
		PrefixToken: opt.PrefixToken, SystemInstruction: opt.SystemInstruction, FewshotAsMultiturn: opt.FewshotAsMultiturn,
		Identity: opt.Identity, Sources: map[string]string{}}
	for _, td := range tasks {
		cfg.Tasks = append(cfg.Tasks, td.Task.Name)
		if td.Source != "" {
			sum, err := FileSHA256(td.Source)
			if err != nil {
				return nil, fmt.Errorf("task %s: %w", td.Task.Name, err)
			}
			cfg.Sources[td.Task.Name] = td.Source + " sha256:" + sum
		}
	}
	rep.Config, rep.ConfigHash = cfg, cfg.Hash()
	for _, td := range tasks {
		tr, err := evaluateTask(ctx, b, td, opt)
		if err != nil {
			return nil, fmt.Errorf("task %s: %w", td.Task.Name, err)
		}
		rep.Tasks = append(rep.Tasks, *tr)
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func evaluateTask(ctx context.Context, b Backend, td TaskData, opt Options) (*TaskReport, error) {
	t := td.Task
	docs := td.Docs
	if opt.Limit > 0 && opt.Limit < len(docs) {
		docs = docs[:opt.Limit]
	}
	if len(docs) == 0 {
		return nil, errors.New("no items to score")
	}
	if t.OutputType == GenerateUntil {
		return generateTask(ctx, b, td, docs, opt)
	}
	var reqs []Request
	var spans [][2]int // each doc's requests: reqs[from:to]
	recs := make([]Record, len(docs))
	for i, d := range docs {
		recs[i] = Record{ID: d.ID, Line: d.Line}
		from := len(reqs)
		switch t.OutputType {
		case MultipleChoice, Loglikelihood:
			exs, err := fewshotExamples(t, d, td.Fewshot, opt.NumFewshot, opt.Seed, i)
			if err != nil {
				return nil, err
			}
			prompt := textPrompt(t, d, exs, systemPrompt(t, d, opt))
			conts := d.Choices
			if t.OutputType == Loglikelihood {
				conts = d.References[:1]
			}
			for _, c := range conts {
				ctxIDs, cont, err := EncodePair(opt.Encoder, prompt, t.TargetDelimiter+c)
				if err != nil {
					return nil, fmt.Errorf("item %s (%s line %d): %w", d.ID, d.File, d.Line, err)
				}
				if len(ctxIDs) == 0 {
					ctxIDs = []int{opt.PrefixToken}
				}
				reqs = append(reqs, Request{Context: ctxIDs, Continuation: cont})
			}
		case LoglikelihoodRolling:
			if opt.MaxLength < 2 {
				return nil, fmt.Errorf("max length %d: rolling log-likelihood needs the model's context", opt.MaxLength)
			}
			ids, err := opt.Encoder.EncodeOrdinary(d.Text)
			if err != nil {
				return nil, fmt.Errorf("item %s (%s line %d): %w", d.ID, d.File, d.Line, err)
			}
			recs[i].Tokens, recs[i].Words, recs[i].Bytes = len(ids), countWords(d.Text), len(d.Text)
			reqs = append(reqs, rollingWindows(ids, opt.PrefixToken, opt.MaxLength-1)...)
		default:
			return nil, fmt.Errorf("output type %q is not supported", t.OutputType)
		}
		spans = append(spans, [2]int{from, len(reqs)})
	}
	if opt.Progress != nil {
		opt.Progress(t.Name, len(reqs))
	}
	start := time.Now()
	res, err := b.LogLikelihood(ctx, reqs)
	if err != nil {
		return nil, err
	}
	if len(res) != len(reqs) {
		return nil, fmt.Errorf("backend returned %d results for %d requests", len(res), len(reqs))
	}
	secs := time.Since(start).Seconds()
	for i, d := range docs {
		rs := res[spans[i][0]:spans[i][1]]
		r := &recs[i]
		switch t.OutputType {
		case MultipleChoice:
			r.Target = ptr(d.Target)
			for _, x := range rs {
				r.LogLikelihoods = append(r.LogLikelihoods, x.LogLikelihood)
				r.IsGreedy = append(r.IsGreedy, x.IsGreedy)
			}
			r.Pred = ptr(argmax(r.LogLikelihoods))
			if contains(t.Metrics, MetricAccNorm) {
				r.PredNorm = ptr(argmax(normalized(r.LogLikelihoods, d.Choices)))
			}
		case Loglikelihood:
			r.References = d.References[:1]
			r.LogLikelihood, r.IsGreedy = ptr(rs[0].LogLikelihood), []bool{rs[0].IsGreedy}
		case LoglikelihoodRolling:
			var ll float64
			for _, x := range rs {
				ll += x.LogLikelihood
			}
			r.LogLikelihood = ptr(ll)
		}
	}
	return taskReport(td, docs, len(reqs), secs, recs, opt), nil
}

func taskReport(td TaskData, docs []Doc, requests int, secs float64, recs []Record, opt Options) *TaskReport {
	t := td.Task
	tr := &TaskReport{Task: t.Name, OutputType: t.OutputType, Source: td.Source, Items: len(docs), Requests: requests,
		Seconds: secs, Records: recs}
	if secs > 0 {
		tr.ItemsPerSecond = float64(len(docs)) / secs
	}
	choices := 0
	if len(docs[0].Choices) > 0 {
		choices = len(docs[0].Choices)
	}
	tr.Metrics, tr.Baselines = Metrics(t, recs, choices, opt.Seed)
	return tr
}

// generateTask asks the backend, which must be a Generator, for a reply
// to each item and scores the filtered replies by exact match.
func generateTask(ctx context.Context, b Backend, td TaskData, docs []Doc, opt Options) (*TaskReport, error) {
	t := td.Task
	g, ok := b.(Generator)
	if !ok {
		return nil, fmt.Errorf("the backend (%T) cannot generate; generate_until needs a chat model in process or an endpoint", b)
	}
	maxTokens := t.MaxGenTokens
	if maxTokens <= 0 {
		maxTokens = 256
	}
	reqs := make([]GenRequest, len(docs))
	for i, d := range docs {
		exs, err := fewshotExamples(t, d, td.Fewshot, opt.NumFewshot, opt.Seed, i)
		if err != nil {
			return nil, err
		}
		reqs[i] = GenRequest{Messages: chatPrompt(t, d, exs, systemPrompt(t, d, opt), opt.FewshotAsMultiturn),
			Until: t.until(), MaxTokens: maxTokens, Temperature: t.Temperature, TopP: t.TopP, Seed: opt.Seed + uint64(i)}
	}
	if opt.Progress != nil {
		opt.Progress(t.Name, len(reqs))
	}
	start := time.Now()
	replies, err := g.Generate(ctx, reqs)
	if err != nil {
		return nil, err
	}
	if len(replies) != len(reqs) {
		return nil, fmt.Errorf("backend returned %d replies for %d requests", len(replies), len(reqs))
	}
	secs := time.Since(start).Seconds()
	recs := make([]Record, len(docs))
	for i, d := range docs {
		r := Record{ID: d.ID, Line: d.Line, Generation: ptr(replies[i]), References: d.References, Filtered: map[string]string{}}
		for _, f := range t.filters() {
			r.Filtered[f.Name] = f.Apply(replies[i])
		}
		recs[i] = r
	}
	return taskReport(td, docs, len(reqs), secs, recs, opt), nil
}

// example is a solved few-shot example: question and answer.
type example struct{ q, a string }

// systemPrompt is the harness's system prompt: the system instruction and
// the item's description, joined by the few-shot delimiter.
func systemPrompt(t *Task, d Doc, opt Options) string {
	switch {
	case opt.SystemInstruction == "":
		return d.Description
	case d.Description == "":
		return opt.SystemInstruction
	}
	return opt.SystemInstruction + t.FewshotDelimiter + d.Description
}

// textPrompt is the harness's plain-text context: the system prompt, each
// example as question, target delimiter, answer and few-shot delimiter,
// then the item's text.
func textPrompt(t *Task, d Doc, exs []example, system string) string {
	var sb strings.Builder
	sb.WriteString(system)
	for _, e := range exs {
		sb.WriteString(e.q + t.TargetDelimiter + e.a + t.FewshotDelimiter)
	}
	sb.WriteString(d.Text)
	return sb.String()
}

// chatPrompt is the context as chat messages: the system prompt as a
// system message, then either one user message holding the examples and
// the item as textPrompt writes them, or (multiturn) each example as a
// user and an assistant turn before the item's own.
func chatPrompt(t *Task, d Doc, exs []example, system string, multiturn bool) []Message {
	var msgs []Message
	if system != "" {
		msgs = append(msgs, Message{Role: "system", Content: system})
	}
	if !multiturn {
		return append(msgs, Message{Role: "user", Content: textPrompt(t, d, exs, "")})
	}
	for _, e := range exs {
		msgs = append(msgs, Message{Role: "user", Content: e.q}, Message{Role: "assistant", Content: e.a})
	}
	return append(msgs, Message{Role: "user", Content: d.Text})
}

// fewshotExamples draws k solved examples without replacement from
// pool, leaving out the item itself, with a generator seeded by seed and
// the item's index (so an item's prompt does not depend on --limit).
func fewshotExamples(t *Task, d Doc, pool []Doc, k int, seed uint64, index int) ([]example, error) {
	if k <= 0 {
		return nil, nil
	}
	cands := make([]int, 0, len(pool))
	for i, p := range pool {
		if p.Text != d.Text || p.answer() != d.answer() {
			cands = append(cands, i)
		}
	}
	if len(cands) < k {
		return nil, fmt.Errorf("%d few-shot examples asked for, but the pool has %d", k, len(cands))
	}
	rng := rand.New(rand.NewPCG(seed, uint64(index)))
	out := make([]example, k)
	for j := range k {
		n := j + rng.IntN(len(cands)-j)
		cands[j], cands[n] = cands[n], cands[j]
		ex := pool[cands[j]]
		out[j] = example{q: ex.Text, a: ex.answer()}
	}
	return out, nil
}

// Metrics computes a task's metrics from its records (choices is the
// number of choices per item, 0 for rolling log-likelihood), and the
// baselines of trivial predictors.
func Metrics(t *Task, recs []Record, choices int, seed uint64) ([]Value, map[string]float64) {
	var out []Value
	if t.OutputType == LoglikelihoodRolling {
		var ll, words, bytes float64
		for _, r := range recs {
			if r.LogLikelihood != nil {
				ll += *r.LogLikelihood
			}
			words += float64(r.Words)
			bytes += float64(r.Bytes)
		}
		for _, m := range t.Metrics {
			var v float64
			switch m {
			case MetricWordPerplexity:
				v = math.Exp(-ll / words)
			case MetricBytePerplexity:
				v = math.Exp(-ll / bytes)
			case MetricBitsPerByte:
				v = -ll / bytes / math.Ln2
			}
			out = append(out, Value{Metric: m, Value: v})
		}
		return out, nil
	}
	switch t.OutputType {
	case GenerateUntil:
		return generationMetrics(t, recs), nil
	case Loglikelihood:
		lls, greedy := make([]float64, len(recs)), make([]float64, len(recs))
		for i, r := range recs {
			if r.LogLikelihood != nil {
				lls[i] = *r.LogLikelihood
			}
			if len(r.IsGreedy) == 1 && r.IsGreedy[0] {
				greedy[i] = 1
			}
		}
		for _, m := range t.Metrics {
			switch m {
			case MetricPerplexity:
				mean, _ := meanStderr(lls)
				out = append(out, Value{Metric: m, Value: math.Exp(-mean)})
			case MetricAcc:
				v, se := meanStderr(greedy)
				out = append(out, Value{Metric: m, Value: v, Stderr: finite(se)})
			}
		}
		return out, nil
	}
	gold, pred, predNorm := make([]int, len(recs)), make([]int, len(recs)), make([]int, len(recs))
	for i, r := range recs {
		gold[i], pred[i], predNorm[i] = deref(r.Target), deref(r.Pred), deref(r.PredNorm)
	}
	chance := 1 / float64(choices)
	for _, m := range t.Metrics {
		switch m {
		case MetricAcc:
			v, se := Accuracy(gold, pred)
			out = append(out, Value{Metric: m, Value: v, Stderr: finite(se), Chance: ptr(chance)})
		case MetricAccNorm:
			v, se := Accuracy(gold, predNorm)
			out = append(out, Value{Metric: m, Value: v, Stderr: finite(se), Chance: ptr(chance)})
		case MetricF1:
			out = append(out, Value{Metric: m, Value: MacroF1(gold, pred), Stderr: finite(bootstrapF1(gold, pred, 1000, seed)),
				Chance: finite(chanceF1(gold, choices))})
		}
	}
	acc, f1 := majority(gold)
	return out, map[string]float64{"majority_acc": acc, "majority_f1": f1}
}

// generationMetrics is exact_match per filter chain: an answer matches
// when it equals any reference under the task's match options.
func generationMetrics(t *Task, recs []Record) []Value {
	var out []Value
	for _, f := range t.filters() {
		for _, m := range t.Metrics {
			if m != MetricExactMatch {
				continue
			}
			hits := make([]float64, len(recs))
			for i, r := range recs {
				for _, ref := range r.References {
					if t.Match.Match(r.Filtered[f.Name], ref) {
						hits[i] = 1
						break
					}
				}
			}
			v, se := meanStderr(hits)
			out = append(out, Value{Metric: m, Filter: f.Name, Value: v, Stderr: finite(se)})
		}
	}
	return out
}

// Name is the metric's name, with its filter chain's as the harness
// writes it: "exact_match,strict-match".
func (v Value) Name() string {
	if v.Filter == "" {
		return v.Metric
	}
	return v.Metric + "," + v.Filter
}

func ptr[T any](v T) *T { return &v }

func deref(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// FileSHA256 is the hex SHA-256 of a file's bytes.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes one line per task and metric: value, standard error,
// chance level, and items scored per second.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "task\tmetric\tvalue\tstderr\tchance\titems\titems/s")
	for _, t := range r.Tasks {
		for i, m := range t.Metrics {
			name, items, speed := t.Task, fmt.Sprint(t.Items), fmt.Sprintf("%.2f", t.ItemsPerSecond)
			if i > 0 {
				name, items, speed = "", "", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, m.Name(), num(&m.Value), num(m.Stderr), num(m.Chance), items, speed)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "config %s (%s, %s)\n", r.ConfigHash[:12], r.Config.Backend, r.model())
	return err
}

func (r *Report) model() string {
	if r.Config.Endpoint != "" {
		return r.Config.ModelName + " at " + r.Config.Endpoint
	}
	s := r.Config.ModelPath
	if len(r.Config.ModelSHA256) >= 12 {
		s += " sha256:" + r.Config.ModelSHA256[:12]
	}
	return s
}

func num(v *float64) string {
	if v == nil {
		return "-"
	}
	if math.Abs(*v) >= 100 {
		return fmt.Sprintf("%.2f", *v)
	}
	return fmt.Sprintf("%.4f", *v)
}
