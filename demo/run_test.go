package demo

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dokja/dokja/checkpoint"
	"github.com/dokja/dokja/data"
	"github.com/dokja/dokja/eval"
	"github.com/dokja/dokja/model"
)

// TestRunEndToEnd runs the whole demo with a tiny budget: every stage's
// output must exist and make sense, and a rerun must resume, not redo.
func TestRunEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every stage of the stack")
	}
	corpusDir := writePages(t, 120, true)
	out := filepath.Join(t.TempDir(), "demo")
	tiny := &model.Config{
		Architectures: []string{"LlamaForCausalLM"}, ModelType: "llama", HiddenSize: 32, IntermediateSize: 64,
		NumHiddenLayers: 2, NumAttentionHeads: 2, NumKeyValueHeads: 2, HiddenAct: "silu", MaxPositionEmbeddings: 64,
		RMSNormEps: 1e-5, RopeTheta: 10000, TieWordEmbeddings: true, TorchDtype: "float32",
	}
	opt := Options{Corpus: []string{corpusDir}, Out: out, Steps: 16, VocabSize: 400, Model: tiny, SeqLen: 32, BatchSize: 4,
		Prompts: []string{"문서를 저장하려면", "To open a file,"}, MaxTokens: 6, Workers: 2, HelpPages: writeHelpRoot(t, 40)}
	if _, err := os.Stat("../../shared/data/kobest/COPA/dev.tsv"); err == nil {
		// COPA's items fit the tiny model's 64-token context.
		opt.KoBEST, opt.KoBESTLimit, opt.KoBESTTasks = "../../shared/data/kobest", 4, []string{"kobest_copa"}
	}
	var stdout bytes.Buffer
	opt.Stdout = &stdout
	sum, err := Run(t.Context(), opt)
	if err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if sum.DocsRead != 120 || sum.DocsKept == 0 || sum.DocsKept > sum.DocsRead {
		t.Errorf("data: read %d kept %d", sum.DocsRead, sum.DocsKept)
	}
	if sum.Tokenizer == nil || sum.Tokenizer.VocabSize != 400 {
		t.Errorf("tokenizer %+v", sum.Tokenizer)
	}
	if sum.TrainTokens == 0 || sum.ValTokens == 0 {
		t.Errorf("shards: %d train, %d val tokens", sum.TrainTokens, sum.ValTokens)
	}
	if sum.Steps != 16 || !(sum.LastLoss < sum.FirstLoss) || sum.ValLoss <= 0 {
		t.Errorf("pretraining: %d steps, loss %v -> %v, val %v; want 16 steps and a falling loss", sum.Steps, sum.FirstLoss, sum.LastLoss, sum.ValLoss)
	}
	if ppl := sum.Eval["perplexity word_perplexity"]; !(ppl > 1) || math.IsInf(ppl, 0) {
		t.Errorf("held-out word perplexity %v (eval %v)", ppl, sum.Eval)
	}
	if opt.KoBEST != "" {
		if _, ok := sum.Eval["kobest_copa acc"]; !ok {
			t.Errorf("no KoBEST COPA score in %v", sum.Eval)
		}
	}
	if len(sum.Samples) != 2 {
		t.Fatalf("%d answers, want 2", len(sum.Samples))
	}
	for _, s := range sum.Samples {
		if s.Tokens == 0 || s.Tokens > 6 || s.TTFTMillis <= 0 {
			t.Errorf("answer %+v", s)
		}
		if !strings.Contains(stdout.String(), s.Prompt+s.Answer) {
			t.Errorf("the streamed answer to %q was not shown:\n%s", s.Prompt, stdout.String())
		}
	}

	// The curated documents were indexed and searched.
	if sum.Search == nil || int64(sum.Search.Docs) != sum.DocsKept || sum.Search.Chunks < sum.Search.Docs || len(sum.Search.Searches) != len(searchQueries) {
		t.Errorf("search step: %+v (kept %d documents)", sum.Search, sum.DocsKept)
	}

	// The agent called a tool with arguments that are JSON, and got its
	// result back.
	if testing.Verbose() {
		t.Log(stdout.String())
	}
	if sum.Agent == nil || len(sum.Agent.Calls) == 0 || sum.Agent.Steps < 1 {
		t.Fatalf("agent step: %+v", sum.Agent)
	}
	for _, c := range sum.Agent.Calls {
		if !slices.Contains([]string{"redact_pii", "tokenizer_stats", "search", "calculator"}, c.Name) || !json.Valid([]byte(c.Arguments)) || c.Result == "" {
			t.Errorf("agent call %+v", c)
		}
		if !strings.Contains(stdout.String(), "→ "+c.Name+"(") {
			t.Errorf("the call of %s was not shown:\n%s", c.Name, stdout.String())
		}
	}

	// The encoder pretrained, fine-tuned, and was scored beside BM25.
	e := sum.Encoder
	if e == nil || e.MLMSteps != 16 || !(e.MLMLastLoss < e.MLMFirstLoss) || e.FineTuneSteps != 16 || e.Pairs == 0 || e.Pages != 20 || e.Queries == 0 {
		t.Fatalf("encoder step: %+v", e)
	}
	searches := map[string]bool{}
	for _, r := range e.Rows {
		searches[r.Search] = true
		if r.NDCG10 < 0 || r.NDCG10 > 1 || r.Recall100 < 0 || r.Recall100 > 1 {
			t.Errorf("retrieval row %+v", r)
		}
	}
	for _, want := range []string{"bm25", "dense (pretrained only)", "hybrid (pretrained only)", "dense (fine-tuned)", "hybrid (fine-tuned)"} {
		if !searches[want] {
			t.Errorf("no %q among the retrieval rows %+v", want, e.Rows)
		}
	}

	// Every link of index.html resolves to a file of the run.
	index, err := os.ReadFile(filepath.Join(out, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	links := regexp.MustCompile(`(?:href|src)="([^"#]+)"`).FindAllStringSubmatch(string(index), -1)
	if len(links) < 8 {
		t.Errorf("index.html has %d links", len(links))
	}
	for _, l := range links {
		if _, err := os.Stat(filepath.Join(out, l[1])); err != nil {
			t.Errorf("index.html links %s: %v", l[1], err)
		}
	}

	// A rerun finds every stage done and reports the same numbers.
	stdout.Reset()
	again, err := Run(t.Context(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(stdout.String(), "done before"); n != 4 {
		t.Errorf("rerun: %d stages done before, want 4 (tokenizer, shards, serving, agent):\n%s", n, stdout.String())
	}
	if again.Steps != sum.Steps || again.LastLoss != sum.LastLoss || again.DocsKept != sum.DocsKept || again.Samples[0].Answer != sum.Samples[0].Answer {
		t.Errorf("rerun summary differs: %+v vs %+v", again, sum)
	}

	// A model the user brings: the demo's own, as an F32 GGUF file, must
	// score what the folder scored and answer the same.
	ck, err := checkpoint.Open(filepath.Join(out, "train", "model"), checkpoint.Options{Dequantize: true})
	if err != nil {
		t.Fatal(err)
	}
	yourPath := filepath.Join(t.TempDir(), "yours.gguf")
	if err := ck.Model.SaveGGUFWith(yourPath, ck.Tokenizer, "f32", model.GGUFSaveOptions{}); err != nil {
		t.Fatal(err)
	}
	opt.YourModel = yourPath
	// An encoder the user brings: the demo's fine-tuned one scores as it did.
	opt.YourEncoder = filepath.Join(out, "encoder", "embed", "model")
	stdout.Reset()
	withYours, err := Run(t.Context(), opt)
	if err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	y := withYours.Yours
	if y == nil || y.Architecture != "LlamaForCausalLM" || y.Context != 64 || y.Params != float64(ck.Model.NumParams()) {
		t.Fatalf("your model described as %+v, want LlamaForCausalLM, context 64, %d parameters", y, ck.Model.NumParams())
	}
	if len(y.Eval) != len(sum.Eval) {
		t.Errorf("your model's metrics %v, the demo model's %v", y.Eval, sum.Eval)
	}
	for k, v := range sum.Eval {
		if got, ok := y.Eval[k]; !ok || math.Abs(got-v) > 1e-4*math.Max(1, math.Abs(v)) {
			t.Errorf("%s: the GGUF file scores %v, its folder %v", k, got, v)
		}
	}
	if len(y.Samples) != len(sum.Samples) {
		t.Fatalf("%d answers from your model, want %d", len(y.Samples), len(sum.Samples))
	}
	for i, s := range y.Samples {
		if s.Answer != sum.Samples[i].Answer {
			t.Errorf("answer to %q: the GGUF file says %q, its folder %q", s.Prompt, s.Answer, sum.Samples[i].Answer)
		}
	}
	rows := map[string]RetrievalRow{}
	for _, r := range withYours.Encoder.Rows {
		rows[r.Search+"/"+r.Judged] = r
	}
	for _, mode := range []string{"dense", "hybrid"} {
		for _, judged := range []string{"Korean page", "English page"} {
			a, b := rows[mode+" (your encoder)/"+judged], rows[mode+" (fine-tuned)/"+judged]
			if a.Search == "" || a.NDCG10 != b.NDCG10 || a.Recall100 != b.Recall100 {
				t.Errorf("%s, %s: your encoder (the demo's own) %+v, the fine-tuned one %+v", mode, judged, a, b)
			}
		}
	}
	index, err = os.ReadFile(filepath.Join(out, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, link := range []string{"yours/eval/report.html", "yours/serve/samples.json"} {
		if !strings.Contains(string(index), link) {
			t.Errorf("index.html does not link %s", link)
		} else if _, err := os.Stat(filepath.Join(out, link)); err != nil {
			t.Errorf("index.html links %s: %v", link, err)
		}
	}
}

// The demo curates with a pipeline file when given one, and the example
// pipelines build.
func TestRunPipelineFile(t *testing.T) {
	corpusDir := writePages(t, 60, false)
	pipeline := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(pipeline, []byte("stages:\n  - normalize: {}\n  - langid: {keep: [ko, en]}\n  - tokenize: {tokenizer: nowhere.json}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opt := Options{Corpus: []string{corpusDir}, Pipeline: pipeline, Out: filepath.Join(t.TempDir(), "demo"), Steps: 2, VocabSize: 300,
		Model: &model.Config{Architectures: []string{"LlamaForCausalLM"}, ModelType: "llama", HiddenSize: 16, IntermediateSize: 32,
			NumHiddenLayers: 1, NumAttentionHeads: 2, NumKeyValueHeads: 2, HiddenAct: "silu", MaxPositionEmbeddings: 32,
			RMSNormEps: 1e-5, RopeTheta: 10000, TieWordEmbeddings: true, TorchDtype: "float32"},
		SeqLen: 16, BatchSize: 2, Prompts: []string{"문서를"}, MaxTokens: 2}
	sum, err := Run(t.Context(), opt)
	if err != nil {
		t.Fatal(err)
	}
	// Only normalize and langid ran: every page is kept.
	if sum.DocsRead != 60 || sum.DocsKept != 60 {
		t.Errorf("read %d kept %d, want 60 and 60", sum.DocsRead, sum.DocsKept)
	}
}

func TestExamplePipelines(t *testing.T) {
	if _, err := os.Stat("../../shared/data/kobest"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	paths, _ := filepath.Glob("../examples/*.yaml")
	if len(paths) == 0 {
		t.Fatal("no example pipelines")
	}
	for _, p := range paths {
		cfg, err := data.ReadConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cfg.Build(&data.Env{EvalTexts: eval.ItemTexts}); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		if _, err := cfg.InputFiles(); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
