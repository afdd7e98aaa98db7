package data

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dokja/dokja/corpus"
	"go.yaml.in/yaml/v3"
)

// Config is a pipeline as written in YAML:
//
//	input:
//	  paths: [../shared/data/nsmc/reviews.jsonl.gz]
//	  field: text
//	  id_field: id
//	stages:
//	  - normalize: {}
//	  - langid: {keep: [ko]}
//	  - quality: {ko: {gopher: {min_words: 3}}}
//	  - exact_dedup: {}
//	  - minhash_dedup: {bands: 14, rows: 8}
//	  - pii: {}
//	  - tokenize: {tokenizer: tokenizer.json}
//
// Stages run in the order given; each names a kind from Stages() and holds
// its options, which override the kind's defaults.
type Config struct {
	Input Input `yaml:"input"`
	// ShardDocs is the number of documents per work shard (default 20000).
	ShardDocs int `yaml:"shard_docs"`
	// Workers processing shards in parallel (0: all cores).
	Workers int `yaml:"workers"`
	// Strict stops at the first bad input record instead of counting it.
	Strict bool `yaml:"strict"`
	// Samples is the number of sample documents kept per stage and reason
	// for the report (default 5).
	Samples int         `yaml:"samples"`
	Stages  []StageSpec `yaml:"stages"`

	// dir is the folder of the config file, for relative paths.
	dir string
}

// Input says what to read.
type Input struct {
	// Paths are files or folders (walked for files of known formats).
	Paths []string `yaml:"paths"`
	// Format is auto (by file name), text, jsonl, html, parquet or warc.
	Format string `yaml:"format"`
	// Field holds the text in JSON lines and Parquet (default "text"),
	// IDField an identifier (optional).
	Field   string `yaml:"field"`
	IDField string `yaml:"id_field"`
	// Limit reads at most this many documents (0: all).
	Limit int64 `yaml:"limit"`
}

// StageSpec is one entry of Config.Stages: a stage kind and its options.
type StageSpec struct {
	Kind    string
	Options yaml.Node
}

// UnmarshalYAML reads a one-key mapping "kind: {options}" or a bare kind.
func (s *StageSpec) UnmarshalYAML(n *yaml.Node) error {
	switch {
	case n.Kind == yaml.ScalarNode:
		s.Kind = n.Value
		return nil
	case n.Kind == yaml.MappingNode && len(n.Content) == 2:
		s.Kind = n.Content[0].Value
		s.Options = *n.Content[1]
		return nil
	}
	return fmt.Errorf("line %d: a stage is a mapping with one key, its kind (e.g. \"- langid: {keep: [ko]}\")", n.Line)
}

// MarshalYAML writes the one-key mapping back.
func (s StageSpec) MarshalYAML() (any, error) {
	opts := &s.Options
	if opts.Kind == 0 {
		opts = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	return &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: s.Kind}, opts}}, nil
}

// ReadConfig reads a pipeline file; relative paths in it are taken from
// the file's folder.
func ReadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.dir = filepath.Dir(path)
	return c, nil
}

// ParseConfig reads a pipeline from YAML, rejecting unknown keys.
func ParseConfig(data []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty pipeline config")
		}
		return nil, err
	}
	if c.ShardDocs == 0 {
		c.ShardDocs = 20000
	}
	if c.Samples == 0 {
		c.Samples = 5
	}
	switch {
	case c.ShardDocs < 0:
		return nil, fieldErr("shard_docs", c.ShardDocs, "a positive number of documents")
	case c.Workers < 0:
		return nil, fieldErr("workers", c.Workers, "0 (all cores) or more")
	case c.Samples < 0:
		return nil, fieldErr("samples", c.Samples, "0 or more")
	case c.Input.Limit < 0:
		return nil, fieldErr("input.limit", c.Input.Limit, "0 (all) or more")
	}
	if _, err := c.Input.format(); err != nil {
		return nil, err
	}
	return &c, nil
}

// SetDir sets the folder that relative paths in the config start from.
func (c *Config) SetDir(dir string) { c.dir = dir }

func (in Input) format() (corpus.Format, error) {
	f, err := corpus.ParseFormat(in.Format)
	if err != nil {
		return f, fieldErr("input.format", in.Format, "auto, text, jsonl, html, parquet or warc")
	}
	return f, nil
}

// path resolves a path of the config.
func (c *Config) path(p string) string {
	if c.dir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// Hash identifies the config's meaning, for refusing to resume a run
// under a different one.
func (c *Config) Hash() string {
	text, _ := yaml.Marshal(c)
	sum := sha256.Sum256(text)
	return hex.EncodeToString(sum[:8])
}

// Pipeline is a config with its stages built.
type Pipeline struct {
	cfg    *Config
	phases []phase
	sink   *TokenizeStageOptions
	names  []string // every stage's name in order, sink included
}

// phase is a run of document stages ending at a corpus stage (nil in the
// last phase).
type phase struct {
	stages []Stage
	corpus CorpusStage
	first  int // index in names of stages[0] (or of corpus)
}

// Build checks every stage's options and makes the stages. Errors name
// the stage by position and kind, and the option.
func (c *Config) Build(env *Env) (*Pipeline, error) {
	if len(c.Stages) == 0 {
		return nil, errors.New("stages: the pipeline has no stages")
	}
	if env == nil {
		env = &Env{}
	}
	e := *env
	if e.Dir == "" {
		e.Dir = c.dir
	}
	p := &Pipeline{cfg: c}
	cur := phase{}
	seen := map[string]bool{}
	for i, spec := range c.Stages {
		where := fmt.Sprintf("stages[%d] %s", i, spec.Kind)
		k, ok := lookupKind(spec.Kind)
		if !ok {
			var names []string
			for _, k := range stageKinds {
				names = append(names, k.name)
			}
			return nil, fmt.Errorf("stages[%d]: unknown stage %q; stages are %v", i, spec.Kind, names)
		}
		if seen[k.name] {
			return nil, fmt.Errorf("%s: the stage appears twice", where)
		}
		seen[k.name] = true
		if p.sink != nil {
			return nil, fmt.Errorf("%s: tokenize must be the last stage", where)
		}
		opts := k.defaults()
		if spec.Options.Kind != 0 {
			if err := decodeStrict(&spec.Options, opts); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
		}
		built, err := opts.build(&e)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if len(cur.stages) == 0 && cur.corpus == nil {
			cur.first = len(p.names)
		}
		p.names = append(p.names, k.name)
		switch s := built.(type) {
		case *TokenizeStageOptions:
			p.sink = s
		case CorpusStage:
			cur.corpus = s
			p.phases = append(p.phases, cur)
			cur = phase{first: len(p.names)}
		case Stage:
			cur.stages = append(cur.stages, s)
		}
	}
	p.phases = append(p.phases, cur)
	return p, nil
}

// Phases is the number of phases: one more than the corpus stages.
func (p *Pipeline) Phases() int { return len(p.phases) }

// Observation is one stage's verdict on one document, for statistics.
type Observation struct {
	// Kind is "document" or "corpus" for a verdict, "key" for the time a
	// corpus stage spent computing the document's key.
	Stage, Kind string
	Before      string // the text before the stage
	Verdict     Verdict
	Elapsed     time.Duration
}

// Process runs phase k on d: applies prev, the decision of phase k-1's
// corpus stage (nil in phase 0), then the phase's document stages, and,
// when the phase ends at a corpus stage, appends d's key for it to key.
// It reports whether d is kept; observe (may be nil) sees every verdict.
func (p *Pipeline) Process(k int, prev *Decision, d *Document, key []byte, observe func(Observation)) (bool, []byte) {
	ph := p.phases[k]
	if prev != nil {
		t0 := time.Now()
		before := d.Text
		v := prev.Apply(d)
		if observe != nil {
			observe(Observation{prev.Stage, "corpus", before, v, time.Since(t0)})
		}
		if v.Drop {
			return false, key
		}
	}
	for _, s := range ph.stages {
		t0 := time.Now()
		before := d.Text
		v := s.Process(d)
		if observe != nil {
			observe(Observation{s.Name(), "document", before, v, time.Since(t0)})
		}
		if v.Drop {
			return false, key
		}
	}
	if ph.corpus != nil {
		t0 := time.Now()
		key = ph.corpus.Key(d, key)
		if observe != nil {
			observe(Observation{ph.corpus.Name(), "key", d.Text, Verdict{}, time.Since(t0)})
		}
	}
	return true, key
}

// Resolve runs phase k's corpus stage over the keys of every document
// kept by phase k; it is an error to call it for the last phase.
func (p *Pipeline) Resolve(k int, keys func(yield func(order uint64, key []byte) bool) error) (*Decision, error) {
	cs := p.phases[k].corpus
	if cs == nil {
		return nil, fmt.Errorf("phase %d ends at no corpus stage", k+1)
	}
	dc, err := cs.Resolve(keys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cs.Name(), err)
	}
	return dc, nil
}

// InputFiles lists the files the input names, folders walked.
func (c *Config) InputFiles() ([]string, error) {
	var paths []string
	for _, p := range c.Input.Paths {
		paths = append(paths, c.path(p))
	}
	if len(paths) == 0 {
		return nil, errors.New("input.paths: no input")
	}
	files, err := corpus.Expand(paths)
	if err != nil {
		return nil, fmt.Errorf("input.paths: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("input.paths: no readable files in %s", strings.Join(paths, " "))
	}
	return files, nil
}

// ReaderOptions are the corpus reader options the input asks for.
func (c *Config) ReaderOptions() (corpus.Options, error) {
	f, err := c.Input.format()
	return corpus.Options{Format: f, Field: c.Input.Field, IDField: c.Input.IDField}, err
}

// Tokenizes reports whether the pipeline ends in the tokenize stage.
func (p *Pipeline) Tokenizes() bool { return p.sink != nil }
