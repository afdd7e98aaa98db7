package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/dokja/dokja/checkpoint"
	"github.com/dokja/dokja/internal/sysmem"
	"github.com/dokja/dokja/model"
)

func init() {
	lateCommands = append(lateCommands,
		command{"info", "describe checkpoints: architecture, parameters, context, weights, template, memory", runInfo, ""},
		command{"models", "list the architectures and RoPE scalings Dokja runs", runModels, ""})
}

// modelInfo is what "dokja info" prints for one checkpoint.
type modelInfo struct {
	Path         string         `json:"path"`
	Format       string         `json:"format"`
	Architecture string         `json:"architecture"`
	ModelType    string         `json:"model_type"`
	GGUFArch     string         `json:"gguf_architecture"`
	Params       float64        `json:"parameters"`
	ActiveParams float64        `json:"active_parameters"`
	Layers       int            `json:"layers"`
	Hidden       int            `json:"hidden_size"`
	Heads        int            `json:"attention_heads"`
	KVHeads      int            `json:"kv_heads"`
	HeadDim      int            `json:"head_dim"`
	Vocab        int            `json:"vocab_size"`
	Context      int            `json:"context"`
	RopeTheta    float64        `json:"rope_theta"`
	RopeScaling  string         `json:"rope_scaling,omitempty"`
	Attention    string         `json:"attention"`
	Experts      string         `json:"experts,omitempty"`
	Weights      map[string]int `json:"tensor_types"`
	WeightBytes  int64          `json:"weight_bytes"`
	Tokenizer    int            `json:"tokenizer_vocab,omitempty"`
	ChatTemplate string         `json:"chat_template"`
	LoadBytes    float64        `json:"load_bytes"`
	CacheF32     int            `json:"kv_bytes_per_token_f32"`
	CacheF16     int            `json:"kv_bytes_per_token_f16"`
	FullContext  float64        `json:"bytes_at_full_context_f16"`
}

func runInfo(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("info", "MODEL...", `
Describe checkpoints without loading their weights: a Hugging Face folder
(config.json, safetensors, tokenizer, chat template) or a GGUF file. It
shows the architecture, parameters (for a mixture of experts also those a
token uses), context and RoPE, attention layout, tensor types, tokenizer,
chat template, and the memory Dokja needs to load and run the model. A
model Dokja cannot run gets an error naming the architecture or setting.

Examples:
  dokja info runs/demo/train/model
  dokja info --json model-q4_k.gguf`, stdout, stderr)
	asJSON := fs.Bool("json", false, "print JSON, one object per line")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fs.usageError("name at least one checkpoint folder or GGUF file")
	}
	for i, path := range fs.Args() {
		info, err := checkpoint.Inspect(path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		mi := describe(info)
		if *asJSON {
			if err := json.NewEncoder(stdout).Encode(mi); err != nil {
				return err
			}
			continue
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		printInfo(stdout, mi)
	}
	return nil
}

func describe(info *checkpoint.Info) modelInfo {
	c := info.Config
	a, _ := c.Arch()
	mi := modelInfo{
		Path: info.Path, Format: "Hugging Face safetensors", Architecture: a.Name, ModelType: a.ModelType, GGUFArch: a.GGUF,
		Params: c.NumParams(), ActiveParams: c.ActiveParams(), Layers: c.NumHiddenLayers, Hidden: c.HiddenSize,
		Heads: c.NumAttentionHeads, KVHeads: c.NumKeyValueHeads, HeadDim: c.HeadDim, Vocab: c.VocabSize,
		Context: c.MaxPositionEmbeddings, RopeTheta: c.RopeTheta, Attention: c.AttentionLayout(),
		Weights: info.Types, WeightBytes: info.Bytes, ChatTemplate: info.Chat.Origin,
		CacheF32: c.CacheBytesPerToken(false), CacheF16: c.CacheBytesPerToken(true),
	}
	if info.GGUF {
		mi.Format = "GGUF"
	}
	if c.RopeScaling != nil {
		mi.RopeScaling = c.RopeScaling.String()
	}
	if c.IsMoE() {
		mi.Experts = fmt.Sprintf("%d, %d per token", c.NumExperts, c.NumExpertsPerTok)
		if c.SharedExpertIntermediateSize > 0 {
			mi.Experts += ", and a shared expert"
		}
	}
	if info.Tokenizer != nil {
		mi.Tokenizer = info.Tokenizer.VocabSize()
	}
	if mi.ChatTemplate == "" {
		mi.ChatTemplate = "none"
	} else {
		mi.ChatTemplate = "template from " + mi.ChatTemplate
	}
	// Dokja keeps a GGUF file's blocks (and widens its embedding to
	// float32 for lookups) and converts safetensors weights to float32.
	mi.LoadBytes = 4 * c.NumParams()
	if info.GGUF {
		mi.LoadBytes = float64(info.Bytes) + 4*float64(c.VocabSize)*float64(c.HiddenSize)
	}
	mi.FullContext = mi.LoadBytes + float64(mi.CacheF16)*float64(max(c.MaxPositionEmbeddings, 0))
	return mi
}

func printInfo(w io.Writer, mi modelInfo) {
	row := func(k, format string, args ...any) { fmt.Fprintf(w, "%-13s %s\n", k+":", fmt.Sprintf(format, args...)) }
	row("model", "%s", mi.Path)
	row("format", "%s", mi.Format)
	row("architecture", "%s (model_type %s, GGUF %s)", mi.Architecture, mi.ModelType, mi.GGUFArch)
	if mi.ActiveParams < mi.Params {
		row("parameters", "%s total, %s per token", count(mi.Params), count(mi.ActiveParams))
	} else {
		row("parameters", "%s", count(mi.Params))
	}
	row("shape", "%d layers, hidden %d, %d heads (%d key/value) of %d, vocabulary %d", mi.Layers, mi.Hidden, mi.Heads, mi.KVHeads, mi.HeadDim, mi.Vocab)
	if mi.Experts != "" {
		row("experts", "%s", mi.Experts)
	}
	ctx := fmt.Sprintf("%d positions, RoPE base %g", mi.Context, mi.RopeTheta)
	if mi.RopeScaling != "" {
		ctx += ", scaling " + mi.RopeScaling
	}
	row("context", "%s", ctx)
	row("attention", "%s", mi.Attention)
	var types []string
	for _, t := range slices.Sorted(maps.Keys(mi.Weights)) {
		types = append(types, fmt.Sprintf("%s ×%d", t, mi.Weights[t]))
	}
	row("weights", "%s in %s", sysmem.Bytes(float64(mi.WeightBytes)), strings.Join(types, ", "))
	if mi.Tokenizer > 0 {
		row("tokenizer", "%d ids", mi.Tokenizer)
	} else {
		row("tokenizer", "none")
	}
	row("chat", "%s", mi.ChatTemplate)
	row("memory", "%s to load; key/value cache %s per token (f32), %s (f16); %s with the full context in f16",
		sysmem.Bytes(mi.LoadBytes), sysmem.Bytes(float64(mi.CacheF32)), sysmem.Bytes(float64(mi.CacheF16)), sysmem.Bytes(mi.FullContext))
}

// count writes a parameter count as people say it: 1.24B, 135M, 80.3K.
func count(n float64) string {
	for _, u := range []struct {
		s string
		v float64
	}{{"T", 1e12}, {"B", 1e9}, {"M", 1e6}, {"K", 1e3}} {
		if n >= u.v {
			return fmt.Sprintf("%.3g%s", n/u.v, u.s)
		}
	}
	return fmt.Sprintf("%.0f", n)
}

func runModels(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("models", "", `
List the architectures Dokja loads (Hugging Face architectures names and
model_type, GGUF general.architecture), what each adds to the shared
decoder, and the RoPE scalings it understands.`, stdout, stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%-22s %-11s %-9s %s\n", "architectures", "model_type", "GGUF", "features")
	for _, a := range model.Archs {
		fmt.Fprintf(stdout, "%-22s %-11s %-9s %s\n", a.Name, a.ModelType, a.GGUF, strings.Join(a.Features(), ", "))
	}
	fmt.Fprintln(stdout, "\nrope_scaling: linear, dynamic (NTK), yarn, llama3 (Llama 3.1's rule); also as Transformers 5's rope_parameters")
	fmt.Fprintln(stdout, "training: every architecture without experts; mixtures of experts run inference only")
	return nil
}
