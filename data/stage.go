package data

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Stage changes or judges one document at a time. Implementations are
// safe for concurrent use.
type Stage interface {
	Name() string
	Process(d *Document) Verdict
}

// CorpusStage decides with the whole corpus in view. Key, run on every
// document in parallel, gives a compact record of what the decision needs
// (hashes, band keys); Resolve reads the records of every document and
// decides which documents or lines go.
type CorpusStage interface {
	Name() string
	// Key appends d's record to dst; an empty record leaves d out.
	Key(d *Document, dst []byte) []byte
	// Resolve reads every (order, record) pair by calling keys, which may
	// be called more than once and yields pairs in no particular order,
	// and must decide the same whatever that order.
	Resolve(keys func(yield func(order uint64, key []byte) bool) error) (*Decision, error)
}

// Env holds what stages may need from outside the data package.
type Env struct {
	// EvalTexts returns the texts of the named evaluation tasks' splits,
	// for decontamination. The command line wires it to package eval.
	EvalTexts func(tasks []string, dataDir string, splits []string) (map[string][]string, error)
	// Dir resolves relative paths in stage options (the config's folder).
	Dir string
}

// path resolves p against Dir; e may be nil.
func (e *Env) path(p string) string {
	if e == nil || e.Dir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(e.Dir, p)
}

// stageKind describes a stage for the registry and `dokja data stages`.
type stageKind struct {
	name     string
	help     string
	corpus   bool           // a CorpusStage
	defaults func() builder // options with their defaults
	sink     bool           // runs after the last phase (tokenize)
}

// builder is a stage's options; build checks them and makes the stage.
type builder interface {
	build(env *Env) (any, error)
}

var stageKinds = []stageKind{
	{name: "normalize", help: "Unicode NFC/NFKC (composes Hangul jamo), removes control and invisible characters, tidies white space", defaults: func() builder { return defaultNormalize() }},
	{name: "length", help: "drops documents outside a range of characters or lines", defaults: func() builder { return defaultLength() }},
	{name: "langid", help: "labels the language with a confidence (lingua-go n-gram models) and keeps the listed languages", defaults: func() builder { return defaultLangID() }},
	{name: "quality", help: "Gopher, Gopher repetition, C4 and FineWeb rules with Korean variants, thresholds per language", defaults: func() builder { return defaultQuality() }},
	{name: "pii", help: "replaces personal information with typed placeholders (RRN, phone, e-mail, card, account, IP, address)", defaults: func() builder { return defaultPII() }},
	{name: "decontaminate", help: "drops documents sharing a long n-gram with evaluation sets (KoBEST and other harness tasks, or files)", defaults: func() builder { return defaultDecontam() }},
	{name: "classify", help: "labels documents with a trained classifier (dokja train with labelled:) and keeps the listed labels", defaults: func() builder { return defaultClassify() }},
	{name: "exact_dedup", help: "keeps the first of documents with the same text (optionally after normalising case, punctuation and digits)", corpus: true, defaults: func() builder { return defaultExact() }},
	{name: "line_dedup", help: "removes lines seen in an earlier document; drops documents left empty", corpus: true, defaults: func() builder { return defaultLineDedup() }},
	{name: "minhash_dedup", help: "MinHash + LSH near-duplicate clusters; keeps the first member of each", corpus: true, defaults: func() builder { return defaultMinHash() }},
	{name: "tokenize", help: "encodes the kept documents into training shards (train/val split by document hash)", sink: true, defaults: func() builder { return defaultTokenize() }},
}

func lookupKind(name string) (stageKind, bool) {
	for _, k := range stageKinds {
		if k.name == name {
			return k, true
		}
	}
	return stageKind{}, false
}

// StageInfo describes one stage kind.
type StageInfo struct {
	Name string
	Help string
	// Kind is "document", "corpus" or "sink".
	Kind string
	// Defaults is the stage's options with their defaults, as YAML.
	Defaults string
}

// Stages lists the stages a pipeline may use, in their usual order.
func Stages() []StageInfo {
	var out []StageInfo
	for _, k := range stageKinds {
		kind := "document"
		switch {
		case k.corpus:
			kind = "corpus"
		case k.sink:
			kind = "sink"
		}
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		enc.Encode(k.defaults())
		out = append(out, StageInfo{Name: k.name, Help: k.help, Kind: kind, Defaults: buf.String()})
	}
	return out
}

// decodeStrict decodes n onto v, rejecting keys v does not have.
// yaml.Node.Decode ignores KnownFields, so the node goes through text.
func decodeStrict(n *yaml.Node, v any) error {
	text, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return cleanYAMLErr(err)
	}
	return nil
}

// cleanYAMLErr drops the line numbers of re-marshalled text, which do not
// match the user's file.
func cleanYAMLErr(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var msgs []string
		for _, m := range te.Errors {
			if i := strings.Index(m, ": "); strings.HasPrefix(m, "line ") && i > 0 {
				m = m[i+2:]
			}
			msgs = append(msgs, m)
		}
		sort.Strings(msgs)
		return errors.New(strings.Join(msgs, "; "))
	}
	return err
}

// FieldError reports a bad value of one stage option.
type FieldError struct {
	Field string
	Value any
	Want  string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %v: expected %s", e.Field, e.Value, e.Want)
}

func fieldErr(field string, v any, want string) error { return &FieldError{field, v, want} }

func itoa(n int) string { return strconv.Itoa(n) }
