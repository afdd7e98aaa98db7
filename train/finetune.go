package train

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/dokja/dokja/atomicfile"
	"github.com/dokja/dokja/encoder"
	"github.com/dokja/dokja/progress"
	"github.com/dokja/dokja/shards"
	"github.com/dokja/dokja/tensor"
	"github.com/dokja/dokja/tokenizer"
)

// example is one fine-tuning example, tokenized: a query and its
// positive (contrastive), or a text and its label (classification).
type example struct {
	query, positive []int
	label           int
	// held is whether the example is held out for validation.
	held bool
}

// eachJSONLine calls fn with every non-empty line of a JSON-lines file;
// an error fn returns is prefixed with the file and line number.
func eachJSONLine(path string, fn func(line []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 16<<20)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		if err := fn(sc.Bytes()); err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// readPairs reads a JSON-lines file of pairs: "query" (or
// sentence-transformers' "anchor") and "positive" (or "document").
func readPairs(path string) ([][2]string, error) {
	var out [][2]string
	err := eachJSONLine(path, func(line []byte) error {
		var p struct {
			Query, Anchor, Positive, Document string
		}
		if err := json.Unmarshal(line, &p); err != nil {
			return err
		}
		q, d := p.Query+p.Anchor, p.Positive+p.Document
		if q == "" || d == "" {
			return errors.New(`want a non-empty "query" (or "anchor") and "positive" (or "document")`)
		}
		out = append(out, [2]string{q, d})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("%s: %d pairs; in-batch negatives need at least 2", path, len(out))
	}
	return out, nil
}

// readLabelled reads a JSON-lines file of "text" and "label" (a string
// or a number), returning the texts, each one's label index and the
// labels' names in sorted order.
func readLabelled(path string) (texts []string, labels []int, names []string, err error) {
	var raw []string
	err = eachJSONLine(path, func(line []byte) error {
		var r struct {
			Text  string          `json:"text"`
			Label json.RawMessage `json:"label"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			return err
		}
		var name string
		if json.Unmarshal(r.Label, &name) != nil {
			var num json.Number
			if json.Unmarshal(r.Label, &num) != nil {
				return errors.New(`"label" must be a string or a number`)
			}
			name = num.String()
		}
		if r.Text == "" || name == "" {
			return errors.New(`want a non-empty "text" and "label"`)
		}
		texts, raw = append(texts, r.Text), append(raw, name)
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	names = slices.Compact(slices.Sorted(slices.Values(raw)))
	if len(names) < 2 {
		return nil, nil, nil, fmt.Errorf("%s: %d distinct labels; a classifier needs at least 2", path, len(names))
	}
	for _, n := range raw {
		i, _ := slices.BinarySearch(names, n)
		labels = append(labels, i)
	}
	return texts, labels, names, nil
}

// runFineTune fine-tunes the encoder in cfg.Init: for embeddings on
// cfg.Pairs with in-batch negatives (out/model is then a
// sentence-transformers folder, mean pooling, normalised), or as a
// classifier on cfg.Labelled (out/model a
// ModernBertForSequenceClassification folder); with metrics.jsonl and
// loss.png. Runs are short; there are no checkpoints to resume from.
func runFineTune(ctx context.Context, cfg *Config, opt Options) (*Result, error) {
	log := opt.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Temperature == 0 {
		cfg.Temperature = 0.05
	}
	final := filepath.Join(cfg.Out, "model")
	if _, err := os.Stat(final); err == nil {
		return nil, fmt.Errorf("%s already holds a fine-tuned model: choose another out", final)
	}
	e, err := encoder.Open(cfg.Init)
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	m, ok := e.(*encoder.ModernBERT)
	if !ok {
		return nil, fmt.Errorf("init %s: contrastive fine-tuning trains ModernBERT encoders", cfg.Init)
	}
	if cfg.Kernels != "" {
		k, err := tensor.ByName(cfg.Kernels)
		if err != nil {
			return nil, fmt.Errorf("kernels: %w", err)
		}
		m.SetKernels(k)
	}
	tokPath := filepath.Join(cfg.Init, "tokenizer.json")
	tok, err := tokenizer.Load(tokPath)
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	before, after, err := tok.Template()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tokPath, err)
	}
	limit := min(cfg.SeqLen, m.MaxTokens()) - len(before) - len(after)
	if limit < 1 {
		return nil, fmt.Errorf("seq_len %d leaves no room for text beside the template's %d special tokens", cfg.SeqLen, len(before)+len(after))
	}
	encode := func(s string) ([]int, error) {
		ids, err := tok.Encode(s)
		if err != nil {
			return nil, err
		}
		ids = ids[:min(len(ids), limit)]
		return append(append(append([]int(nil), before...), ids...), after...), nil
	}
	var all []example
	src := cfg.Pairs
	if cfg.Pairs != "" {
		m.DropHead()
		raw, err := readPairs(cfg.Pairs)
		if err != nil {
			return nil, err
		}
		for i, p := range raw {
			q, err := encode(p[0])
			if err != nil {
				return nil, fmt.Errorf("%s: pair %d: %w", cfg.Pairs, i+1, err)
			}
			d, err := encode(p[1])
			if err != nil {
				return nil, fmt.Errorf("%s: pair %d: %w", cfg.Pairs, i+1, err)
			}
			// A query's pairs stay together on one side of the split.
			all = append(all, example{query: q, positive: d, held: shards.IsVal(p[0], heldOut)})
		}
	} else {
		src = cfg.Labelled
		texts, labels, names, err := readLabelled(cfg.Labelled)
		if err != nil {
			return nil, err
		}
		if err := m.AddClassifier(names, cfg.Seed); err != nil {
			return nil, err
		}
		for i, text := range texts {
			ids, err := encode(text)
			if err != nil {
				return nil, fmt.Errorf("%s: line %d: %w", cfg.Labelled, i+1, err)
			}
			all = append(all, example{query: ids, label: labels[i], held: shards.IsVal(text, heldOut)})
		}
		log.Info("classifier", "labels", names, "examples", len(all))
	}
	var trainSet, valSet []example
	for _, ex := range all {
		if len(all) >= 40 && ex.held {
			valSet = append(valSet, ex)
		} else {
			trainSet = append(trainSet, ex)
		}
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, err
	}
	c := &fineTune{cfg: cfg, m: m, train: trainSet, val: valSet, src: src, classify: cfg.Pairs == ""}
	return c.run(ctx, log, opt, tok)
}

// heldOut is the share of examples held out for validation, chosen by a
// hash of the query or text (whatever order the file has).
const heldOut = 0.05

type fineTune struct {
	cfg        *Config
	m          *encoder.ModernBERT
	train, val []example
	src        string
	classify   bool
	next       int64 // examples drawn so far
}

// loss runs one batch: the contrastive loss of its pairs, or the
// classifier's cross-entropy (and correct answers) on its texts.
func (c *fineTune) loss(batch []example, g *encoder.ModernBERT, scale float32) (loss float64, correct int, err error) {
	var q, d [][]int
	var labels []int
	for _, ex := range batch {
		q, d, labels = append(q, ex.query), append(d, ex.positive), append(labels, ex.label)
	}
	if c.classify {
		return c.m.ClassifierLoss(q, labels, g, scale)
	}
	loss, err = c.m.ContrastiveLoss(q, d, c.cfg.Temperature, g, scale)
	return loss, 0, err
}

// idsKey is a text's ids as a map key.
func idsKey(ids []int) string {
	b := make([]byte, 0, 4*len(ids))
	for _, id := range ids {
		b = append(b, byte(id), byte(id>>8), byte(id>>16), byte(id>>24))
	}
	return string(b)
}

// batch draws the next batch in a seeded order per epoch; for pairs,
// distinct ones (a repeated query or positive would be a false negative).
func (c *fineTune) batch() (batch []example, tokens int) {
	n := int64(len(c.train))
	seen := map[string]bool{}
	key := idsKey
	for tries := int64(0); len(batch) < c.cfg.BatchSize && tries < n; tries++ {
		epoch, i := c.next/n, c.next%n
		c.next++
		p := c.train[permute(i, n, c.cfg.Seed^uint64(epoch)*0x9E3779B97F4A7C15)]
		if !c.classify {
			kq, kd := key(p.query), key(p.positive)
			if seen[kq] || seen[kd] {
				continue
			}
			seen[kq], seen[kd] = true, true
		}
		batch = append(batch, p)
		tokens += len(p.query) + len(p.positive)
	}
	return batch, tokens
}

// valBatches cuts the held-out examples into batches of batch_size, in
// order; for pairs, an example whose query or positive a batch already
// holds goes to the next batch that does not (a title's Korean and
// English pages would otherwise be each other's false negatives).
func (c *fineTune) valBatches() [][]example {
	var batches [][]example
	var seen []map[string]bool
	for _, ex := range c.val {
		kq, kd := idsKey(ex.query), idsKey(ex.positive)
		b := 0
		for ; b < len(batches); b++ {
			if len(batches[b]) < c.cfg.BatchSize && (c.classify || !seen[b][kq] && !seen[b][kd]) {
				break
			}
		}
		if b == len(batches) {
			batches, seen = append(batches, nil), append(seen, map[string]bool{})
		}
		batches[b] = append(batches[b], ex)
		seen[b][kq], seen[b][kd] = true, true
	}
	return batches
}

// validate returns the mean loss per example of the held-out set and,
// for a classifier, its accuracy.
func (c *fineTune) validate() (loss, acc float64, err error) {
	n, right := 0, 0
	for _, b := range c.valBatches() {
		if len(b) < 2 && !c.classify {
			continue
		}
		l, correct, err := c.loss(b, nil, 0)
		if err != nil {
			return 0, 0, err
		}
		loss += l
		n += len(b)
		right += correct
	}
	if n == 0 {
		return 0, 0, nil
	}
	return loss / float64(n), float64(right) / float64(n), nil
}

func (c *fineTune) run(ctx context.Context, log *slog.Logger, opt Options, tok *tokenizer.Tokenizer) (*Result, error) {
	cfg, m := c.cfg, c.m
	g := m.NewGrads()
	adam := NewAdamW(m, cfg.Beta1, cfg.Beta2, cfg.Eps, cfg.WeightDecay)
	step := func(lr float64, update bool) (loss, norm float64, tokens int, err error) {
		batch, tokens := c.batch()
		if len(batch) < 2 {
			return 0, 0, 0, fmt.Errorf("%s: fewer than 2 distinct examples for a batch", c.src)
		}
		loss, _, err = c.loss(batch, g, float32(1/float64(len(batch))))
		if err != nil {
			return 0, 0, 0, err
		}
		loss /= float64(len(batch))
		norm = ClipGrads(g, cfg.GradClip)
		if math.IsNaN(loss) || math.IsInf(loss, 0) || math.IsNaN(norm) || math.IsInf(norm, 0) {
			return loss, norm, tokens, fmt.Errorf("%w: loss %g, gradient norm %g", ErrDiverged, loss, norm)
		}
		if update {
			adam.Update(m, g, lr)
		}
		ZeroGrads(g)
		return loss, norm, tokens, nil
	}
	total := cfg.Steps
	if total == 0 {
		// Time one step (without updating) to fit the budget.
		start := time.Now()
		if _, _, _, err := step(0, false); err != nil {
			return nil, err
		}
		c.next = 0
		total = max(1, int(cfg.Minutes*60*0.95/time.Since(start).Seconds()))
	}
	sched := Schedule{MaxLR: cfg.LR, MinLR: cfg.MinLR, Warmup: cfg.Warmup, Total: total}
	mf, err := os.Create(filepath.Join(cfg.Out, "metrics.jsonl"))
	if err != nil {
		return nil, err
	}
	defer mf.Close()
	var history []Metric
	record := func(x Metric) error {
		history = append(history, x)
		b, err := json.Marshal(x)
		if err != nil {
			return err
		}
		_, err = mf.Write(append(b, '\n'))
		return err
	}
	res := &Result{Total: total, Params: m.NumParams()}
	if vl, acc, err := c.validate(); err != nil {
		return nil, err
	} else if len(c.val) > 0 {
		res.ValLoss, res.ValAccuracy = vl, acc
		log.Info("validation before fine-tuning", "val_loss", fmt.Sprintf("%.4f", vl))
		if err := record(Metric{Step: 0, ValLoss: vl, ValAccuracy: acc}); err != nil {
			return nil, err
		}
	}
	status := progress.New(opt.Status)
	defer status.Done()
	start := time.Now()
	var tokens int64
	for s := 0; s < total; s++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		lr := sched.LR(s)
		t0 := time.Now()
		loss, norm, n, err := step(lr, true)
		if err != nil {
			return res, err
		}
		tokens += int64(n)
		res.Steps, res.Loss, res.Tokens = s+1, loss, tokens
		if err := record(Metric{Step: s + 1, Loss: loss, LR: lr, GradNorm: norm, Tokens: tokens,
			TokensPerS: float64(n) / time.Since(t0).Seconds(), Elapsed: time.Since(start).Seconds()}); err != nil {
			return res, err
		}
		if len(c.val) > 0 && ((cfg.EvalEvery > 0 && (s+1)%cfg.EvalEvery == 0) || s+1 == total) {
			vl, acc, err := c.validate()
			if err != nil {
				return res, err
			}
			res.ValLoss, res.ValAccuracy = vl, acc
			if err := record(Metric{Step: s + 1, ValLoss: vl, ValAccuracy: acc, Tokens: tokens, Elapsed: time.Since(start).Seconds()}); err != nil {
				return res, err
			}
			log.Info("eval", "step", s+1, "loss", fmt.Sprintf("%.4f", loss), "val_loss", fmt.Sprintf("%.4f", vl))
		}
		status.Printf("step %d/%d  loss %.4f  lr %.2e", s+1, total, loss, lr)
	}
	if secs := time.Since(start).Seconds(); secs > 0 {
		res.TokensPerS = float64(tokens) / secs
	}
	title := "contrastive fine-tuning"
	if c.classify {
		title = "classifier fine-tuning"
	}
	if err := PlotLoss(filepath.Join(cfg.Out, "loss.png"), title, history); err != nil {
		return res, err
	}
	if err := saveFineTuned(cfg.Out, m, tok, !c.classify); err != nil {
		return res, err
	}
	res.Model = filepath.Join(cfg.Out, "model")
	return res, nil
}

// saveFineTuned writes out/model through a temporary folder: the
// encoder and its tokenizer and, for an embedding model,
// sentence-transformers' modules.json and pooling config (mean, then
// Normalize), which dokja serve and sentence-transformers read.
func saveFineTuned(out string, m *encoder.ModernBERT, tok *tokenizer.Tokenizer, embedder bool) error {
	final := filepath.Join(out, "model")
	tmp := filepath.Join(out, ".tmp-model")
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	err := func() error {
		if err := m.Save(tmp); err != nil {
			return err
		}
		if err := tok.SaveJSON(filepath.Join(tmp, "tokenizer.json")); err != nil {
			return err
		}
		if !embedder {
			return os.Rename(tmp, final)
		}
		modules := `[
  {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
  {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
  {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
]
`
		if err := atomicfile.WriteFile(filepath.Join(tmp, "modules.json"), []byte(modules)); err != nil {
			return err
		}
		pooling := fmt.Sprintf(`{"word_embedding_dimension": %d, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": false, "pooling_mode_lasttoken": false}
`, m.Dim())
		if err := os.MkdirAll(filepath.Join(tmp, "1_Pooling"), 0o755); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(tmp, "2_Normalize"), 0o755); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(filepath.Join(tmp, "1_Pooling", "config.json"), []byte(pooling)); err != nil {
			return err
		}
		return os.Rename(tmp, final)
	}()
	if err != nil {
		os.RemoveAll(tmp)
		return errors.Join(fmt.Errorf("writing %s", final), err)
	}
	return nil
}
