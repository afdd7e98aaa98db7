package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// evalModel writes a small random checkpoint over the byte-level test
// tokenizer (no tokenizer training needed).
func evalModel(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte(`{"architectures": ["LlamaForCausalLM"], "vocab_size": 300, "hidden_size": 32,
		"intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
		"max_position_embeddings": 256, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": true,
		"bos_token_id": 258, "eos_token_id": 258}`), 0o644)
	out := filepath.Join(dir, "tiny")
	mustRun(t, "", "init", "--config", cfg, "--tokenizer", filepath.Join("..", "..", "tokenizer", "testdata", "tiny.json"), "--out", out)
	return out
}

// evalReport mirrors the parts of the JSON results the test reads.
type evalReport struct {
	Config struct {
		Backend     string            `json:"backend"`
		ModelSHA256 string            `json:"model_sha256"`
		Endpoint    string            `json:"endpoint"`
		Sources     map[string]string `json:"sources"`
	} `json:"config"`
	ConfigHash string `json:"config_hash"`
	Tasks      []struct {
		Task    string `json:"task"`
		Items   int    `json:"items"`
		Metrics []struct {
			Metric string   `json:"metric"`
			Value  float64  `json:"value"`
			Chance *float64 `json:"chance"`
		} `json:"metrics"`
		Records []struct {
			ID             string    `json:"id"`
			LogLikelihoods []float64 `json:"loglikelihoods"`
			LogLikelihood  *float64  `json:"loglikelihood"`
		} `json:"records"`
	} `json:"tasks"`
}

func decodeReport(t *testing.T, s string) evalReport {
	t.Helper()
	var r evalReport
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("%v\n%s", err, s)
	}
	return r
}

// dokja eval scores a checkpoint in process and through dokja serve with
// the same numbers, prints a table or JSON, writes --out, and explains
// bad input.
func TestEvalCommand(t *testing.T) {
	dir := evalModel(t)
	data := filepath.Join("..", "..", "eval", "testdata")
	kobest, text := filepath.Join(data, "kobest"), filepath.Join(data, "corpus.txt")

	r := mustRun(t, "", "eval", "tasks")
	for _, want := range []string{"kobest_copa", "kobest_hellaswag", "acc_norm", "perplexity", "loglikelihood_rolling"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("eval tasks lacks %q:\n%s", want, r.stdout)
		}
	}

	args := []string{"--tasks", "kobest_copa,kobest_hellaswag,perplexity", "--data-dir", kobest, "--text", text}
	r = mustRun(t, "", append([]string{"eval", "--model", dir}, args...)...)
	for _, want := range []string{"kobest_copa", "acc_norm", "bits_per_byte", "0.5000", "0.2500", "in-process"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
	out := filepath.Join(t.TempDir(), "results.json")
	r = mustRun(t, "", append([]string{"eval", "--model", dir, "--json", "--out", out}, args...)...)
	local := decodeReport(t, r.stdout)
	saved, err := os.ReadFile(out)
	if err != nil || decodeReport(t, string(saved)).ConfigHash != local.ConfigHash {
		t.Fatalf("--out: %v", err)
	}
	if len(local.Tasks) != 3 || local.Tasks[0].Items != 4 || local.Tasks[1].Items != 2 || len(local.Config.ModelSHA256) != 64 ||
		!strings.Contains(local.Config.Sources["kobest_copa"], "sha256:") {
		t.Fatalf("report: %+v", local)
	}

	// The same task written as lm-evaluation-harness YAML scores the same.
	yamlTask := filepath.Join(data, "tasks", "kobest_copa.yaml")
	r = mustRun(t, "", "eval", "--model", dir, "--json", "--tasks", yamlTask)
	if got := decodeReport(t, r.stdout); len(got.Tasks) != 1 || !reflect.DeepEqual(got.Tasks[0].Records, local.Tasks[0].Records) ||
		!reflect.DeepEqual(got.Tasks[0].Metrics, local.Tasks[0].Metrics) {
		t.Errorf("YAML kobest_copa differs from the built-in one:\n%s", r.stdout)
	}

	// --cache records every answer; a second run answers from it alone
	// and reports the same numbers.
	cache := filepath.Join(t.TempDir(), "cache.jsonl")
	for range 2 {
		r = mustRun(t, "", append([]string{"eval", "--model", dir, "--json", "--cache", cache}, args...)...)
		if got := decodeReport(t, r.stdout); !reflect.DeepEqual(got.Tasks, local.Tasks) {
			t.Errorf("--cache run differs from the plain run")
		}
	}
	if data, err := os.ReadFile(cache); err != nil || strings.Count(string(data), "\n") < 10 {
		t.Errorf("cache file: %v, %d lines", err, strings.Count(string(data), "\n"))
	}

	// The same checkpoint through dokja serve.
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		var stderr strings.Builder
		code := run(ctx, []string{"serve", "--model", dir, "--addr", "127.0.0.1:0", "--api-key", "k"}, strings.NewReader(""), pw, &stderr)
		pw.Close()
		done <- code
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatal("serve printed nothing")
	}
	i := strings.Index(lines.Text(), "http://")
	if i < 0 {
		t.Fatalf("serve said %q", lines.Text())
	}
	base := strings.Fields(lines.Text()[i:])[0]
	go io.Copy(io.Discard, pr)
	r = mustRun(t, "", append([]string{"eval", "--endpoint", base, "--model", dir, "--api-key", "k", "--json"}, args...)...)
	remote := decodeReport(t, r.stdout)
	if remote.Config.Backend != "endpoint" || remote.ConfigHash == local.ConfigHash {
		t.Errorf("endpoint config %+v", remote.Config)
	}
	for ti, lt := range local.Tasks {
		for ii, lr := range lt.Records {
			rr := remote.Tasks[ti].Records[ii]
			for c := range lr.LogLikelihoods {
				if math.Abs(lr.LogLikelihoods[c]-rr.LogLikelihoods[c]) > 1e-4 {
					t.Errorf("%s item %s choice %d: %v in process, %v through serve", lt.Task, lr.ID, c, lr.LogLikelihoods[c], rr.LogLikelihoods[c])
				}
			}
			if lr.LogLikelihood != nil && math.Abs(*lr.LogLikelihood-*rr.LogLikelihood) > 1e-4 {
				t.Errorf("%s item %s: %v in process, %v through serve", lt.Task, lr.ID, *lr.LogLikelihood, *rr.LogLikelihood)
			}
		}
	}
	// A generation task: in process with the checkpoint's chat template,
	// and through serve's chat completions without a tokenizer here, the
	// same sampled replies.
	genDir := t.TempDir()
	os.WriteFile(filepath.Join(genDir, "d.jsonl"), []byte("{\"q\": \"1+1=\", \"a\": \"2\"}\n{\"q\": \"2+2=\", \"a\": \"4\"}\n{\"q\": \"3+3=\", \"a\": \"6\"}\n"), 0o644)
	genTask := filepath.Join(genDir, "gen.yaml")
	os.WriteFile(genTask, []byte("task: sums\ndataset_kwargs:\n  data_files:\n    validation: d.jsonl\noutput_type: generate_until\n"+
		"doc_to_text: \"{{ q }}\"\ndoc_to_target: a\ngeneration_kwargs:\n  until: [\"zz\"]\n  max_gen_toks: 6\n  do_sample: true\n"), 0o644)
	gl := mustRun(t, "", "eval", "--model", dir, "--tasks", genTask, "--json")
	gr := mustRun(t, "", "eval", "--endpoint", base, "--model", "tiny", "--api-key", "k", "--tasks", genTask, "--json")
	var genLocal, genRemote struct {
		Tasks []struct {
			Metrics []struct {
				Metric, Filter string
				Value          float64
			}
			Records []struct {
				Generation *string
				References []string
			}
		}
	}
	if err := json.Unmarshal([]byte(gl.stdout), &genLocal); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(gr.stdout), &genRemote); err != nil {
		t.Fatal(err)
	}
	if len(genLocal.Tasks) != 1 || len(genLocal.Tasks[0].Records) != 3 || genLocal.Tasks[0].Records[0].Generation == nil ||
		genLocal.Tasks[0].Metrics[0].Metric != "exact_match" || genLocal.Tasks[0].Metrics[0].Filter != "none" ||
		!reflect.DeepEqual(genLocal, genRemote) {
		t.Errorf("generation in process:\n%s\nthrough serve:\n%s", gl.stdout, gr.stdout)
	}
	// Without a tokenizer an endpoint run cannot tokenize.
	r = dokja(t, "", "eval", "--endpoint", base, "--model", "tiny", "--tasks", "kobest_copa", "--data-dir", kobest)
	if r.code == 0 || !strings.Contains(r.stderr, "--tokenizer") {
		t.Errorf("endpoint without tokenizer: exit %d, %s", r.code, r.stderr)
	}
	cancel()
	<-done

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--tasks", "kobest_mmlu", "--data-dir", kobest}, `unknown task "kobest_mmlu"`},
		{[]string{"--tasks", "kobest_copa"}, "needs --data-dir"},
		{[]string{"--tasks", "kobest_copa", "--data-dir", filepath.Join(data, "missing")}, "data dir"},
		{[]string{"--tasks", "kobest_copa", "--data-dir", kobest, "--split", "test"}, `split "test"`},
		{[]string{"--tasks", "perplexity"}, "needs --text"},
	} {
		r := dokja(t, "", append([]string{"eval", "--model", dir}, c.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want %q", c.args, r.code, r.stderr, c.want)
		}
	}
}

// dokja eval redteam attacks a checkpoint in process and writes reports.
func TestEvalRedteamCommand(t *testing.T) {
	dir := evalModel(t)
	out := filepath.Join(t.TempDir(), "rt.json")
	html := filepath.Join(t.TempDir(), "rt.html")
	r := mustRun(t, "", "eval", "redteam", "--model", dir, "--categories", "social_bias,pii_extraction", "--langs", "en",
		"--max-tokens", "8", "--out", out, "--html", html)
	for _, want := range []string{"red-team report for tiny", "social_bias", "pii_extraction", "bias_stereotype", "pii_leak", "en", "generation errors"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, f := range []string{out, html} {
		if st, err := os.Stat(f); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if r := dokja(t, "", "eval", "redteam", "--model", dir, "--categories", "nope"); r.code == 0 || !strings.Contains(r.stderr, `unknown category "nope"`) {
		t.Errorf("bad category: exit %d %q", r.code, r.stderr)
	}
}

// startServe runs dokja serve with args on a loopback port until the test
// ends and returns its base URL.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		var stderr strings.Builder
		code := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), strings.NewReader(""), pw, &stderr)
		pw.Close()
		done <- code
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatal("serve printed nothing")
	}
	i := strings.Index(lines.Text(), "http://")
	if i < 0 {
		t.Fatalf("serve said %q", lines.Text())
	}
	go io.Copy(io.Discard, pr)
	t.Cleanup(func() { cancel(); <-done })
	return strings.Fields(lines.Text()[i:])[0]
}

// A GGUF file scores the same in process and through dokja serve: both
// open it with checkpoint.Open, its Q8_0 and Q4_0 matrices kept in their
// blocks (eval used to dequantize them, and its numbers drifted from the
// server's). Through the server, the file gives the tokenizer too.
func TestEvalGGUFInProcessAndServed(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	// 64 wide, so that the matrices quantize to whole blocks.
	os.WriteFile(cfg, []byte(`{"architectures": ["LlamaForCausalLM"], "vocab_size": 300, "hidden_size": 64,
		"intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
		"max_position_embeddings": 256, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": false,
		"bos_token_id": 258, "eos_token_id": 258}`), 0o644)
	ckpt := filepath.Join(dir, "tiny")
	mustRun(t, "", "init", "--config", cfg, "--tokenizer", filepath.Join("..", "..", "tokenizer", "testdata", "tiny.json"), "--out", ckpt)
	data := filepath.Join("..", "..", "eval", "testdata")
	args := []string{"--tasks", "kobest_copa,perplexity", "--data-dir", filepath.Join(data, "kobest"), "--text", filepath.Join(data, "corpus.txt"), "--json"}
	for _, typ := range []string{"q8_0", "q4_0"} {
		file := filepath.Join(dir, "tiny-"+typ+".gguf")
		mustRun(t, "", "export", "gguf", "--model", ckpt, "--out", file, "--type", typ)
		local := decodeReport(t, mustRun(t, "", append([]string{"eval", "--model", file}, args...)...).stdout)
		base := startServe(t, "--model", file)
		remote := decodeReport(t, mustRun(t, "", append([]string{"eval", "--endpoint", base, "--model", file}, args...)...).stdout)
		float := decodeReport(t, mustRun(t, "", append([]string{"eval", "--model", ckpt}, args...)...).stdout)
		if len(local.Tasks) != 2 || len(remote.Tasks) != 2 {
			t.Fatalf("%s: tasks in process %d, served %d", typ, len(local.Tasks), len(remote.Tasks))
		}
		moved := 0.0
		for ti, lt := range local.Tasks {
			for ii, lr := range lt.Records {
				rr, fr := remote.Tasks[ti].Records[ii], float.Tasks[ti].Records[ii]
				for c := range lr.LogLikelihoods {
					if lr.LogLikelihoods[c] != rr.LogLikelihoods[c] {
						t.Errorf("%s %s item %s choice %d: %v in process, %v through serve", typ, lt.Task, lr.ID, c, lr.LogLikelihoods[c], rr.LogLikelihoods[c])
					}
					moved = max(moved, math.Abs(lr.LogLikelihoods[c]-fr.LogLikelihoods[c]))
				}
				if lr.LogLikelihood != nil && *lr.LogLikelihood != *rr.LogLikelihood {
					t.Errorf("%s %s item %s: %v in process, %v through serve", typ, lt.Task, lr.ID, *lr.LogLikelihood, *rr.LogLikelihood)
				}
			}
		}
		// The quantized file is scored on its blocks, not on float weights.
		if moved == 0 {
			t.Errorf("%s: the GGUF file's log-likelihoods equal the float checkpoint's: its blocks were not used", typ)
		}
	}
}
