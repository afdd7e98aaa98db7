package train

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"
)

// Config is a training run, read from run.yaml. Sizes are in tokens per
// sequence and sequences per micro-batch; one optimizer step sees
// BatchSize × GradAccum sequences.
type Config struct {
	// Model is a Hugging Face config.json for training from scratch; Init
	// a checkpoint to continue from: a folder (Dokja's or a Hugging Face
	// one) or a GGUF file (dequantized).
	Model string `yaml:"model" json:"model,omitempty"`
	Init  string `yaml:"init" json:"init,omitempty"`
	// Tokenizer, with Init, swaps in a new vocabulary: rows of tokens the
	// old vocabulary lacks start as the mean of their old pieces' rows.
	Tokenizer string `yaml:"tokenizer" json:"tokenizer,omitempty"`
	// Data is a folder of token shards written by dokja tokenize.
	Data string `yaml:"data" json:"data"`
	// Out is the run folder: checkpoints, metrics, loss curve.
	Out  string `yaml:"out" json:"out"`
	Seed uint64 `yaml:"seed" json:"seed"`

	SeqLen    int `yaml:"seq_len" json:"seq_len"`
	BatchSize int `yaml:"batch_size" json:"batch_size"`
	GradAccum int `yaml:"grad_accum" json:"grad_accum"`
	// Steps is the number of optimizer steps; with Minutes instead, the
	// run measures a step first and plans as many as fit the budget.
	Steps   int     `yaml:"steps" json:"steps"`
	Minutes float64 `yaml:"minutes" json:"minutes,omitempty"`

	LR          float64 `yaml:"lr" json:"lr"`
	MinLR       float64 `yaml:"min_lr" json:"min_lr"`
	Warmup      int     `yaml:"warmup" json:"warmup"`
	WeightDecay float64 `yaml:"weight_decay" json:"weight_decay"`
	Beta1       float64 `yaml:"beta1" json:"beta1"`
	Beta2       float64 `yaml:"beta2" json:"beta2"`
	Eps         float64 `yaml:"eps" json:"eps"`
	GradClip    float64 `yaml:"grad_clip" json:"grad_clip"`

	// EvalEvery steps, the validation loss over EvalBatches micro-batches
	// of the data's val split is logged.
	EvalEvery   int `yaml:"eval_every" json:"eval_every"`
	EvalBatches int `yaml:"eval_batches" json:"eval_batches"`
	// CheckpointEvery steps a checkpoint is written; Keep of them are kept.
	CheckpointEvery int `yaml:"checkpoint_every" json:"checkpoint_every"`
	Keep            int `yaml:"keep" json:"keep"`
	// Kernels picks the matrix path (portable, simd, openblas); default fastest.
	Kernels string `yaml:"kernels" json:"kernels,omitempty"`

	// For encoders (a ModernBERT model or init), which train on masked
	// tokens: MaskRate is the share of positions predicted (default 0.3,
	// as ModernBERT), MaskToken the mask token, added to the data's
	// tokenizer when it lacks it (default: [MASK], <mask> or <|mask|>,
	// whichever the tokenizer has, else <|mask|> added).
	MaskRate  float64 `yaml:"mask_rate" json:"mask_rate,omitempty"`
	MaskToken string  `yaml:"mask_token" json:"mask_token,omitempty"`

	// Pairs, instead of data, fine-tunes the encoder in init for
	// embeddings: a JSON-lines file of {"query", "positive"} pairs (or
	// sentence-transformers' "anchor"), trained with in-batch negatives
	// (batch_size pairs a step, texts cut to seq_len tokens) at
	// Temperature (default 0.05).
	Pairs       string  `yaml:"pairs" json:"pairs,omitempty"`
	Temperature float64 `yaml:"temperature" json:"temperature,omitempty"`
	// Labelled, instead of data, fine-tunes the encoder in init as a
	// classifier (ModernBertForSequenceClassification): a JSON-lines file
	// of {"text", "label"}; a twentieth (by a hash of the text) is held out for accuracy.
	Labelled string `yaml:"labelled" json:"labelled,omitempty"`
}

// encoderDefaults fills the masked-language settings of an encoder run.
func (c *Config) encoderDefaults() {
	if c.MaskRate == 0 {
		c.MaskRate = 0.3
	}
}

// Defaults fills the fields left at zero with the usual values of small
// pretraining runs.
func (c *Config) Defaults() {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	deff := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.SeqLen, 256)
	def(&c.BatchSize, 8)
	def(&c.GradAccum, 1)
	deff(&c.LR, 1e-3)
	deff(&c.Beta1, 0.9)
	deff(&c.Beta2, 0.95)
	deff(&c.Eps, 1e-8)
	deff(&c.GradClip, 1)
	def(&c.EvalBatches, 8)
	def(&c.Keep, 2)
	if c.MinLR == 0 {
		c.MinLR = c.LR / 10
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
}

// Validate checks the fields, naming the one at fault.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch {
	case c.Model == "" && c.Init == "":
		bad("model", "set model (a config.json, to train from scratch) or init (a checkpoint folder)")
	case c.Model != "" && c.Init != "":
		bad("model", "set model or init, not both")
	}
	if c.Tokenizer != "" && c.Init == "" {
		bad("tokenizer", "a tokenizer swap needs init (the checkpoint whose vocabulary is replaced)")
	}
	sources := 0
	for _, s := range []string{c.Data, c.Pairs, c.Labelled} {
		if s != "" {
			sources++
		}
	}
	switch {
	case sources == 0:
		bad("data", "a folder of token shards (dokja tokenize) is required, or pairs or labelled to fine-tune an encoder")
	case sources > 1:
		bad("data", "set one of data (token shards), pairs (contrastive fine-tuning) and labelled (a classifier)")
	case c.Data == "" && c.Init == "":
		bad("init", "fine-tuning on pairs or labelled needs init (the encoder folder to fine-tune)")
	}
	if c.Temperature < 0 {
		bad("temperature", "%g must be positive", c.Temperature)
	}
	if c.Out == "" {
		bad("out", "a run folder is required")
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"seq_len", c.SeqLen}, {"batch_size", c.BatchSize}, {"grad_accum", c.GradAccum}} {
		if f.v < 1 {
			bad(f.name, "%d, must be at least 1", f.v)
		}
	}
	if c.Steps < 0 || c.Minutes < 0 || c.Warmup < 0 || c.EvalEvery < 0 || c.CheckpointEvery < 0 || c.Keep < 1 || c.EvalBatches < 1 {
		bad("steps", "steps, minutes, warmup, eval_every, checkpoint_every must not be negative; keep and eval_batches at least 1")
	}
	if c.Steps == 0 && c.Minutes == 0 {
		bad("steps", "set steps or minutes (a time budget)")
	}
	if !(c.LR > 0) || c.MinLR < 0 || c.MinLR > c.LR {
		bad("lr", "lr %g and min_lr %g: need 0 ≤ min_lr ≤ lr and lr > 0", c.LR, c.MinLR)
	}
	if c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1 {
		bad("beta1", "beta1 %g and beta2 %g must lie in [0, 1)", c.Beta1, c.Beta2)
	}
	if c.MaskRate < 0 || c.MaskRate >= 1 {
		bad("mask_rate", "%g must lie in [0, 1)", c.MaskRate)
	}
	if c.Eps <= 0 || c.WeightDecay < 0 || c.GradClip < 0 {
		bad("eps", "eps must be positive, weight_decay and grad_clip not negative")
	}
	return errors.Join(errs...)
}

// LoadConfig reads a run.yaml; unknown fields are errors (a typo must not
// silently fall back to a default). Defaults fill what is not set.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.Defaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// hash identifies the settings that must not change when a run resumes:
// everything that shapes the data order or the update, and the data's
// content (dataID). Paths are left out, so a run folder and its data can
// move between machines and still resume: out is where the run is, and
// model, init and tokenizer are read only when a run starts (a resumed
// run takes its model from the checkpoint).
func (c *Config) hash(dataID string) string {
	k := *c
	k.Steps, k.Minutes, k.EvalEvery, k.EvalBatches, k.CheckpointEvery, k.Keep, k.Kernels = 0, 0, 0, 0, 0, 0, ""
	k.Model, k.Init, k.Tokenizer, k.Out = "", "", "", ""
	k.Data = dataID
	data, _ := json.Marshal(k)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// legacyHash is hash as checkpoints before version 2 of the hash
// computed it, with every path in it.
func (c *Config) legacyHash() string {
	k := *c
	k.Steps, k.Minutes, k.EvalEvery, k.EvalBatches, k.CheckpointEvery, k.Keep, k.Kernels = 0, 0, 0, 0, 0, 0, ""
	data, _ := json.Marshal(k)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}
