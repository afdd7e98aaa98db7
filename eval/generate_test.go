package eval

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/dokja/dokja/infer"
	"github.com/dokja/dokja/serve"
)

// The examples of Hugging Face evaluate's exact_match metric card, which
// the harness's exact_match ports: predictions, references, options and
// the scores the card prints.
func TestExactMatchGolden(t *testing.T) {
	refs := []string{"the cat", "theater", "YELLING", "agent007"}
	preds := []string{"cat?", "theater", "yelling", "agent"}
	res := func(p ...string) []*regexp.Regexp {
		var out []*regexp.Regexp
		for _, s := range p {
			out = append(out, regexp.MustCompile(s))
		}
		return out
	}
	cases := []struct {
		opt        MatchOptions
		refs, pred []string
		want       float64
	}{
		{MatchOptions{}, refs, preds, 0.25},
		{MatchOptions{RegexesToIgnore: res("the ", "yell"), IgnoreCase: true, IgnorePunctuation: true}, refs, preds, 0.5},
		{MatchOptions{RegexesToIgnore: res("the ", "yell", "YELL"), IgnoreCase: true, IgnorePunctuation: true}, refs, preds, 0.75},
		{MatchOptions{RegexesToIgnore: res("the ", "yell", "YELL"), IgnoreCase: true, IgnorePunctuation: true, IgnoreNumbers: true}, refs, preds, 1},
		{MatchOptions{}, []string{"The cat sat on the mat.", "Theaters are great.", "It's like comparing oranges and apples."},
			[]string{"The cat sat on the mat?", "Theaters are great.", "It's like comparing apples and oranges."}, 1.0 / 3},
	}
	for i, c := range cases {
		var hits float64
		for j := range c.refs {
			if c.opt.Match(c.pred[j], c.refs[j]) {
				hits++
			}
		}
		if got := hits / float64(len(c.refs)); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("case %d: exact match %v, want %v", i, got, c.want)
		}
	}
}

// The regex filter follows Python's re.findall: the whole match without
// groups, group 1 with one, the first non-empty group with several;
// group_select picks among the matches (negative from the end); the
// fallback when nothing matches.
func TestRegexFilter(t *testing.T) {
	cases := []struct {
		pattern string
		group   int
		in      string
		want    string
	}{
		{`#### (\-?[0-9\.\,]+)`, 0, "3 + 4 = 7\n#### 7", "7"},
		{`#### (\-?[0-9\.\,]+)`, 0, "답은 7", "[invalid]"},
		{`(-?[$0-9.,]{2,})|(-?[0-9]+)`, -1, "3 더하기 4는 7", "7"},
		{`(-?[$0-9.,]{2,})|(-?[0-9]+)`, -1, "합은 $1,000입니다.", "$1,000"},
		{`(-?[$0-9.,]{2,})|(-?[0-9]+)`, 0, "12 그리고 5", "12"},
		{`[0-9]+`, 1, "1 2 3", "2"},
		{`[0-9]+`, -4, "1 2 3", "[invalid]"},
		{`답: (\w+)`, 0, "답: 서울입니다", "서울입니다"}, // \w matches Hangul, as in Python
		{`(\d+)개`, 0, "사과 ３개", "３"},          // \d matches full-width digits, as in Python
		{`정답은 (.*)`, 0, "정답은   예  ", "예"},    // stripped
	}
	for _, c := range cases {
		re, err := CompilePython(c.pattern)
		if err != nil {
			t.Fatalf("%s: %v", c.pattern, err)
		}
		chain := FilterChain{Name: "f", Steps: []FilterStep{{Function: FilterRegex, Regex: re, Group: c.group, Fallback: "[invalid]"}, {Function: FilterTakeFirst}}}
		if got := chain.Apply(c.in); got != c.want {
			t.Errorf("%s on %q: %q, want %q", c.pattern, c.in, got, c.want)
		}
	}
	ws := FilterChain{Steps: []FilterStep{{Function: FilterRemoveWhitespace}, {Function: FilterLowercase}}}
	if got := ws.Apply("  ABC"); got != " abc" {
		t.Errorf("remove_whitespace drops one leading space: %q", got)
	}
	if _, err := CompilePython(`(?<=a)b`); err == nil || !strings.Contains(err.Error(), "lookaround") {
		t.Errorf("lookbehind: %v", err)
	}
	if got := CutAtStop("정답: 7\n\n문제: 다음", []string{"문제:", "\n\n"}); got != "정답: 7" {
		t.Errorf("cut at the earliest stop: %q", got)
	}
}

// fakeChat answers generation requests with reply and records them; it
// cannot score log-likelihoods.
type fakeChat struct {
	mu    sync.Mutex
	reply func(GenRequest) (string, error)
	seen  []GenRequest
}

func (f *fakeChat) LogLikelihood(context.Context, []Request) ([]Result, error) {
	return nil, errors.New("fakeChat scores nothing")
}

func (f *fakeChat) Generate(_ context.Context, reqs []GenRequest) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(reqs))
	for i, r := range reqs {
		f.seen = append(f.seen, r)
		s, err := f.reply(r)
		if err != nil {
			return nil, err
		}
		out[i] = CutAtStop(s, r.Until)
	}
	return out, nil
}

// arithReplies answers the gen.yaml items: the first right in gsm8k form,
// the second with the number only, the third with a thousands separator,
// the fourth wrong; the text after a stop string is dropped.
func arithReplies(r GenRequest) (string, error) {
	q := r.Messages[len(r.Messages)-1].Content
	switch {
	case strings.Contains(q, "사과 3개"):
		return "3 더하기 4는 7입니다.\n#### 7\n\n문제: 다음 문제 #### 99", nil
	case strings.Contains(q, "연필"):
		return "정답은 12", nil
	case strings.Contains(q, "동전"):
		return "500 × 2\n#### 1,000", nil
	case strings.Contains(q, "곱하기"):
		return "#### 5", nil
	}
	return "", errors.New("unknown item: " + q)
}

func loadGenTask(t *testing.T) TaskData {
	t.Helper()
	tk, err := LoadTaskFile("testdata/tasks/gen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data, err := LoadTaskData([]*Task{tk}, "", "dev", "", "", true)
	if err != nil {
		t.Fatal(err)
	}
	return data[0]
}

// A generate_until task file: prompts as the harness builds them (the
// description as the system message, one solved example, the item),
// replies scored by exact match after each filter chain.
func TestGenerateTask(t *testing.T) {
	td := loadGenTask(t)
	if td.Task.OutputType != GenerateUntil || len(td.Docs) != 4 || len(td.Fewshot) != 2 || td.Task.MaxGenTokens != 24 {
		t.Fatalf("task %+v with %d items", td.Task, len(td.Docs))
	}
	for _, multiturn := range []bool{false, true} {
		fc := &fakeChat{reply: arithReplies}
		rep, err := Evaluate(t.Context(), fc, []TaskData{td}, Options{NumFewshot: 1, Seed: 3, FewshotAsMultiturn: multiturn})
		if err != nil {
			t.Fatal(err)
		}
		tr := rep.Tasks[0]
		got := map[string]float64{}
		for _, m := range tr.Metrics {
			got[m.Name()] = m.Value
		}
		// strict: 7 and 1,000 (with "," ignored) match; flexible also 12.
		want := map[string]float64{"exact_match,strict-match": 0.5, "exact_match,flexible-extract": 0.75}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("multiturn %v: metrics %v, want %v", multiturn, got, want)
		}
		r0 := tr.Records[0]
		if *r0.Generation != "3 더하기 4는 7입니다.\n#### 7" || r0.Filtered["strict-match"] != "7" || r0.References[0] != "3 + 4 = 7\n#### 7" {
			t.Errorf("record %+v", r0)
		}
		if tr.Records[1].Filtered["strict-match"] != "[invalid]" || tr.Records[3].Filtered["flexible-extract"] != "5" {
			t.Errorf("records %+v", tr.Records)
		}
		// Tables and pages name each filter chain's metric and show replies.
		var table, page strings.Builder
		if err := rep.WriteTable(&table); err != nil || !strings.Contains(table.String(), "exact_match,flexible-extract  0.7500") {
			t.Errorf("table: %v\n%s", err, table.String())
		}
		if err := WriteHTML(&page, []Run{{"a", rep}}); err != nil || !strings.Contains(page.String(), "exact_match,strict-match") ||
			!strings.Contains(page.String(), "정답은 12") || !strings.Contains(page.String(), "strict-match: [invalid]") {
			t.Errorf("HTML: %v\n%s", err, page.String())
		}
		req := fc.seen[0]
		if req.MaxTokens != 24 || !reflect.DeepEqual(req.Until, []string{"\n\n", "문제:"}) || req.Temperature != 0 {
			t.Errorf("request %+v", req)
		}
		if req.Messages[0].Role != "system" || req.Messages[0].Content != "다음 계산 문제에 답하시오.\n\n" {
			t.Errorf("system message %+v", req.Messages[0])
		}
		if !multiturn {
			// One user message: the solved example, the few-shot
			// delimiter, the item.
			u := req.Messages[1].Content
			if len(req.Messages) != 2 || !strings.HasPrefix(u, "문제: ") || strings.Count(u, "문제: ") != 2 ||
				!strings.Contains(u, "\n답: ") || !strings.Contains(u, "####") || !strings.HasSuffix(u, "문제: 사과 3개와 사과 4개를 더하면 모두 몇 개입니까?\n답:") {
				t.Errorf("single-turn prompt %q", u)
			}
		} else {
			m := req.Messages
			if len(m) != 4 || m[1].Role != "user" || m[2].Role != "assistant" || !strings.Contains(m[2].Content, "####") || m[3].Content != "문제: 사과 3개와 사과 4개를 더하면 모두 몇 개입니까?\n답:" {
				t.Errorf("multiturn prompt %+v", m)
			}
		}
	}
	// A backend that cannot generate is refused by name.
	if _, err := Evaluate(t.Context(), fixedBackend{}, []TaskData{td}, Options{}); err == nil || !strings.Contains(err.Error(), "cannot generate") {
		t.Errorf("log-likelihood-only backend: %v", err)
	}
}

type fixedBackend struct{}

func (fixedBackend) LogLikelihood(_ context.Context, reqs []Request) ([]Result, error) {
	out := make([]Result, len(reqs))
	for i, r := range reqs {
		// -1 per continuation token; greedy when it is one token long.
		out[i] = Result{LogLikelihood: -float64(len(r.Continuation)), IsGreedy: len(r.Continuation) == 1}
	}
	return out, nil
}

// loglikelihood tasks score the reference as a continuation: perplexity
// is exp of the negative mean log-likelihood, acc the share of greedy
// answers.
func TestLoglikelihoodTask(t *testing.T) {
	path := writeTask(t, "task: ll\ndataset_kwargs:\n  data_files:\n    validation: d.jsonl\noutput_type: loglikelihood\n"+
		"doc_to_text: \"{{ q }}\"\ndoc_to_target: \"{{ label }}\"\ndescription: \"설명 \"\n")
	tk, err := LoadTaskFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := tk.Load("", "validation")
	if err != nil {
		t.Fatal(err)
	}
	// One byte per token: " 0" and " 5" are two tokens each.
	rep, err := Evaluate(t.Context(), fixedBackend{}, []TaskData{{Task: tk, Docs: docs}}, Options{Encoder: byteEncoder{}})
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Tasks[0].Metrics
	if len(m) != 2 || m[0].Metric != MetricPerplexity || math.Abs(m[0].Value-math.Exp(2)) > 1e-12 || m[1].Metric != MetricAcc || m[1].Value != 0 {
		t.Errorf("metrics %+v", m)
	}
	if r := rep.Tasks[0].Records[1]; *r.LogLikelihood != -2 || r.References[0] != "5" {
		t.Errorf("record %+v", r)
	}
}

// byteEncoder is one token per byte.
type byteEncoder struct{}

func (byteEncoder) EncodeOrdinary(s string) ([]int, error) {
	out := make([]int, len(s))
	for i := range len(s) {
		out[i] = int(s[i])
	}
	return out, nil
}

// The same model generating in process and through dokja serve's chat
// completions gives the same replies, so the same scores.
func TestGenerateInProcessMatchesEndpoint(t *testing.T) {
	td := loadGenTask(t)
	e := tinyEngine(t, 1024) // the test tokenizer spends a token per byte
	chat, err := infer.NewChatTemplate(infer.ChatML, "", "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := serve.New([]*serve.Model{{Name: "tiny", Engine: e, Chat: chat}}, serve.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	url := runServer(t, s)
	// Sampled with per-item seeds, which the server honours; the random
	// model's replies are runs of odd bytes, some not valid UTF-8, and
	// "\n\n" would stop most of them at once.
	td.Task.MaxGenTokens, td.Task.Temperature, td.Task.Until = 12, 1, []string{"문제:"}
	opt := Options{NumFewshot: 1, Seed: 5}
	local, err := Evaluate(t.Context(), &Engine{Engine: e, Chat: chat}, []TaskData{td}, opt)
	if err != nil {
		t.Fatal(err)
	}
	remote, err := Evaluate(t.Context(), &Endpoint{URL: url, Model: "tiny", Concurrency: 4}, []TaskData{td}, opt)
	if err != nil {
		t.Fatal(err)
	}
	lr, rr := local.Tasks[0].Records, remote.Tasks[0].Records
	distinct := map[string]bool{}
	for i := range lr {
		if *lr[i].Generation != *rr[i].Generation || !reflect.DeepEqual(lr[i].Filtered, rr[i].Filtered) {
			t.Errorf("item %s: %q in process, %q through the server", lr[i].ID, *lr[i].Generation, *rr[i].Generation)
		}
		distinct[*lr[i].Generation] = true
	}
	if len(distinct) < 2 {
		t.Errorf("replies %v: want them to differ between items", distinct)
	}
	if !reflect.DeepEqual(local.Tasks[0].Metrics, remote.Tasks[0].Metrics) {
		t.Errorf("metrics %+v vs %+v", local.Tasks[0].Metrics, remote.Tasks[0].Metrics)
	}
}

// Generation answers are cached like log-likelihoods: a rerun asks the
// backend nothing.
func TestCacheGenerations(t *testing.T) {
	td := loadGenTask(t)
	path := filepath.Join(t.TempDir(), "cache.jsonl")
	fc := &fakeChat{reply: arithReplies}
	c, err := OpenCache(path, "m", fc)
	if err != nil {
		t.Fatal(err)
	}
	first, err := Evaluate(t.Context(), c, []TaskData{td}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	dead := &fakeChat{reply: func(GenRequest) (string, error) { return "", errors.New("asked again") }}
	c, err = OpenCache(path, "m", dead)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	second, err := Evaluate(t.Context(), c, []TaskData{td}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Hits() != 4 || !reflect.DeepEqual(first.Tasks[0].Records, second.Tasks[0].Records) {
		t.Errorf("%d hits; records %+v vs %+v", c.Hits(), first.Tasks[0].Records, second.Tasks[0].Records)
	}
}
