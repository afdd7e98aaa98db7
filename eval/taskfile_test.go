package eval

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The golden check: task files that re-express built-in KoBEST tasks (the
// ports of the harness's own task files) give the same items.
func TestTaskFileMatchesBuiltin(t *testing.T) {
	for _, c := range []struct{ file, builtin string }{
		{"kobest_copa.yaml", "kobest_copa"},
		{"kobest_boolq.yaml", "kobest_boolq"},
		{"kobest_hellaswag.yaml", "kobest_hellaswag"},
	} {
		t.Run(c.builtin, func(t *testing.T) {
			yt, err := LoadTaskFile(filepath.Join("testdata", "tasks", c.file))
			if err != nil {
				t.Fatal(err)
			}
			want, err := task(t, c.builtin).Load("testdata/kobest", "dev")
			if err != nil {
				t.Fatal(err)
			}
			// "dev" resolves to validation_split; the data dir is not used.
			got, err := yt.Load("unused", "dev")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) || len(want) == 0 {
				t.Fatalf("%d items, built-in %d", len(got), len(want))
			}
			for i := range want {
				g, w := got[i], want[i]
				if g.Text != w.Text || !reflect.DeepEqual(g.Choices, w.Choices) || g.Target != w.Target || g.Line != w.Line {
					t.Errorf("item %d:\n got %q %q %d (line %d)\nwant %q %q %d (line %d)", i+1, g.Text, g.Choices, g.Target, g.Line, w.Text, w.Choices, w.Target, w.Line)
				}
			}
			if yt.OutputType != MultipleChoice || yt.TargetDelimiter != " " || yt.FewshotDelimiter != "\n\n" {
				t.Errorf("task %+v", yt)
			}
		})
	}
	copa, _ := LoadTaskFile("testdata/tasks/kobest_copa.yaml")
	if !reflect.DeepEqual(copa.Metrics, []string{MetricAcc, MetricF1}) || copa.Name != "kobest_copa_yaml" {
		t.Errorf("name %q metrics %v", copa.Name, copa.Metrics)
	}
	// Few-shot examples come from the train split, here training_split.
	boolq, _ := LoadTaskFile("testdata/tasks/kobest_boolq.yaml")
	got, err := boolq.Load("", "train")
	want, _ := task(t, "kobest_boolq").Load("testdata/kobest", "train")
	if err != nil || len(got) != len(want) {
		t.Fatalf("train split: %d items (%v), built-in %d", len(got), err, len(want))
	}
	if p, err := boolq.SplitFile("", "dev"); err != nil || p != filepath.Join("testdata", "tasks", "..", "kobest", "BoolQ", "dev.tsv") {
		t.Errorf("SplitFile: %q %v", p, err)
	}
	if p, _ := task(t, "kobest_boolq").SplitFile("data", "dev"); p != filepath.Join("data", "BoolQ", "dev.tsv") {
		t.Errorf("built-in SplitFile: %q", p)
	}
	// Lookup reads a task file by path.
	if ts, err := Lookup("testdata/tasks/kobest_copa.yaml"); err != nil || len(ts) != 1 || ts[0].Name != "kobest_copa_yaml" {
		t.Errorf("Lookup: %v %v", ts, err)
	}
}

func TestTaskFileJSONL(t *testing.T) {
	cases := []struct {
		file, split string
		ot          OutputType
		metrics     []string
		fewshot     int
		docs        []Doc
	}{
		{"mc_literal.yaml", "test", MultipleChoice, []string{MetricAcc, MetricAccNorm}, 3, []Doc{
			{ID: "1", Line: 1, Text: "질문: 하늘은 무슨 색인가?\n답:", Choices: []string{"아니오", "예"}, Target: 1},
			{ID: "2", Line: 2, Text: "질문: 불은 차가운가?\n답:", Choices: []string{"아니오", "예"}, Target: 0},
			{ID: "3", Line: 4, Text: "질문: 물은 젖었는가?\n답:", Choices: []string{"아니오", "예"}, Target: 1},
		}},
		// A split named directly rather than by role.
		{"mc_literal.yaml", "validation", MultipleChoice, nil, 3, nil},
		// doc_to_target names a choice's text: the string "2" is the first
		// choice of the second item, not index 2.
		{"mc_column.yaml", "test", MultipleChoice, []string{MetricAcc, MetricAccNorm}, 0, []Doc{
			{ID: "1", Line: 1, Text: "2+2", Choices: []string{"3", "4", "5"}, Target: 1},
			{ID: "2", Line: 2, Text: "1+1", Choices: []string{"2", "1", "0"}, Target: 0},
			// A JSON number is an index even when a choice has its text.
			{ID: "3", Line: 3, Text: "0+1", Choices: []string{"1", "0"}, Target: 1},
		}},
		// CSV with a quoted line break; doc_to_text names no column, so it
		// is a (constant) template, as in the harness.
		{"csv_task.yaml", "dev", MultipleChoice, []string{MetricF1}, 0, []Doc{
			{ID: "1", Line: 2, Text: "Answer:", Choices: []string{"a, b", "c"}, Target: 1},
			{ID: "2", Line: 3, Text: "Answer:", Choices: []string{"two\nlines", "d"}, Target: 0},
		}},
		{"rolling.yaml", "test", LoglikelihoodRolling, []string{MetricWordPerplexity, MetricBitsPerByte}, 0, []Doc{
			{ID: "1", Line: 1, Text: "= 첫째 =\n한국어 문서 하나."},
			{ID: "2", Line: 2, Text: "= 둘째 =\n두 번째 문서."},
		}},
	}
	for _, c := range cases {
		t.Run(c.file+"/"+c.split, func(t *testing.T) {
			tk, err := LoadTaskFile(filepath.Join("testdata", "tasks", c.file))
			if err != nil {
				t.Fatal(err)
			}
			docs, err := tk.Load("", c.split)
			if err != nil {
				t.Fatal(err)
			}
			if tk.OutputType != c.ot || tk.NumFewshot != c.fewshot || (c.metrics != nil && !reflect.DeepEqual(tk.Metrics, c.metrics)) {
				t.Errorf("output %s fewshot %d metrics %v", tk.OutputType, tk.NumFewshot, tk.Metrics)
			}
			if c.docs == nil {
				if len(docs) != 3 {
					t.Errorf("%d docs", len(docs))
				}
				return
			}
			for i := range docs {
				docs[i].File = ""
			}
			if !reflect.DeepEqual(docs, c.docs) {
				t.Errorf("docs\n got %+v\nwant %+v", docs, c.docs)
			}
		})
	}
}

// writeTask writes a task file and a small data file into a temp dir.
func writeTask(t testing.TB, yml string) string {
	dir := t.TempDir()
	data := "{\"q\": \"a\", \"label\": 0}\n{\"q\": \"b\", \"label\": 5}\n"
	if err := os.WriteFile(filepath.Join(dir, "d.jsonl"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTaskFileErrors(t *testing.T) {
	const head = "task: t\ndataset_kwargs:\n  data_files:\n    validation: d.jsonl\n"
	const mc = head + "output_type: multiple_choice\ndoc_to_choice: [x, y]\n"
	const gen = head + "output_type: generate_until\ndoc_to_text: q\ndoc_to_target: q\n"
	cases := []struct {
		name, yml string
		load      bool     // the error comes from loading the items
		want      []string // all in the error
	}{
		{"bad jinja", mc + "doc_to_text: \"{% if q %}open\"\ndoc_to_target: 0\n", false, []string{"line 7", "doc_to_text", "template"}},
		{"unknown key", mc + "doc_to_text: q\ndoc_to_target: 0\nrepeats: 3\n", false, []string{"line 9", "repeats", "unknown"}},
		{"filters of multiple_choice", mc + "doc_to_text: q\ndoc_to_target: 0\nfilter_list: []\n", false, []string{"line 9", "filter_list", "only generate_until"}},
		{"ignored keys", mc + "doc_to_text: q\ndoc_to_target: label\ntag: x\nmetadata: {version: 1}\n", false, nil},
		{"duplicate key", mc + "doc_to_text: q\ndoc_to_text: q\n", false, []string{"line 8", "given twice"}},
		{"missing data file", "task: t\ndataset_kwargs:\n  data_files:\n    validation: nope.jsonl\noutput_type: multiple_choice\n", false, []string{"line 4", "nope.jsonl", "missing"}},
		{"missing folder", "task: t\ndataset_path: some/hub/name\noutput_type: multiple_choice\n", false, []string{"line 2", "dataset_path", "not a local folder"}},
		{"generate_until without target", head + "output_type: generate_until\ndoc_to_text: q\n", false, []string{"doc_to_target", "missing", "generate_until"}},
		{"no output_type is generate_until", head + "doc_to_text: q\ndoc_to_target: q\n", false, nil},
		{"unknown output_type", head + "output_type: greedy_until\n", false, []string{"line 5", "output_type", "greedy_until"}},
		{"generate_until", gen + "generation_kwargs:\n  until: [\"\\n\"]\n  max_gen_toks: 32\n  do_sample: false\nfilter_list:\n  - name: strict\n    filter:\n      - function: regex\n        regex_pattern: \"(\\\\d+)\"\n      - function: take_first\nmetric_list:\n  - metric: exact_match\n    ignore_case: true\n    regexes_to_ignore: [\",\"]\n", false, nil},
		{"unknown generation option", gen + "generation_kwargs:\n  num_beams: 4\n", false, []string{"line 9", "generation_kwargs.num_beams"}},
		{"max_gen_toks not a number", gen + "generation_kwargs:\n  max_gen_toks: many\n", false, []string{"line 9", "max_gen_toks", "number"}},
		{"until not strings", gen + "generation_kwargs:\n  until: {a: b}\n", false, []string{"line 9", "until"}},
		{"unknown filter", gen + "filter_list:\n  - name: f\n    filter:\n      - function: majority_vote\n", false, []string{"line 11", "majority_vote"}},
		{"lookahead regex", gen + "filter_list:\n  - name: f\n    filter:\n      - function: regex\n        regex_pattern: \"a(?=b)\"\n", false, []string{"line 12", "regex_pattern", "lookaround"}},
		{"filter without name", gen + "filter_list:\n  - filter:\n      - function: take_first\n", false, []string{"line 9", "name"}},
		{"bad ignore regex", gen + "metric_list:\n  - metric: exact_match\n    regexes_to_ignore: [\"(\"]\n", false, []string{"line 10", "regexes_to_ignore"}},
		{"exact_match for multiple_choice", mc + "doc_to_text: q\ndoc_to_target: 0\nmetric_list:\n  - metric: exact_match\n", false, []string{"line 10", "exact_match", "not supported for multiple_choice"}},
		{"generation option of loglikelihood", head + "output_type: loglikelihood\ndoc_to_text: q\ndoc_to_target: q\ngeneration_kwargs: {until: x}\n", false, []string{"line 8", "only generate_until"}},
		{"unknown metric", mc + "doc_to_text: q\ndoc_to_target: 0\nmetric_list:\n  - metric: mcc\n", false, []string{"line 10", "mcc"}},
		{"metric option", mc + "doc_to_text: q\ndoc_to_target: 0\nmetric_list:\n  - metric: acc\n    ignore_case: true\n", false, []string{"line 11", "ignore_case"}},
		{"python function", mc + "doc_to_text: !function utils.doc_to_text\ndoc_to_target: 0\n", false, []string{"line 7", "!function"}},
		{"description", mc + "doc_to_text: q\ndoc_to_target: 0\ndescription: \"다음 질문에 답하시오.\"\n", false, nil},
		{"bad description", mc + "doc_to_text: q\ndoc_to_target: 0\ndescription: \"{{ q \"\n", false, []string{"line 9", "description", "template"}},
		{"split not in files", mc + "doc_to_text: q\ndoc_to_target: 0\ntest_split: test\n", false, []string{"line 9", "test_split"}},
		{"target out of range", mc + "doc_to_text: q\ndoc_to_target: label\n", true, []string{"d.jsonl line 2", "doc_to_target", "target 5"}},
		{"target not a choice", mc + "doc_to_text: q\ndoc_to_target: \"{{ q }}\"\n", true, []string{"d.jsonl line 1", "doc_to_target", `"a"`}},
		{"choice not a list", head + "output_type: multiple_choice\ndoc_to_text: q\ndoc_to_choice: \"{{ q }}\"\ndoc_to_target: 0\n", true, []string{"d.jsonl line 1", "doc_to_choice", "list"}},
		{"unknown split", mc + "doc_to_text: q\ndoc_to_target: 0\n", true, []string{"split \"train\"", "validation"}},
		{"dev is validation", mc + "doc_to_text: q\ndoc_to_target: label\n", true, []string{"d.jsonl line 2", "target 5"}},
		{"not a mapping", "- task: t\n", false, []string{"mapping"}},
		{"yaml syntax", "task: [\n", false, []string{"task.yaml"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeTask(t, c.yml)
			tk, err := LoadTaskFile(path)
			if c.load {
				if err != nil {
					t.Fatalf("LoadTaskFile: %v", err)
				}
				split := map[string]string{"unknown split": "train", "dev is validation": "dev"}[c.name]
				if split == "" {
					split = "validation"
				}
				_, err = tk.Load("", split)
			}
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !c.load && !strings.Contains(err.Error(), "task.yaml") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func FuzzLoadTaskFile(f *testing.F) {
	for _, name := range []string{"kobest_copa.yaml", "mc_literal.yaml", "rolling.yaml", "gen.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", "tasks", name))
		if err != nil {
			f.Fatal(err)
		}
		yml := strings.ReplaceAll(strings.ReplaceAll(string(data), "../kobest/COPA/dev.tsv", "d.jsonl"), "dataset_path: mc\n", "dataset_path: .\n")
		f.Add(strings.ReplaceAll(yml, "dataset_path: gen\n", "dataset_kwargs: {data_files: {validation: d.jsonl, train: d.jsonl}}\n"))
	}
	f.Fuzz(func(t *testing.T, yml string) {
		// A hang shows as a crash with the input and every stack.
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				buf := make([]byte, 1<<20)
				panic(fmt.Sprintf("LoadTaskFile hung on %q\n%s", yml, buf[:runtime.Stack(buf, true)]))
			}
		}()
		tk, err := LoadTaskFile(writeTask(t, yml))
		if err != nil {
			return
		}
		for _, split := range []string{"dev", "validation", "test", "train", "d"} {
			tk.Load("", split)
		}
	})
}
