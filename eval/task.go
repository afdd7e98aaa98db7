package eval

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// OutputType says how a task's items are scored, in lm-evaluation-harness's
// words.
type OutputType string

// The output types Dokja scores.
const (
	// MultipleChoice scores each choice as a continuation of the item's
	// text and predicts the most likely one.
	MultipleChoice OutputType = "multiple_choice"
	// LoglikelihoodRolling scores a whole document in windows of the
	// model's context (perplexity).
	LoglikelihoodRolling OutputType = "loglikelihood_rolling"
	// Loglikelihood scores the item's reference answer as a continuation
	// of its text: perplexity, and whether greedy decoding would give it.
	Loglikelihood OutputType = "loglikelihood"
	// GenerateUntil asks the model for a reply (through chat), cuts it at
	// stop strings, filters it and compares it with the references.
	GenerateUntil OutputType = "generate_until"
)

// Metric names.
const (
	MetricAcc            = "acc"
	MetricAccNorm        = "acc_norm"
	MetricF1             = "f1" // macro F1, KoBEST's official metric
	MetricWordPerplexity = "word_perplexity"
	MetricBytePerplexity = "byte_perplexity"
	MetricBitsPerByte    = "bits_per_byte"
	MetricExactMatch     = "exact_match"
	MetricPerplexity     = "perplexity" // of loglikelihood's answers
)

// Doc is one item of a task, after doc_to_text, doc_to_choice and
// doc_to_target.
type Doc struct {
	ID   string
	File string
	Line int
	// Text is the prompt the choices continue (multiple choice), or the
	// document to score (rolling log-likelihood).
	Text    string
	Choices []string
	Target  int // index into Choices
	// References are a generate_until or loglikelihood item's gold
	// answers: any of them matches, and few-shot examples show the first.
	References []string
	// Description is the task's description for this item, put before
	// the few-shot examples.
	Description string
}

// answer is the solved form of an item, as a few-shot example shows it.
func (d Doc) answer() string {
	if len(d.Choices) > 0 {
		return d.Choices[d.Target]
	}
	if len(d.References) > 0 {
		return d.References[0]
	}
	return ""
}

// Task is a benchmark described as data: where its rows come from and
// the functions lm-evaluation-harness's task YAML names.
type Task struct {
	Name        string
	Description string
	OutputType  OutputType
	// Dir is the task's folder under a KoBEST data dir; a split is the
	// file SPLIT.tsv in it.
	Dir string
	// Columns must be in the TSV header.
	Columns []string
	// IDColumn holds the item id; without it the id is the row number.
	IDColumn string
	// DocToText, DocToChoice and DocToTarget follow the harness's
	// doc_to_text, doc_to_choice and doc_to_target (the target as an index
	// into the choices). An error names the offending field.
	DocToText   func(Row) (string, error)
	DocToChoice func(Row) ([]string, error)
	DocToTarget func(Row) (int, error)
	// DocToReferences gives a generate_until or loglikelihood item's
	// gold answers (the harness's doc_to_target there), and
	// DocToDescription the harness's description, rendered per item.
	DocToReferences  func(Row) ([]string, error)
	DocToDescription func(Row) (string, error)
	// Until are generate_until's stop strings (nil: the few-shot
	// delimiter, as in the harness); MaxGenTokens bounds a reply (0:
	// 256); Temperature and TopP sample it (0: greedy).
	Until             []string
	MaxGenTokens      int
	Temperature, TopP float64
	// Filters turn replies into answers (nil: DefaultFilter); Match
	// configures exact_match.
	Filters []FilterChain
	Match   MatchOptions
	// TargetDelimiter goes between the text and a choice (" "), and
	// FewshotDelimiter between few-shot examples ("\n\n").
	TargetDelimiter  string
	FewshotDelimiter string
	Metrics          []string
	// RowsFunc, when set, reads a split's rows in place of Dir (tasks from
	// YAML files, whose data lies beside them; see LoadTaskFile).
	RowsFunc func(dataDir, split string) ([]Row, error)
	// NumFewshot is a task file's num_fewshot (0 when not set); the run's
	// own option decides how many examples are used.
	NumFewshot int
	// splitFile names a task file's data file for a split (SplitFile).
	splitFile func(split string) (string, error)
}

// until is the task's stop strings.
func (t *Task) until() []string {
	if t.Until != nil {
		return t.Until
	}
	if t.FewshotDelimiter == "" {
		return nil
	}
	return []string{t.FewshotDelimiter}
}

// filters is the task's filter chains.
func (t *Task) filters() []FilterChain {
	if len(t.Filters) == 0 {
		return []FilterChain{DefaultFilter}
	}
	return t.Filters
}

// Rows reads the task's split from a KoBEST data dir.
func (t *Task) Rows(dataDir, split string) ([]Row, error) {
	if t.RowsFunc != nil {
		return t.RowsFunc(dataDir, split)
	}
	if t.Dir == "" {
		return nil, fmt.Errorf("task %s does not read a data dir", t.Name)
	}
	if dataDir == "" {
		return nil, fmt.Errorf("task %s: a data dir is required (the KoBEST folder holding %s/)", t.Name, t.Dir)
	}
	if st, err := os.Stat(dataDir); err != nil {
		return nil, fmt.Errorf("task %s: data dir: %w", t.Name, err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("task %s: data dir %s is not a folder", t.Name, dataDir)
	}
	path := filepath.Join(dataDir, t.Dir, split+".tsv")
	if _, err := os.Stat(path); err != nil {
		present, _ := filepath.Glob(filepath.Join(dataDir, t.Dir, "*.tsv"))
		for i := range present {
			present[i] = strings.TrimSuffix(filepath.Base(present[i]), ".tsv")
		}
		return nil, fmt.Errorf("task %s: split %q: %w (splits present: %s)", t.Name, split, err, orNone(present))
	}
	return ReadTSV(path, t.Columns)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// Docs turns rows into items.
func (t *Task) Docs(rows []Row) ([]Doc, error) {
	docs := make([]Doc, 0, len(rows))
	for i, r := range rows {
		d := Doc{ID: strconv.Itoa(i + 1), File: r.File, Line: r.Line}
		if t.IDColumn != "" {
			d.ID = strings.TrimSpace(r.Get(t.IDColumn))
		}
		var err error
		if d.Text, err = t.DocToText(r); err != nil {
			return nil, err
		}
		if t.DocToChoice != nil {
			if d.Choices, err = t.DocToChoice(r); err != nil {
				return nil, err
			}
		}
		if t.DocToTarget != nil {
			if d.Target, err = t.DocToTarget(r); err != nil {
				return nil, err
			}
			if d.Target < 0 || d.Target >= len(d.Choices) {
				return nil, &FieldError{File: r.File, Line: r.Line, Field: "target", Err: fmt.Errorf("target %d is not one of the %d choices", d.Target, len(d.Choices))}
			}
		}
		if t.DocToReferences != nil {
			if d.References, err = t.DocToReferences(r); err != nil {
				return nil, err
			}
			if len(d.References) == 0 {
				return nil, &FieldError{File: r.File, Line: r.Line, Field: "doc_to_target", Err: errors.New("no reference answer")}
			}
		}
		if t.DocToDescription != nil {
			if d.Description, err = t.DocToDescription(r); err != nil {
				return nil, err
			}
		}
		docs = append(docs, d)
	}
	return docs, nil
}

// Load reads the task's split from a KoBEST data dir as items.
func (t *Task) Load(dataDir, split string) ([]Doc, error) {
	rows, err := t.Rows(dataDir, split)
	if err != nil {
		return nil, err
	}
	return t.Docs(rows)
}

// ErrUnknownTask is returned by Lookup for a name it does not know.
var ErrUnknownTask = errors.New("unknown task")

// Tasks returns the built-in tasks, sorted by name.
func Tasks() []*Task {
	out := append(kobestTasks(), Perplexity())
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the built-in task of that name; "kobest" names all five
// KoBEST tasks, and a name ending in .yaml or .yml is a task file read by
// LoadTaskFile.
func Lookup(name string) ([]*Task, error) {
	if name == "kobest" {
		return kobestTasks(), nil
	}
	if strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml") {
		t, err := LoadTaskFile(name)
		if err != nil {
			return nil, err
		}
		return []*Task{t}, nil
	}
	var names []string
	for _, t := range Tasks() {
		if t.Name == name {
			return []*Task{t}, nil
		}
		names = append(names, t.Name)
	}
	return nil, fmt.Errorf("%w %q (known: kobest, %s)", ErrUnknownTask, name, strings.Join(names, ", "))
}

// field returns a required non-empty field.
func field(r Row, name string) (string, error) {
	v, ok := r.Fields[name]
	if !ok {
		return "", &FieldError{File: r.File, Line: r.Line, Field: name, Err: errors.New("missing")}
	}
	if strings.TrimSpace(v) == "" {
		return "", &FieldError{File: r.File, Line: r.Line, Field: name, Err: errors.New("empty")}
	}
	return v, nil
}

// label parses a field whose value must be one of values, returning its
// index.
func label(r Row, name string, values ...string) (int, error) {
	v, err := field(r, name)
	if err != nil {
		return 0, err
	}
	v = strings.TrimSpace(v)
	for i, want := range values {
		if strings.EqualFold(v, want) {
			return i, nil
		}
	}
	return 0, &FieldError{File: r.File, Line: r.Line, Field: name, Err: fmt.Errorf("%q is not one of %s", v, strings.Join(values, ", "))}
}
