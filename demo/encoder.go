package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dokja/dokja/atomicfile"
	"github.com/dokja/dokja/corpus"
	"github.com/dokja/dokja/encoder"
	"github.com/dokja/dokja/index"
	"github.com/dokja/dokja/serve"
	"github.com/dokja/dokja/tokenizer"
	"github.com/dokja/dokja/train"
)

// EncoderRun is the demo's encoder step: a ModernBERT pretrained on the
// curated shards (masked tokens), fine-tuned for embeddings on help-page
// pairs, and the retrieval it gives on help pages it never saw.
type EncoderRun struct {
	Params        int            `json:"params"`
	MLMSteps      int            `json:"mlm_steps"`
	MLMFirstLoss  float64        `json:"mlm_first_loss"`
	MLMLastLoss   float64        `json:"mlm_last_loss"`
	MLMValLoss    float64        `json:"mlm_val_loss"`
	Pairs         int            `json:"pairs"`
	FineTuneSteps int            `json:"fine_tune_steps"`
	ValLossBefore float64        `json:"fine_tune_val_loss_before"`
	ValLossAfter  float64        `json:"fine_tune_val_loss_after"`
	Pages         int            `json:"pages"`
	Queries       int            `json:"queries"`
	Rows          []RetrievalRow `json:"retrieval"`
}

// RetrievalRow is one search (BM25, or an encoder dense or hybrid) judged
// one way (the Korean page, or its English counterpart).
type RetrievalRow struct {
	Search    string  `json:"search"`
	Judged    string  `json:"judged"`
	NDCG10    float64 `json:"ndcg_at_10"`
	Recall100 float64 `json:"recall_at_100"`
}

// evalPages bounds the size of the demo's retrieval task (Korean pages).
const evalPages = 200

// DemoEncoder is the ModernBERT the demo pretrains: ModernBERT-base's
// design (global attention every third layer, a 128-token window
// between, GeGLU, bias-free norms) at 6 million weights.
func DemoEncoder(vocab int) map[string]any {
	return map[string]any{
		"architectures": []string{"ModernBertForMaskedLM"}, "model_type": "modernbert",
		"vocab_size": (vocab + 63) / 64 * 64, "hidden_size": 256, "intermediate_size": 384,
		"num_hidden_layers": 4, "num_attention_heads": 4, "max_position_embeddings": 1024,
		"norm_eps": 1e-5, "norm_bias": false, "attention_bias": false, "mlp_bias": false,
		"hidden_activation": "gelu", "classifier_activation": "gelu", "classifier_bias": false,
		"decoder_bias": true, "classifier_pooling": "mean", "local_attention": 128,
		"global_attn_every_n_layers": 3, "global_rope_theta": 160000.0, "local_rope_theta": 10000.0,
		"initializer_range": 0.02, "initializer_cutoff_factor": 2.0, "tie_word_embeddings": true,
	}
}

// helpRoot finds the help pages' root (holding ko/ and en-US/): the
// option, or where DefaultCorpus looks.
func helpRoot(o *Options) string {
	roots := []string{"/usr/share/libreoffice/help", ".cache/libreoffice-help/usr/share/libreoffice/help"}
	if o.HelpPages != "" {
		roots = []string{o.HelpPages}
	}
	for _, r := range roots {
		if st, err := os.Stat(filepath.Join(r, "ko", "text")); err == nil && st.IsDir() {
			return r
		}
	}
	return ""
}

func encoderStep(ctx context.Context, o *Options, s *Summary) error {
	root := helpRoot(o)
	if root == "" {
		fmt.Fprintln(o.Stdout, "  skipped: the help pages (ko/text and en-US/text) are needed for the retrieval task and its training pairs")
		return nil
	}
	dir := filepath.Join(o.Out, "encoder")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// The task samples at most half the Korean pages; the rest give the
	// training pairs.
	pages, err := corpus.Expand([]string{filepath.Join(root, "ko", "text")})
	if err != nil {
		return err
	}
	run := &EncoderRun{Pages: min(evalPages, len(pages)/2)}
	mlm, err := pretrainEncoder(ctx, o, s, dir, run)
	if err != nil {
		return err
	}
	task, err := index.NewHelpPages(root, run.Pages)
	if err != nil {
		return err
	}
	run.Queries = len(task.Queries)
	pairsPath := filepath.Join(dir, "pairs.jsonl")
	pairs, err := index.HelpPagePairs(root, task, 1000)
	if err != nil {
		return err
	}
	run.Pairs = len(pairs)
	if err := index.WritePairs(pairsPath, pairs); err != nil {
		return err
	}
	ft, err := fineTuneEncoder(ctx, o, mlm, pairsPath, dir, run)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Stdout, "  retrieval over %d unseen help pages and their English counterparts (%d Korean titles as queries; nDCG@10):\n", run.Pages, run.Queries)
	models := []struct{ name, path string }{{"pretrained only", mlm}, {"fine-tuned", ft}}
	if o.YourEncoder != "" {
		models = append(models, struct{ name, path string }{"your encoder", o.YourEncoder})
	}
	for i, m := range models {
		emb, err := serve.LoadEmbedder(m.path)
		if err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		name := fmt.Sprintf("index-%d", i)
		res, _, err := index.Evaluate(ctx, task.Task(), filepath.Join(dir, name), index.Options{Format: corpus.HTML, Embedder: emb, EmbedderName: m.path})
		if err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		for _, key := range slices.Sorted(maps.Keys(res)) {
			mode, judged, _ := strings.Cut(key, ", ")
			search := mode + " (" + m.name + ")"
			if mode == "bm25" {
				if i > 0 {
					continue
				}
				search = "bm25"
			}
			r := res[key]
			row := RetrievalRow{Search: search, Judged: strings.TrimPrefix(judged, "help pages: "), NDCG10: r.NDCG10, Recall100: r.Recall100}
			run.Rows = append(run.Rows, row)
			fmt.Fprintf(o.Stdout, "    %-32s %-14s %.3f\n", row.Search, row.Judged, row.NDCG10)
		}
	}
	if o.YourEncoder == "" {
		fmt.Fprintf(o.Stdout, "  (%.0f minutes of training on 2 cores make a small encoder; --encoder-minutes trains longer, --your-encoder scores one you have)\n", o.EncoderMinutes)
	}
	s.Encoder = run
	return atomicfile.WriteJSON(filepath.Join(dir, "summary.json"), run)
}

// pretrainEncoder trains the demo's ModernBERT on the curated shards
// (resuming an interrupted run) and returns its model folder.
func pretrainEncoder(ctx context.Context, o *Options, s *Summary, dir string, run *EncoderRun) (string, error) {
	out := filepath.Join(dir, "mlm")
	tok, err := tokenizer.LoadJSON(s.Tokenizer.Tokenizer)
	if err != nil {
		return "", err
	}
	cfgPath := filepath.Join(dir, "modernbert.json")
	js, err := json.MarshalIndent(DemoEncoder(tok.VocabSize()+1), "", "  ")
	if err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(cfgPath, js); err != nil {
		return "", err
	}
	cfg := &train.Config{Model: cfgPath, Data: filepath.Join(o.Out, "tokens"), Out: out, Seed: 1, SeqLen: 256, BatchSize: 8,
		LR: 2e-3, Warmup: 30, WeightDecay: 0.01, Beta2: 0.98, EvalEvery: 50, CheckpointEvery: 100}
	if o.Steps > 0 {
		cfg.Steps, cfg.Warmup, cfg.SeqLen, cfg.BatchSize = o.Steps, max(1, o.Steps/10), o.SeqLen, o.BatchSize
	} else {
		cfg.Minutes = 0.6 * o.EncoderMinutes
	}
	cfg.Defaults()
	final := filepath.Join(out, "model")
	if _, err := os.Stat(filepath.Join(final, "config.json")); err != nil {
		_, statErr := os.Stat(filepath.Join(out, "checkpoints", "latest"))
		res, err := train.Run(ctx, cfg, train.Options{Resume: statErr == nil, Status: o.Status})
		if err != nil {
			return "", err
		}
		if res.Model == "" {
			return "", errors.New("encoder pretraining stopped before its last step")
		}
	}
	hist, err := train.ReadMetrics(out)
	if err != nil {
		return "", err
	}
	for _, m := range hist {
		if m.Loss > 0 {
			if run.MLMFirstLoss == 0 {
				run.MLMFirstLoss = m.Loss
			}
			run.MLMLastLoss, run.MLMSteps = m.Loss, m.Step
		}
		if m.ValLoss > 0 {
			run.MLMValLoss = m.ValLoss
		}
	}
	if e, err := encoder.Open(final); err == nil {
		run.Params = e.(*encoder.ModernBERT).NumParams()
	}
	fmt.Fprintf(o.Stdout, "  ModernBERT, %d weights: %d steps on masked tokens, loss %.3f -> %.3f, val loss %.3f: encoder/mlm/loss.png\n",
		run.Params, run.MLMSteps, run.MLMFirstLoss, run.MLMLastLoss, run.MLMValLoss)
	return final, nil
}

// fineTuneEncoder fine-tunes the pretrained encoder on the pairs (again
// from the start if an earlier attempt stopped) and returns its folder.
func fineTuneEncoder(ctx context.Context, o *Options, mlm, pairs, dir string, run *EncoderRun) (string, error) {
	out := filepath.Join(dir, "embed")
	final := filepath.Join(out, "model")
	if _, err := os.Stat(filepath.Join(final, "config.json")); err != nil {
		if err := os.RemoveAll(out); err != nil {
			return "", err
		}
		cfg := &train.Config{Init: mlm, Pairs: pairs, Out: out, Seed: 1, SeqLen: 128, BatchSize: 32, LR: 5e-4, Warmup: 10,
			WeightDecay: 0.01, EvalEvery: 20}
		if o.Steps > 0 {
			cfg.Steps, cfg.Warmup, cfg.BatchSize, cfg.SeqLen = o.Steps, max(1, o.Steps/10), 8, o.SeqLen
		} else {
			cfg.Minutes = 0.4 * o.EncoderMinutes
		}
		cfg.Defaults()
		if _, err := train.Run(ctx, cfg, train.Options{Status: o.Status}); err != nil {
			return "", err
		}
	}
	hist, err := train.ReadMetrics(out)
	if err != nil {
		return "", err
	}
	for _, m := range hist {
		if m.ValLoss > 0 {
			if m.Step == 0 {
				run.ValLossBefore = m.ValLoss
			}
			run.ValLossAfter = m.ValLoss
		}
		if m.Loss > 0 {
			run.FineTuneSteps = m.Step
		}
	}
	fmt.Fprintf(o.Stdout, "  fine-tuned for embeddings on %d title-page pairs (Korean and English pages outside the task): %d steps, held-out loss %.3f -> %.3f\n",
		run.Pairs, run.FineTuneSteps, run.ValLossBefore, run.ValLossAfter)
	return final, nil
}
