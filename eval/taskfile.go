package eval

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ardanlabs/jinja"
	"go.yaml.in/yaml/v3"
)

// Task files: a compatible subset of lm-evaluation-harness's task YAML,
// read by LoadTaskFile. Supported top-level keys:
//
//	task                 the task's name (required)
//	output_type          multiple_choice, loglikelihood, loglikelihood_rolling or
//	                     generate_until (the default, as in the harness)
//	dataset_kwargs       {data_files: {SPLIT: FILE, ...}}: local files, relative
//	                     to the YAML file, as JSON lines (.jsonl, .json),
//	                     tab-separated (.tsv) or comma-separated (.csv) with a
//	                     header row
//	dataset_path         without data_files: a local folder (relative to the
//	                     YAML file) holding SPLIT.jsonl, SPLIT.tsv or SPLIT.csv;
//	                     with data_files it is the harness's loader name
//	                     ("json", "csv") and is not read
//	test_split, validation_split, training_split, fewshot_split
//	                     the dataset's names for those splits (see below)
//	doc_to_text          a column name or a Jinja template
//	doc_to_choice        a column name (a JSON list), a YAML list of strings
//	                     (each may be a template), or a template that is a
//	                     single {{ expression }} giving a list
//	doc_to_target        an int index, a column name, or a template rendering
//	                     an index or the text of one of the choices; for
//	                     loglikelihood_rolling it renders the document itself,
//	                     as in the harness; for generate_until and loglikelihood
//	                     the reference answer (a list: any of them; an index
//	                     into doc_to_choice when that is given)
//	target_delimiter     between text and choice, default " "
//	fewshot_delimiter    between few-shot examples, default "\n\n"
//	metric_list          entries {metric: NAME} with NAME acc, acc_norm or f1
//	                     (macro F1) for multiple_choice, word_perplexity,
//	                     byte_perplexity or bits_per_byte for
//	                     loglikelihood_rolling, perplexity or acc for
//	                     loglikelihood, exact_match for generate_until (with
//	                     its options ignore_case, ignore_punctuation,
//	                     ignore_numbers and regexes_to_ignore); aggregation and
//	                     higher_is_better are accepted and ignored. Without
//	                     it: acc and acc_norm, the three perplexities,
//	                     perplexity and acc, or exact_match.
//	num_fewshot          stored as Task.NumFewshot (the run's option decides)
//	description          a template put before the few-shot examples (in chat,
//	                     the system message)
//	generation_kwargs    generate_until's until (a string or a list; default the
//	                     few-shot delimiter), max_gen_toks (default 256),
//	                     do_sample, temperature and top_p (greedy unless
//	                     do_sample is true)
//	filter_list          entries {name: NAME, filter: [{function: F, ...}]}: the
//	                     filter chains that turn a reply into the answer scored,
//	                     each reported on its own ("exact_match,NAME"); F is
//	                     regex (regex_pattern, group_select, fallback),
//	                     take_first, remove_whitespace, lowercase or uppercase.
//	                     Regular expressions are Python's as far as Go's RE2
//	                     allows (see CompilePython).
//
// Accepted and ignored: tag, group, group_alias, task_alias, dataset_name,
// metadata, should_decontaminate, doc_to_decontamination_query. Any other
// key is an error naming it and its line, as are YAML tags such as
// !function (Python functions cannot run here).
//
// A split asked for by Task.Load (the --split flag) is resolved so: "dev"
// and "validation" mean validation_split, "test" test_split, and "train"
// (the few-shot pool) fewshot_split or else training_split, when the file
// sets them; any other name, or a role the file does not set, is taken as
// the split's own name ("dev" as "validation" when data_files has no
// "dev").
//
// Templates see a row's columns as variables and, as a Dokja extension,
// the whole row as doc (unless a column is so named), for columns whose
// names are not identifiers: {{ doc['1'] }}.
//
// Columns of TSV and CSV files are strings (the harness's CSV loader would
// infer numbers): use filters such as {{ label | int }}. JSON-lines values
// keep their types (numbers, lists, objects) in templates.

// ignoredTaskKeys are harness keys a task file may carry that do not
// change how Dokja scores it.
var ignoredTaskKeys = map[string]bool{
	"tag": true, "group": true, "group_alias": true, "task_alias": true, "dataset_name": true,
	"metadata": true, "should_decontaminate": true, "doc_to_decontamination_query": true,
}

// recordKey holds a JSON-lines row's typed record (as JSON) in Row.Fields,
// so that templates see numbers and lists as such.
const recordKey = "\x00record"

// maxTaskFileBytes bounds a task YAML file.
const maxTaskFileBytes = 1 << 20

type taskFile struct {
	path, dir string
}

func (f *taskFile) errf(n *yaml.Node, field, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return fmt.Errorf("%s line %d field %q: %s", f.path, line, field, fmt.Sprintf(format, args...))
}

// SplitFile returns the file a split's items are read from: SPLIT.tsv in
// the task's folder under dataDir, or for a task file the data file beside
// it that the split resolves to (dataDir is then not used).
func (t *Task) SplitFile(dataDir, split string) (string, error) {
	if t.splitFile != nil {
		return t.splitFile(split)
	}
	if t.Dir == "" {
		return "", fmt.Errorf("task %s does not read a data dir", t.Name)
	}
	return filepath.Join(dataDir, t.Dir, split+".tsv"), nil
}

// LoadTaskFile reads one task YAML file. Errors name the file, line
// (yaml.Node.Line) and field.
func LoadTaskFile(path string) (*Task, error) {
	data, err := readLimited(path, maxTaskFileBytes)
	if err != nil {
		return nil, err
	}
	return parseTaskFile(path, data)
}

func readLimited(path string, limit int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: more than the %d bytes a file here may have", path, limit)
	}
	return data, nil
}

func parseTaskFile(path string, data []byte) (*Task, error) {
	f := &taskFile{path: path, dir: filepath.Dir(path)}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: want a mapping of task keys", path)
	}
	root := doc.Content[0]
	keys := map[string]*yaml.Node{}
	keyLine := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%s line %d: a key must be a plain name", path, k.Line)
		}
		if prev, dup := keyLine[k.Value]; dup {
			return nil, f.errf(k, k.Value, "given twice (first on line %d)", prev)
		}
		if !taskKeys[k.Value] && !ignoredTaskKeys[k.Value] {
			return nil, f.errf(k, k.Value, "unknown or unsupported key")
		}
		if v.Kind == yaml.AliasNode {
			return nil, f.errf(v, k.Value, "YAML aliases are not supported")
		}
		keys[k.Value], keyLine[k.Value] = v, k.Line
	}
	t := &Task{TargetDelimiter: " ", FewshotDelimiter: "\n\n", Description: "task file " + path}
	var err error
	if t.Name, err = f.str(keys, "task", true); err != nil {
		return nil, err
	}
	if strings.TrimSpace(t.Name) == "" || strings.ContainsAny(t.Name, " \t\n") {
		return nil, f.errf(keys["task"], "task", "%q is not a task name", t.Name)
	}
	ot, err := f.str(keys, "output_type", false)
	if err != nil {
		return nil, err
	}
	switch OutputType(ot) {
	case MultipleChoice, LoglikelihoodRolling, Loglikelihood, GenerateUntil:
		t.OutputType = OutputType(ot)
	case "":
		t.OutputType = GenerateUntil // the harness's default
	default:
		return nil, f.errf(keys["output_type"], "output_type", "unknown output type %q (want multiple_choice, loglikelihood, loglikelihood_rolling or generate_until)", ot)
	}
	if n, ok := keys["description"]; ok {
		d := &docField{f: f, name: "description", node: n}
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!null") {
			return nil, f.errf(n, "description", "want a string")
		}
		if n.Value != "" && n.Tag != "!!null" {
			if err := d.compile(n.Value, false); err != nil {
				return nil, err
			}
			t.DocToDescription = d.text
		}
	}
	for _, k := range []string{"target_delimiter", "fewshot_delimiter"} {
		if n, ok := keys[k]; ok {
			if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
				return nil, f.errf(n, k, "want a string")
			}
			if k == "target_delimiter" {
				t.TargetDelimiter = n.Value
			} else {
				t.FewshotDelimiter = n.Value
			}
		}
	}
	if n, ok := keys["num_fewshot"]; ok {
		v, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil || v < 0 {
			return nil, f.errf(n, "num_fewshot", "want a whole number ≥ 0")
		}
		t.NumFewshot = v
	}
	if err := f.metrics(keys["metric_list"], t); err != nil {
		return nil, err
	}
	if err := f.generation(keys, t); err != nil {
		return nil, err
	}
	if t.splitFile, err = f.source(keys); err != nil {
		return nil, err
	}
	t.RowsFunc = func(_, split string) ([]Row, error) {
		path, err := t.splitFile(split)
		if err != nil {
			return nil, err
		}
		return readDataFile(path)
	}
	if err := f.docFuncs(t, keys); err != nil {
		return nil, err
	}
	return t, nil
}

var taskKeys = map[string]bool{
	"task": true, "output_type": true, "dataset_path": true, "dataset_kwargs": true,
	"test_split": true, "validation_split": true, "training_split": true, "fewshot_split": true,
	"doc_to_text": true, "doc_to_choice": true, "doc_to_target": true,
	"target_delimiter": true, "fewshot_delimiter": true, "metric_list": true,
	"num_fewshot": true, "description": true, "generation_kwargs": true, "filter_list": true,
}

// str returns a string-valued key ("" when absent and not required).
func (f *taskFile) str(keys map[string]*yaml.Node, key string, required bool) (string, error) {
	n, ok := keys[key]
	if !ok {
		if required {
			return "", fmt.Errorf("%s field %q: missing", f.path, key)
		}
		return "", nil
	}
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!null") {
		return "", f.errf(n, key, "want a string")
	}
	if n.Tag == "!!null" {
		return "", nil
	}
	return n.Value, nil
}

var metricsFor = map[OutputType][]string{
	MultipleChoice:       {MetricAcc, MetricAccNorm, MetricF1},
	LoglikelihoodRolling: {MetricWordPerplexity, MetricBytePerplexity, MetricBitsPerByte},
	Loglikelihood:        {MetricPerplexity, MetricAcc},
	GenerateUntil:        {MetricExactMatch},
}

func (f *taskFile) metrics(n *yaml.Node, t *Task) error {
	ot := t.OutputType
	if n == nil {
		if ot == MultipleChoice {
			t.Metrics = []string{MetricAcc, MetricAccNorm}
		} else {
			t.Metrics = append([]string(nil), metricsFor[ot]...)
		}
		return nil
	}
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return f.errf(n, "metric_list", "want a list of {metric: NAME} entries")
	}
	for _, e := range n.Content {
		if e.Kind != yaml.MappingNode {
			return f.errf(e, "metric_list", "want an entry {metric: NAME}")
		}
		name := ""
		var match MatchOptions
		var matchKey *yaml.Node
		for i := 0; i+1 < len(e.Content); i += 2 {
			k, v := e.Content[i], e.Content[i+1]
			field := "metric_list." + k.Value
			switch k.Value {
			case "metric":
				if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
					return f.errf(v, field, "want a metric name")
				}
				name = v.Value
			case "aggregation", "higher_is_better":
			case "ignore_case", "ignore_punctuation", "ignore_numbers":
				b, err := f.boolean(v, field)
				if err != nil {
					return err
				}
				switch k.Value {
				case "ignore_case":
					match.IgnoreCase = b
				case "ignore_punctuation":
					match.IgnorePunctuation = b
				default:
					match.IgnoreNumbers = b
				}
				matchKey = k
			case "regexes_to_ignore":
				if v.Kind != yaml.SequenceNode {
					return f.errf(v, field, "want a list of regular expressions")
				}
				for _, p := range v.Content {
					if p.Kind != yaml.ScalarNode || p.Tag != "!!str" {
						return f.errf(p, field, "want a regular expression")
					}
					re, err := CompilePython(p.Value)
					if err != nil {
						return f.errf(p, field, "%v", err)
					}
					match.RegexesToIgnore = append(match.RegexesToIgnore, re)
				}
				matchKey = k
			default:
				return f.errf(k, field, "unknown or unsupported metric option")
			}
		}
		if name == "" {
			return f.errf(e, "metric_list.metric", "missing")
		}
		if !contains(metricsFor[ot], name) {
			return f.errf(e, "metric_list.metric", "metric %q is not supported for %s (supported: %s)", name, ot, strings.Join(metricsFor[ot], ", "))
		}
		if contains(t.Metrics, name) {
			return f.errf(e, "metric_list.metric", "metric %q given twice", name)
		}
		if matchKey != nil && name != MetricExactMatch {
			return f.errf(matchKey, "metric_list."+matchKey.Value, "an option of exact_match, not of %s", name)
		}
		if name == MetricExactMatch {
			t.Match = match
		}
		t.Metrics = append(t.Metrics, name)
	}
	return nil
}

func (f *taskFile) boolean(n *yaml.Node, field string) (bool, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		return false, f.errf(n, field, "want true or false")
	}
	return n.Value == "true" || n.Value == "True" || n.Value == "TRUE", nil
}

func (f *taskFile) number(n *yaml.Node, field string, lo, hi float64) (float64, error) {
	v, err := strconv.ParseFloat(n.Value, 64)
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || err != nil || v < lo || v > hi {
		return 0, f.errf(n, field, "want a number from %g to %g", lo, hi)
	}
	return v, nil
}

// generation reads generation_kwargs and filter_list.
func (f *taskFile) generation(keys map[string]*yaml.Node, t *Task) error {
	for _, k := range []string{"generation_kwargs", "filter_list"} {
		if n, ok := keys[k]; ok && t.OutputType != GenerateUntil {
			return f.errf(n, k, "only generate_until tasks use it (this one is %s)", t.OutputType)
		}
	}
	if n, ok := keys["generation_kwargs"]; ok {
		if n.Kind != yaml.MappingNode {
			return f.errf(n, "generation_kwargs", "want a mapping")
		}
		sample := false
		temperature := 0.0
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			field := "generation_kwargs." + k.Value
			var err error
			switch k.Value {
			case "until":
				t.Until, err = f.strings(v, field)
			case "max_gen_toks":
				var x float64
				x, err = f.number(v, field, 1, 1<<20)
				t.MaxGenTokens = int(x)
				if err == nil && v.Tag != "!!int" {
					err = f.errf(v, field, "want a whole number")
				}
			case "do_sample":
				sample, err = f.boolean(v, field)
			case "temperature":
				temperature, err = f.number(v, field, 0, 2)
			case "top_p":
				t.TopP, err = f.number(v, field, 0, 1)
			default:
				err = f.errf(k, field, "unknown or unsupported generation option (until, max_gen_toks, do_sample, temperature and top_p are)")
			}
			if err != nil {
				return err
			}
		}
		// As Hugging Face's generate: without do_sample the reply is greedy.
		if sample {
			t.Temperature = temperature
			if t.Temperature == 0 {
				t.Temperature = 1
			}
		} else {
			t.TopP = 0
		}
	}
	if n, ok := keys["filter_list"]; ok {
		if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
			return f.errf(n, "filter_list", "want a list of {name, filter} entries")
		}
		for _, e := range n.Content {
			c, err := f.filterChain(e)
			if err != nil {
				return err
			}
			for _, prev := range t.Filters {
				if prev.Name == c.Name {
					return f.errf(e, "filter_list.name", "filter %q given twice", c.Name)
				}
			}
			t.Filters = append(t.Filters, c)
		}
	}
	return nil
}

// strings reads a string or a list of strings.
func (f *taskFile) strings(n *yaml.Node, field string) ([]string, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		return []string{n.Value}, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, f.errf(n, field, "want a string or a list of strings")
	}
	out := []string{}
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode || c.Tag != "!!str" {
			return nil, f.errf(c, field, "want a string")
		}
		out = append(out, c.Value)
	}
	return out, nil
}

func (f *taskFile) filterChain(e *yaml.Node) (FilterChain, error) {
	var c FilterChain
	if e.Kind != yaml.MappingNode {
		return c, f.errf(e, "filter_list", "want an entry {name: NAME, filter: [...]}")
	}
	var steps *yaml.Node
	for i := 0; i+1 < len(e.Content); i += 2 {
		k, v := e.Content[i], e.Content[i+1]
		switch k.Value {
		case "name":
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" || v.Value == "" {
				return c, f.errf(v, "filter_list.name", "want a name")
			}
			c.Name = v.Value
		case "filter":
			steps = v
		default:
			return c, f.errf(k, "filter_list."+k.Value, "unknown key (name and filter are known)")
		}
	}
	if c.Name == "" || steps == nil {
		return c, f.errf(e, "filter_list", "an entry needs a name and a filter list")
	}
	if steps.Kind != yaml.SequenceNode || len(steps.Content) == 0 {
		return c, f.errf(steps, "filter_list.filter", "want a list of {function: NAME, ...} steps")
	}
	for _, sn := range steps.Content {
		if sn.Kind != yaml.MappingNode {
			return c, f.errf(sn, "filter_list.filter", "want a step {function: NAME, ...}")
		}
		step := FilterStep{Fallback: "[invalid]"}
		pattern := `#### (\-?[0-9\.\,]+)` // the harness's default
		var patternNode *yaml.Node
		for i := 0; i+1 < len(sn.Content); i += 2 {
			k, v := sn.Content[i], sn.Content[i+1]
			field := "filter_list.filter." + k.Value
			switch k.Value {
			case "function":
				if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
					return c, f.errf(v, field, "want a function name")
				}
				step.Function = v.Value
			case "regex_pattern":
				if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
					return c, f.errf(v, field, "want a regular expression")
				}
				pattern, patternNode = v.Value, v
			case "group_select":
				g, err := strconv.Atoi(v.Value)
				if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || err != nil {
					return c, f.errf(v, field, "want a whole number (negative counts from the last match)")
				}
				step.Group = g
			case "fallback":
				if v.Kind != yaml.ScalarNode {
					return c, f.errf(v, field, "want a string")
				}
				step.Fallback = v.Value
			default:
				return c, f.errf(k, field, "unknown or unsupported filter option")
			}
		}
		switch step.Function {
		case FilterRegex:
			re, err := CompilePython(pattern)
			if err != nil {
				return c, f.errf(patternNode, "filter_list.filter.regex_pattern", "%v", err)
			}
			step.Regex = re
		case FilterTakeFirst, FilterRemoveWhitespace, FilterLowercase, FilterUppercase:
			if patternNode != nil {
				return c, f.errf(patternNode, "filter_list.filter.regex_pattern", "only the regex function takes a pattern")
			}
		case "":
			return c, f.errf(sn, "filter_list.filter.function", "missing")
		default:
			return c, f.errf(sn, "filter_list.filter.function", "unknown or unsupported filter %q (regex, take_first, remove_whitespace, lowercase and uppercase are supported)", step.Function)
		}
		c.Steps = append(c.Steps, step)
	}
	return c, nil
}

// source returns the resolver of a split's data file.
func (f *taskFile) source(keys map[string]*yaml.Node) (func(split string) (string, error), error) {
	files := map[string]string{} // split → path
	var order []string
	if kw, ok := keys["dataset_kwargs"]; ok {
		if kw.Kind != yaml.MappingNode {
			return nil, f.errf(kw, "dataset_kwargs", "want a mapping with data_files")
		}
		for i := 0; i+1 < len(kw.Content); i += 2 {
			k, v := kw.Content[i], kw.Content[i+1]
			if k.Value != "data_files" {
				return nil, f.errf(k, "dataset_kwargs."+k.Value, "unknown or unsupported key (only data_files is)")
			}
			if v.Kind != yaml.MappingNode || len(v.Content) == 0 {
				return nil, f.errf(v, "dataset_kwargs.data_files", "want a mapping of split names to files")
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				s, p := v.Content[j], v.Content[j+1]
				if p.Kind != yaml.ScalarNode || p.Tag != "!!str" || p.Value == "" {
					return nil, f.errf(p, "dataset_kwargs.data_files."+s.Value, "want one file name")
				}
				if _, dup := files[s.Value]; dup {
					return nil, f.errf(s, "dataset_kwargs.data_files."+s.Value, "split given twice")
				}
				if _, err := dataFormat(p.Value); err != nil {
					return nil, f.errf(p, "dataset_kwargs.data_files."+s.Value, "%v", err)
				}
				if st, err := os.Stat(f.rel(p.Value)); err != nil || st.IsDir() {
					return nil, f.errf(p, "dataset_kwargs.data_files."+s.Value, "data file %s is missing", f.rel(p.Value))
				}
				files[s.Value] = f.rel(p.Value)
				order = append(order, s.Value)
			}
		}
	}
	folder := ""
	if len(files) == 0 {
		n, ok := keys["dataset_path"]
		if !ok {
			return nil, fmt.Errorf("%s field %q: missing (a local folder of SPLIT.jsonl files, or dataset_kwargs.data_files)", f.path, "dataset_path")
		}
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" || n.Value == "" {
			return nil, f.errf(n, "dataset_path", "want a folder name")
		}
		folder = f.rel(n.Value)
		if st, err := os.Stat(folder); err != nil || !st.IsDir() {
			return nil, f.errf(n, "dataset_path", "%s is not a local folder (Hugging Face datasets are not downloaded; use dataset_kwargs.data_files)", folder)
		}
	}
	// Later entries win: the harness takes few-shot examples from
	// fewshot_split before training_split, and Dokja's few-shot pool is
	// the "train" split.
	roles := map[string]string{}
	for _, kr := range []struct{ key, role string }{
		{"validation_split", "dev"}, {"validation_split", "validation"}, {"test_split", "test"},
		{"training_split", "train"}, {"fewshot_split", "train"},
	} {
		n, ok := keys[kr.key]
		if !ok {
			continue
		}
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" || n.Value == "" {
			return nil, f.errf(n, kr.key, "want a split name")
		}
		if _, ok := files[n.Value]; folder == "" && !ok {
			return nil, f.errf(n, kr.key, "split %q is not in dataset_kwargs.data_files (%s)", n.Value, strings.Join(order, ", "))
		}
		roles[kr.role] = n.Value
	}
	return func(split string) (string, error) {
		name := split
		if s, ok := roles[split]; ok {
			name = s
		} else if _, ok := files[split]; !ok && split == "dev" && folder == "" {
			name = "validation" // Dokja's default split, in the harness's words
		}
		var path string
		if folder == "" {
			p, ok := files[name]
			if !ok {
				return "", fmt.Errorf("%s: split %q (%q) is not in dataset_kwargs.data_files (splits: %s)", f.path, split, name, strings.Join(order, ", "))
			}
			path = p
		} else {
			var present []string
			for _, ext := range []string{".jsonl", ".json", ".tsv", ".csv"} {
				p := filepath.Join(folder, name+ext)
				if _, err := os.Stat(p); err == nil {
					present = append(present, p)
				}
			}
			if len(present) != 1 {
				have, _ := filepath.Glob(filepath.Join(folder, "*.*"))
				for i := range have {
					have[i] = filepath.Base(have[i])
				}
				if len(present) == 0 {
					return "", fmt.Errorf("%s: split %q: no %s.jsonl, .tsv or .csv in %s (files: %s)", f.path, split, name, folder, orNone(have))
				}
				return "", fmt.Errorf("%s: split %q: more than one file for it in %s: %s", f.path, split, folder, strings.Join(present, ", "))
			}
			path = present[0]
		}
		return path, nil
	}, nil
}

func (f *taskFile) rel(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(f.dir, p)
}

func dataFormat(path string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".jsonl", ".json":
		return "jsonl", nil
	case ".tsv", ".csv":
		return ext[1:], nil
	default:
		return "", fmt.Errorf("%s: want a .jsonl, .tsv or .csv file", path)
	}
}

// readDataFile reads a data file's rows.
func readDataFile(path string) ([]Row, error) {
	format, err := dataFormat(path)
	if err != nil {
		return nil, err
	}
	switch format {
	case "tsv":
		return ReadTSV(path, nil)
	case "csv":
		return readCSV(path)
	}
	return readJSONL(path)
}

func readCSV(path string) ([]Row, error) {
	data, err := readLimited(path, maxTSVBytes)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	var rows []Row
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		row := Row{Fields: make(map[string]string, len(header)), File: path, Line: line}
		for i, h := range header {
			row.Fields[strings.TrimSpace(h)] = rec[i]
		}
		rows = append(rows, row)
	}
}

func readJSONL(path string) ([]Row, error) {
	data, err := readLimited(path, maxTSVBytes)
	if err != nil {
		return nil, err
	}
	var rows []Row
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			text = bytes.TrimPrefix(text, []byte("\ufeff"))
		}
		if len(text) == 0 {
			continue
		}
		rec, err := decodeRecord(text)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		row := Row{Fields: make(map[string]string, len(rec)+1), File: path, Line: line}
		for k, v := range rec {
			if s, ok := v.(string); ok {
				row.Fields[k] = s
			} else {
				b, _ := json.Marshal(v)
				row.Fields[k] = string(b)
			}
		}
		row.Fields[recordKey] = string(text)
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no records", path)
	}
	return rows, nil
}

func decodeRecord(text []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(text))
	d.UseNumber()
	var rec map[string]any
	if err := d.Decode(&rec); err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, errors.New("want a JSON object")
	}
	if d.More() {
		return nil, errors.New("more than one JSON value on the line")
	}
	return rec, nil
}

// record returns a row's values for templates.
func record(r Row) map[string]any {
	if js, ok := r.Fields[recordKey]; ok {
		if rec, err := decodeRecord([]byte(js)); err == nil {
			return rec
		}
	}
	out := make(map[string]any, len(r.Fields))
	for k, v := range r.Fields {
		out[k] = v
	}
	return out
}

// docField is one of doc_to_text, doc_to_choice and doc_to_target.
type docField struct {
	f      *taskFile
	name   string
	node   *yaml.Node
	column string          // a plain column name
	tmpl   *jinja.Template // a template
	json   bool            // tmpl renders its value as JSON
	list   []*docField     // doc_to_choice's YAML list
	index  *int            // doc_to_target's int
}

func (f *taskFile) docField(keys map[string]*yaml.Node, name string, list bool) (*docField, error) {
	n, ok := keys[name]
	if !ok {
		return nil, nil
	}
	d := &docField{f: f, name: name, node: n}
	if n.Tag != "" && !strings.HasPrefix(n.Tag, "!!") {
		return nil, f.errf(n, name, "YAML tag %s is not supported (Python functions cannot run here; write a Jinja template)", n.Tag)
	}
	switch {
	case list && n.Kind == yaml.SequenceNode:
		if len(n.Content) == 0 {
			return nil, f.errf(n, name, "an empty list")
		}
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode || c.Tag == "!!null" {
				return nil, f.errf(c, name, "want a list of strings")
			}
			item := &docField{f: f, name: name, node: c}
			if err := item.compile(c.Value, false); err != nil {
				return nil, err
			}
			d.list = append(d.list, item)
		}
		return d, nil
	case n.Kind != yaml.ScalarNode:
		return nil, f.errf(n, name, "want a string")
	case n.Tag == "!!int":
		i, err := strconv.Atoi(n.Value)
		if name != "doc_to_target" || err != nil {
			return nil, f.errf(n, name, "want a string")
		}
		d.index = &i
		return d, nil
	case n.Tag != "!!str":
		return nil, f.errf(n, name, "want a string")
	}
	// The harness reads a column when the string names one, and renders
	// it as a template otherwise; which it is shows only in a row.
	if isColumnName(n.Value) {
		d.column = n.Value
		if list {
			return d, nil
		}
	}
	return d, d.compile(n.Value, list)
}

func isColumnName(s string) bool {
	if s == "" {
		return false
	}
	return !strings.ContainsAny(s, "{}%#\n")
}

// compile compiles a template; asJSON asks for its single expression's
// value as JSON (doc_to_choice).
func (d *docField) compile(src string, asJSON bool) error {
	if asJSON {
		s := strings.TrimSpace(src)
		inner := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(s, "{{"), "}}"))
		if !strings.HasPrefix(s, "{{") || !strings.HasSuffix(s, "}}") || strings.Contains(inner, "{{") || strings.Contains(inner, "}}") || strings.Contains(inner, "{%") {
			return d.f.errf(d.node, d.name, "a template here must be one {{ expression }} giving a list")
		}
		src = "{{ (" + inner + ") | tojson }}"
		d.json = true
	}
	t, err := safeCompile(src)
	if err != nil {
		return d.f.errf(d.node, d.name, "template: %v", err)
	}
	d.tmpl = t
	return nil
}

func (d *docField) rowErr(r Row, format string, args ...any) error {
	return &FieldError{File: r.File, Line: r.Line, Field: d.name, Err: fmt.Errorf("(%s line %d) %s", d.f.path, d.node.Line, fmt.Sprintf(format, args...))}
}

// value evaluates the field for a row: a string, or for columns and JSON
// templates a typed value.
func (d *docField) value(r Row) (any, error) {
	if d.index != nil {
		return *d.index, nil
	}
	rec := record(r)
	if d.column != "" {
		if v, ok := rec[d.column]; ok {
			return v, nil
		}
		if d.tmpl == nil {
			return nil, d.rowErr(r, "no column %q in the row (columns: %s)", d.column, columnList(rec))
		}
	}
	vars := rec
	if _, ok := rec["doc"]; !ok {
		vars = make(map[string]any, len(rec)+1)
		for k, v := range rec {
			vars[k] = v
		}
		vars["doc"] = rec
	}
	out, err := safeRender(d.tmpl, vars)
	if err != nil {
		return nil, d.rowErr(r, "template: %v", err)
	}
	if d.json {
		dec := json.NewDecoder(strings.NewReader(out))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, d.rowErr(r, "template value %s: %v", out, err)
		}
		return v, nil
	}
	return out, nil
}

func columnList(rec map[string]any) string {
	var cols []string
	for k := range rec {
		cols = append(cols, k)
	}
	sort.Strings(cols)
	return strings.Join(cols, ", ")
}

func (d *docField) text(r Row) (string, error) {
	v, err := d.value(r)
	if err != nil {
		return "", err
	}
	return scalarText(v), nil
}

func scalarText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	case json.Number:
		return v.String()
	case int:
		return strconv.Itoa(v)
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

func (d *docField) choices(r Row) ([]string, error) {
	if d.list != nil {
		out := make([]string, len(d.list))
		for i, item := range d.list {
			s, err := item.text(r)
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	}
	v, err := d.value(r)
	if err != nil {
		return nil, err
	}
	if s, ok := v.(string); ok && d.column != "" && d.tmpl == nil {
		// A column of a TSV or CSV file holding a JSON list.
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if dec.Decode(&v) != nil {
			return nil, d.rowErr(r, "column %q holds %q, not a list", d.column, s)
		}
	}
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, d.rowErr(r, "want a non-empty list of choices, got %s", scalarText(v))
	}
	out := make([]string, len(list))
	for i, c := range list {
		out[i] = scalarText(c)
	}
	return out, nil
}

func (d *docField) target(r Row, choices []string) (int, error) {
	v, err := d.value(r)
	if err != nil {
		return 0, err
	}
	return d.choiceIndex(r, v, choices)
}

// choiceIndex reads a target value as an index into choices or the text
// of one of them.
func (d *docField) choiceIndex(r Row, v any, choices []string) (int, error) {
	var s string
	switch v := v.(type) {
	case int:
		return d.inRange(r, v, choices)
	case json.Number: // a JSON-lines number is an index, as in the harness
		i, err := strconv.Atoi(v.String())
		if err != nil {
			return 0, d.rowErr(r, "%s is not an index", v)
		}
		return d.inRange(r, i, choices)
	case string:
		s = v
	default:
		return 0, d.rowErr(r, "want an index or a choice, got %s", scalarText(v))
	}
	// As the harness: a template's digits are an index; a column's string
	// is looked up among the choices.
	if i, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && (d.column == "" || !contains(choices, s)) {
		return d.inRange(r, i, choices)
	}
	for i, c := range choices {
		if s == c {
			return i, nil
		}
	}
	for i, c := range choices {
		if strings.TrimSpace(s) == strings.TrimSpace(c) {
			return i, nil
		}
	}
	return 0, d.rowErr(r, "%q is neither an index nor one of the choices %q", s, choices)
}

// references is a generate_until or loglikelihood item's gold answers:
// the target's text, each of a list's, or, with doc_to_choice, the
// choices an index names.
func (d *docField) references(r Row, choice *docField) ([]string, error) {
	v, err := d.value(r)
	if err != nil {
		return nil, err
	}
	vals := []any{v}
	if list, ok := v.([]any); ok {
		if len(list) == 0 {
			return nil, d.rowErr(r, "an empty list of answers")
		}
		vals = list
	}
	var choices []string
	if choice != nil {
		if choices, err = choice.choices(r); err != nil {
			return nil, err
		}
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if choices == nil {
			out = append(out, scalarText(v))
			continue
		}
		i, err := d.choiceIndex(r, v, choices)
		if err != nil {
			return nil, err
		}
		out = append(out, choices[i])
	}
	return out, nil
}

func (d *docField) inRange(r Row, i int, choices []string) (int, error) {
	if i < 0 || i >= len(choices) {
		return 0, d.rowErr(r, "target %d is not one of the %d choices", i, len(choices))
	}
	return i, nil
}

func (f *taskFile) docFuncs(t *Task, keys map[string]*yaml.Node) error {
	text, err := f.docField(keys, "doc_to_text", false)
	if err != nil {
		return err
	}
	target, err := f.docField(keys, "doc_to_target", false)
	if err != nil {
		return err
	}
	if t.OutputType == LoglikelihoodRolling {
		// The harness scores doc_to_target as the document.
		if _, ok := keys["doc_to_choice"]; ok {
			return f.errf(keys["doc_to_choice"], "doc_to_choice", "not used by loglikelihood_rolling")
		}
		if target == nil || target.index != nil {
			return fmt.Errorf("%s field %q: loglikelihood_rolling needs doc_to_target, a column or template giving the document", f.path, "doc_to_target")
		}
		t.DocToText = target.text
		return nil
	}
	choice, err := f.docField(keys, "doc_to_choice", true)
	if err != nil {
		return err
	}
	if t.OutputType == GenerateUntil || t.OutputType == Loglikelihood {
		for name, d := range map[string]*docField{"doc_to_text": text, "doc_to_target": target} {
			if d == nil {
				return fmt.Errorf("%s field %q: missing (%s needs it)", f.path, name, t.OutputType)
			}
		}
		t.DocToText = text.text
		t.DocToReferences = func(r Row) ([]string, error) { return target.references(r, choice) }
		return nil
	}
	for name, d := range map[string]*docField{"doc_to_text": text, "doc_to_choice": choice, "doc_to_target": target} {
		if d == nil {
			return fmt.Errorf("%s field %q: missing (multiple_choice needs it)", f.path, name)
		}
	}
	t.DocToText = text.text
	t.DocToChoice = choice.choices
	// Task.Docs calls DocToChoice before DocToTarget; the target, when the
	// text of a choice, needs the choices again.
	t.DocToTarget = func(r Row) (int, error) {
		cs, err := choice.choices(r)
		if err != nil {
			return 0, err
		}
		return target.target(r, cs)
	}
	return nil
}

// safeCompile and safeRender turn a panic of the template engine on odd
// input into an error.
func safeCompile(src string) (t *jinja.Template, err error) {
	defer func() {
		if p := recover(); p != nil {
			t, err = nil, fmt.Errorf("template engine failed: %v", p)
		}
	}()
	return jinja.Compile(src)
}

func safeRender(t *jinja.Template, vars map[string]any) (out string, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = "", fmt.Errorf("template engine failed: %v", p)
		}
	}()
	return t.Render(vars)
}
