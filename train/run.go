package train

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/dokja/dokja/checkpoint"
	"github.com/dokja/dokja/encoder"
	"github.com/dokja/dokja/internal/sysmem"
	"github.com/dokja/dokja/model"
	"github.com/dokja/dokja/progress"
	"github.com/dokja/dokja/shards"
	"github.com/dokja/dokja/tensor"
	"github.com/dokja/dokja/tokenizer"
)

// Options are the settings of one invocation that are not part of the
// run's identity.
type Options struct {
	// Resume continues from the run folder's latest checkpoint.
	Resume bool
	// Status receives the live status line (drawn only on a terminal).
	Status io.Writer
	// Log receives progress records; nil discards them.
	Log *slog.Logger
	// StopAfter, when positive, stops (with a checkpoint) once the run has
	// reached this step, as if interrupted: tests use it to split a run.
	StopAfter int
}

// Metric is one line of metrics.jsonl: a training step or an evaluation.
type Metric struct {
	Step    int     `json:"step"`
	Loss    float64 `json:"loss,omitempty"`
	ValLoss float64 `json:"val_loss,omitempty"`
	// ValAccuracy is a classifier's accuracy on the held-out examples.
	ValAccuracy float64 `json:"val_accuracy,omitempty"`
	LR          float64 `json:"lr,omitempty"`
	GradNorm    float64 `json:"grad_norm,omitempty"`
	Tokens      int64   `json:"tokens"`
	TokensPerS  float64 `json:"tokens_per_s,omitempty"`
	MFU         float64 `json:"mfu,omitempty"`
	Elapsed     float64 `json:"elapsed_s"`
}

// Result summarises a finished (or stopped) run.
type Result struct {
	Steps, Total   int
	Tokens         int64
	Loss, ValLoss  float64
	ValAccuracy    float64
	TokensPerS     float64
	MFU, PeakFLOPS float64
	Params         int
	Checkpoint     string
	// Model is the final model folder (out/model), written when the run
	// completes its planned steps.
	Model string
}

// ErrDiverged reports a non-finite loss or gradient.
var ErrDiverged = errors.New("training diverged")

// runner holds one run's moving parts.
type runner struct {
	cfg        *Config
	opt        Options
	log        *slog.Logger
	m          net
	grads      net
	adam       *AdamW
	train, val *Loader
	tokJSON    string
	// tok is the tokenizer saved with the model: the data's (with the
	// mask token added for an encoder); nil when the data has none.
	tok *tokenizer.Tokenizer
	// mask, for an encoder, turns the loader's batches into masked ones.
	mask     *masker
	st       State
	ckptDir  string
	metrics  *os.File
	history  []Metric
	flopsTok float64
	peak     float64
	dataID   string // the data's content identity (shards.Manifest.Identity)
}

// Run trains as cfg says, writing checkpoints, metrics.jsonl and loss.png
// into cfg.Out. Cancelling ctx saves a checkpoint and returns ctx's error.
func Run(ctx context.Context, cfg *Config, opt Options) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Pairs != "" || cfg.Labelled != "" {
		return runFineTune(ctx, cfg, opt)
	}
	r := &runner{cfg: cfg, opt: opt, log: opt.Log, ckptDir: filepath.Join(cfg.Out, "checkpoints")}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	trainSet, manifest, err := shards.OpenSplit(cfg.Data, "train")
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer trainSet.Close()
	r.dataID = manifest.Identity()
	var valSet *shards.Set
	if vs, _, err := shards.OpenSplit(cfg.Data, "val"); err == nil {
		valSet = vs
		defer vs.Close()
	} else if errors.Is(err, shards.ErrNoSplit) {
		r.log.Warn("no validation split; val_loss will not be reported", "data", cfg.Data)
	} else {
		return nil, fmt.Errorf("data: %w", err)
	}
	if tj := filepath.Join(cfg.Data, "tokenizer.json"); fileExists(tj) {
		r.tokJSON = tj
	}
	if err := r.setup(trainSet, valSet); err != nil {
		return nil, err
	}
	defer r.metrics.Close()
	return r.loop(ctx)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// setup builds or restores the model, optimizer and loaders.
func (r *runner) setup(trainSet, valSet *shards.Set) error {
	cfg := r.cfg
	if err := removeStale(r.ckptDir); err != nil {
		return fmt.Errorf("cleaning %s: %w", r.ckptDir, err)
	}
	latest, err := latestCheckpoint(r.ckptDir)
	if err != nil {
		return err
	}
	if latest != "" && !r.opt.Resume {
		return fmt.Errorf("%s already holds checkpoints (latest %s): pass --resume to continue it, or choose another out", cfg.Out, latest)
	}
	resuming := latest != "" && r.opt.Resume
	if r.tokJSON != "" {
		if r.tok, err = tokenizer.LoadJSON(r.tokJSON); err != nil {
			return fmt.Errorf("data: %w", err)
		}
	}
	var src string // what decides the kind of network
	switch {
	case resuming:
		src = latest
	case cfg.Init != "":
		src = cfg.Init
	default:
		src = cfg.Model
	}
	if isEncoder(src) {
		err = r.setupEncoder(src, resuming, trainSet.Separator())
	} else {
		err = r.setupDecoder(resuming, latest, trainSet)
	}
	if err != nil {
		return err
	}
	if cfg.Kernels != "" {
		k, err := tensor.ByName(cfg.Kernels)
		if err != nil {
			return fmt.Errorf("kernels: %w", err)
		}
		r.m.setKernels(k)
	}
	if err := r.checkVocabulary(resuming, latest); err != nil {
		return err
	}
	V := r.m.vocab()
	for _, s := range []*shards.Set{trainSet, valSet} {
		if s != nil && s.Vocab() > V {
			return fmt.Errorf("data %s: the shards' vocabulary has %d ids, the model's only %d (a checkpoint of another vocabulary? use tokenizer: to swap)", cfg.Data, s.Vocab(), V)
		}
	}
	if mt := r.m.maxTokens(); cfg.SeqLen > mt && mt > 0 {
		return fmt.Errorf("seq_len %d exceeds the model's max_position_embeddings %d", cfg.SeqLen, mt)
	}
	// Weights, gradients and AdamW's two moments, all float32; the model
	// is already in memory.
	n := float64(r.m.numParams())
	if err := sysmem.Check(fmt.Sprintf("training %.3g weights (gradients and AdamW moments)", n), 12*n); err != nil {
		return err
	}
	r.grads = r.m.newGrads()
	r.adam = NewAdamW(r.m, cfg.Beta1, cfg.Beta2, cfg.Eps, cfg.WeightDecay)
	if r.train, err = NewLoader(trainSet, cfg.SeqLen, cfg.Seed, true); err != nil {
		return fmt.Errorf("data %s (train): %w", cfg.Data, err)
	}
	if valSet != nil {
		if r.val, err = NewLoader(valSet, cfg.SeqLen, 0, false); err != nil {
			r.log.Warn("validation split too small; val_loss will not be reported", "err", err)
			r.val = nil
		}
	}
	r.st = State{ConfigHash: cfg.hash(r.dataID), Config: *cfg}
	if resuming {
		st, err := loadState(latest, r.m, r.adam)
		if err != nil {
			return err
		}
		// Checkpoints written before the hash left out paths carry the
		// older hash; they resume as long as nothing moved.
		if st.ConfigHash != r.st.ConfigHash && st.ConfigHash != cfg.legacyHash() {
			return fmt.Errorf("%s: the run's settings or data changed since this checkpoint (config hash %s, now %s); only steps, minutes, eval and checkpoint intervals and kernels may change on resume (paths may: the run and its data can move)", latest, st.ConfigHash, r.st.ConfigHash)
		}
		st.ConfigHash = r.st.ConfigHash
		r.st = *st
		r.st.Config = *cfg
		r.train.Next = st.LoaderNext
		r.log.Info("resuming", "checkpoint", latest, "step", st.Step, "tokens", st.Tokens)
	}
	if err := os.MkdirAll(r.ckptDir, 0o755); err != nil {
		return err
	}
	return r.openMetrics()
}

// setupEncoder builds or restores a ModernBERT and its masking from src:
// a checkpoint to resume, a folder to continue, or a config.json.
func (r *runner) setupEncoder(src string, resuming bool, sep int) error {
	cfg := r.cfg
	if cfg.Tokenizer != "" {
		return fmt.Errorf("tokenizer: vocabulary swaps are for decoders; %s is an encoder", src)
	}
	cfg.encoderDefaults()
	var m *encoder.ModernBERT
	if resuming || cfg.Init != "" {
		e, err := encoder.Open(src)
		if err != nil {
			return err
		}
		m = e.(*encoder.ModernBERT)
		m.EnsureHead(cfg.Seed)
	} else {
		raw, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if m, err = encoder.NewModernRandom(src, raw, cfg.Seed); err != nil {
			return err
		}
	}
	r.m = encoderNet{m}
	mk, tok, err := newMasker(cfg, r.tok, sep, m.Config.VocabSize)
	if err != nil {
		return err
	}
	r.mask, r.tok = mk, tok
	// Documents start with the separator: so does each embedded text.
	if s, ok := tok.Token(sep); ok && sep >= 0 {
		if err := tok.SetTemplate([]string{s}, nil); err != nil {
			return err
		}
	}
	return nil
}

// setupDecoder builds or restores a decoder.
func (r *runner) setupDecoder(resuming bool, latest string, trainSet *shards.Set) error {
	cfg := r.cfg
	var m *model.Model
	var err error
	switch {
	case resuming:
		m, err = model.Load(latest)
	case cfg.Init != "":
		// A Hugging Face folder or a GGUF file (dequantized: training
		// updates float32 weights).
		var ck *checkpoint.Checkpoint
		if ck, err = checkpoint.Open(cfg.Init, checkpoint.Options{Dequantize: true, TokenizerOptional: true}); err == nil {
			m = ck.Model
		}
		if err == nil && cfg.Tokenizer != "" {
			err = r.swapTokenizer(m, ck.Tokenizer)
		}
	default:
		var mc *model.Config
		if mc, err = model.LoadConfig(cfg.Model); err == nil {
			// Documents start with the separator, which also ends them.
			if mc.EOSTokenID == nil {
				mc.EOSTokenID = trainSet.Separator()
			}
			if mc.BOSTokenID == nil {
				mc.BOSTokenID = trainSet.Separator()
			}
			m, err = model.NewRandom(mc, cfg.Seed)
		}
	}
	if err != nil {
		return err
	}
	r.m = decoderNet{m}
	return nil
}

// openMetrics opens metrics.jsonl for appending, first dropping records
// after the checkpoint being resumed (they will be recomputed).
func (r *runner) openMetrics() error {
	path := filepath.Join(r.cfg.Out, "metrics.jsonl")
	var kept []byte
	if f, err := os.Open(path); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			var m Metric
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.Step <= r.st.Step && r.st.Step > 0 {
				kept = append(append(kept, sc.Bytes()...), '\n')
				r.history = append(r.history, m)
			}
		}
		f.Close()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.WriteFile(path, kept, 0o644); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	r.metrics = f
	return nil
}

func (r *runner) record(m Metric) error {
	r.history = append(r.history, m)
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = r.metrics.Write(append(data, '\n'))
	return err
}

// step runs one optimizer step: accumulation over micro-batches, clipping,
// the update. It returns the mean loss and the gradient norm before
// clipping, and refuses to update on a non-finite value.
func (r *runner) step(lr float64) (loss, norm float64, err error) {
	cfg := r.cfg
	// The mean is over the step's predicted positions (all of them for a
	// decoder; the masked ones for an encoder), so all micro-batches are
	// drawn first.
	batches := make([]*model.Batch, cfg.GradAccum)
	predicted := 0
	for i := range batches {
		if batches[i], err = r.batch(r.train); err != nil {
			return 0, 0, err
		}
		predicted += targets(batches[i])
	}
	scale := float32(1 / float64(max(predicted, 1)))
	for _, b := range batches {
		l, err := r.m.lossAndGrad(b, r.grads, scale)
		if err != nil {
			return 0, 0, err
		}
		loss += l
	}
	loss /= float64(max(predicted, 1))
	norm = ClipGrads(r.grads, cfg.GradClip)
	if math.IsNaN(loss) || math.IsInf(loss, 0) || math.IsNaN(norm) || math.IsInf(norm, 0) {
		return loss, norm, fmt.Errorf("%w at step %d: loss %g, gradient norm %g", ErrDiverged, r.st.Step+1, loss, norm)
	}
	r.adam.Update(r.m, r.grads, lr)
	ZeroGrads(r.grads)
	return loss, norm, nil
}

// batch draws the next micro-batch from l, masked for an encoder (by the
// seed and the loader's position, so a resumed run masks alike).
func (r *runner) batch(l *Loader) (*model.Batch, error) {
	return r.draw(l, r.cfg.BatchSize, r.cfg.Seed)
}

// draw takes seqs windows from l, masked for an encoder by seed and the
// loader's position (validation masks with seed 0, the same every time).
func (r *runner) draw(l *Loader, seqs int, seed uint64) (*model.Batch, error) {
	key := mix(seed ^ uint64(l.Next)*0x9E3779B97F4A7C15)
	b, err := l.Batch(seqs)
	if err == nil && r.mask != nil {
		r.mask.apply(b, key)
	}
	return b, err
}

// evaluate returns the mean validation loss over the first EvalBatches
// micro-batches of the val split (the same tokens every time).
func (r *runner) evaluate() (float64, error) {
	if r.val == nil {
		return 0, nil
	}
	seqs := int(min(int64(r.cfg.BatchSize), r.val.Windows()))
	batches := int(min(int64(r.cfg.EvalBatches), r.val.Windows()/int64(seqs)))
	r.val.Next = 0
	var sum float64
	var n int
	for range batches {
		b, err := r.draw(r.val, seqs, 0)
		if err != nil {
			return 0, err
		}
		l, err := r.m.loss(b)
		if err != nil {
			return 0, err
		}
		sum += l
		n += targets(b)
	}
	return sum / float64(n), nil
}

// plan fixes the number of steps: given, or as many as a time budget
// allows after timing one step's work (without updating the model).
func (r *runner) plan() (int, error) {
	cfg := r.cfg
	if r.st.Total > 0 {
		return max(r.st.Total, cfg.Steps), nil
	}
	if cfg.Steps > 0 {
		return cfg.Steps, nil
	}
	save := r.train.Next
	b, err := r.batch(r.train)
	r.train.Next = save
	if err != nil {
		return 0, err
	}
	scratch := r.m.newGrads()
	var per time.Duration
	for i := range 2 { // the first pass pays for allocation and page faults
		start := time.Now()
		if _, err := r.m.lossAndGrad(b, scratch, 1); err != nil {
			return 0, err
		}
		if i == 1 {
			per = time.Since(start)
		}
	}
	stepTime := per.Seconds() * float64(cfg.GradAccum) * 1.05 // + optimizer
	evalTime := per.Seconds() / 3 * float64(cfg.EvalBatches)
	budget := cfg.Minutes * 60 * 0.95 // checkpoints, plots
	total := budget / stepTime
	if cfg.EvalEvery > 0 && r.val != nil {
		total = budget / (stepTime + evalTime/float64(cfg.EvalEvery))
	}
	r.log.Info("planned steps for the time budget", "minutes", cfg.Minutes, "seconds_per_step", fmt.Sprintf("%.3f", stepTime), "steps", int(total))
	return max(1, int(total)), nil
}

func (r *runner) loop(ctx context.Context) (*Result, error) {
	cfg := r.cfg
	total, err := r.plan()
	if err != nil {
		return nil, err
	}
	r.st.Total = total
	sched := Schedule{MaxLR: cfg.LR, MinLR: cfg.MinLR, Warmup: cfg.Warmup, Total: total}
	hidden, inter := r.m.widths()
	r.peak = MeasurePeak(r.m.kernels(), cfg.BatchSize*cfg.SeqLen, hidden, inter)
	r.flopsTok = r.m.flopsPerToken(cfg.SeqLen)
	res := &Result{Total: total, Params: r.m.numParams(), PeakFLOPS: r.peak}
	r.log.Info("training", "params", r.m.numParams(), "steps", total, "tokens_per_step", cfg.BatchSize*cfg.SeqLen*cfg.GradAccum,
		"kernels", r.m.kernels().Name(), "peak_gflops", fmt.Sprintf("%.1f", r.peak/1e9), "data_windows", r.train.Windows())
	status := progress.New(r.opt.Status)
	defer status.Done()
	start := time.Now()
	elapsed0 := r.st.Elapsed
	tokensPerStep := int64(cfg.BatchSize * cfg.SeqLen * cfg.GradAccum)
	// rate is measured over this invocation's steps only.
	stepsHere := 0
	saveHere := func() error {
		r.st.Elapsed = elapsed0 + time.Since(start).Seconds()
		r.st.LoaderNext = r.train.Next
		dir, err := saveCheckpoint(r.ckptDir, r.m, r.adam, &r.st, r.tok, cfg.Keep)
		if err != nil {
			return err
		}
		res.Checkpoint = dir
		r.log.Info("checkpoint", "dir", dir, "step", r.st.Step)
		return r.plot()
	}
	finish := func() *Result {
		res.Steps, res.Tokens, res.Loss, res.ValLoss = r.st.Step, r.st.Tokens, r.st.Loss, r.st.ValLoss
		if secs := time.Since(start).Seconds(); stepsHere > 0 && secs > 0 {
			res.TokensPerS = float64(int64(stepsHere)*tokensPerStep) / secs
			res.MFU = res.TokensPerS * r.flopsTok / r.peak
		}
		return res
	}
	for r.st.Step < total {
		if err := ctx.Err(); err != nil {
			if serr := saveHere(); serr != nil {
				return finish(), errors.Join(err, serr)
			}
			return finish(), err
		}
		if r.opt.StopAfter > 0 && r.st.Step >= r.opt.StopAfter {
			return finish(), saveHere()
		}
		if cfg.Minutes > 0 && elapsed0+time.Since(start).Seconds() > cfg.Minutes*60 {
			r.log.Warn("time budget spent before the planned steps", "step", r.st.Step, "planned", total)
			break
		}
		lr := sched.LR(r.st.Step)
		t0 := time.Now()
		loss, norm, err := r.step(lr)
		if err != nil {
			if errors.Is(err, ErrDiverged) {
				last, _ := latestCheckpoint(r.ckptDir)
				if last == "" {
					last = "none yet"
				}
				err = fmt.Errorf("%w; the last good checkpoint is %s", err, last)
			}
			return finish(), err
		}
		stepsHere++
		r.st.Step++
		r.st.Tokens += tokensPerStep
		r.st.Loss = loss
		dt := time.Since(t0).Seconds()
		tps := float64(tokensPerStep) / dt
		m := Metric{Step: r.st.Step, Loss: loss, LR: lr, GradNorm: norm, Tokens: r.st.Tokens, TokensPerS: tps,
			MFU: tps * r.flopsTok / r.peak, Elapsed: elapsed0 + time.Since(start).Seconds()}
		if err := r.record(m); err != nil {
			return finish(), err
		}
		if cfg.EvalEvery > 0 && (r.st.Step%cfg.EvalEvery == 0 || r.st.Step == total) && r.val != nil {
			vl, err := r.evaluate()
			if err != nil {
				return finish(), err
			}
			r.st.ValLoss = vl
			if err := r.record(Metric{Step: r.st.Step, ValLoss: vl, Tokens: r.st.Tokens, Elapsed: m.Elapsed}); err != nil {
				return finish(), err
			}
			r.log.Info("eval", "step", r.st.Step, "loss", fmt.Sprintf("%.4f", loss), "val_loss", fmt.Sprintf("%.4f", vl))
		}
		if cfg.CheckpointEvery > 0 && r.st.Step%cfg.CheckpointEvery == 0 && r.st.Step < total {
			if err := saveHere(); err != nil {
				return finish(), err
			}
		}
		avg := float64(int64(stepsHere)*tokensPerStep) / time.Since(start).Seconds()
		eta := time.Duration(float64(total-r.st.Step) * float64(tokensPerStep) / avg * float64(time.Second))
		status.Printf("step %d/%d  loss %.4f  lr %.2e  %.0f tok/s  MFU %.1f%%  ETA %s",
			r.st.Step, total, loss, lr, avg, 100*avg*r.flopsTok/r.peak, eta.Round(time.Second))
	}
	if err := saveHere(); err != nil {
		return finish(), err
	}
	final := filepath.Join(cfg.Out, "model")
	if err := r.saveFinal(final); err != nil {
		return finish(), err
	}
	res.Model = final
	return finish(), nil
}

// saveFinal writes the trained model as a plain Hugging Face folder
// (weights and tokenizer, no optimizer state) for generate and serve.
func (r *runner) saveFinal(dir string) error {
	if err := r.m.save(dir); err != nil {
		return err
	}
	if r.tok == nil {
		return nil
	}
	return r.tok.SaveJSON(filepath.Join(dir, "tokenizer.json"))
}

// checkVocabulary refuses data tokenized with another vocabulary than the
// model's, when both tokenizers are known: ids would mean other tokens.
func (r *runner) checkVocabulary(resuming bool, latest string) error {
	if r.tokJSON == "" {
		return nil
	}
	modelTok := ""
	switch {
	case resuming:
		modelTok = filepath.Join(latest, "tokenizer.json")
	case r.cfg.Tokenizer != "":
		modelTok = r.cfg.Tokenizer
	case r.cfg.Init != "":
		modelTok = filepath.Join(r.cfg.Init, "tokenizer.json")
	}
	if modelTok == "" || (r.cfg.Tokenizer == "" && !fileExists(modelTok)) {
		return nil
	}
	a, err := tokenizer.Load(modelTok)
	if err != nil {
		return err
	}
	// The data's tokenizer, with an encoder's mask token if it was added.
	if id, same := sameVocabulary(a, r.tok); !same {
		return fmt.Errorf("data %s was tokenized with another vocabulary than %s (first difference at id %d; sizes %d and %d)",
			r.cfg.Data, modelTok, id, r.tok.VocabSize(), a.VocabSize())
	}
	return nil
}

// sameVocabulary compares two tokenizers token by token, returning the
// first id that differs.
func sameVocabulary(a, b *tokenizer.Tokenizer) (int, bool) {
	n := max(a.VocabSize(), b.VocabSize())
	for id := range n {
		x, okA := a.Token(id)
		y, okB := b.Token(id)
		if okA != okB || x != y {
			return id, false
		}
	}
	return 0, true
}
