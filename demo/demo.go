// Package demo runs Dokja's whole stack end to end on one machine (Run):
// curate the demo corpus (the Korean and English LibreOffice help pages)
// with the data pipeline, train a Korean-efficient tokenizer and compare it
// with OpenAI's o200k and cl100k (TrainTokenizer), encode token shards,
// pretrain a small model for a time budget, evaluate it, serve it over
// the OpenAI API and stream a few answers, and link every stage's report
// from one index.html.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/dokja/dokja/atomicfile"
	"github.com/dokja/dokja/corpus"
	"github.com/dokja/dokja/progress"
	"github.com/dokja/dokja/tokenizer"
)

// TokenizerOptions configures TrainTokenizer.
type TokenizerOptions struct {
	Corpus    []string // files or folders; empty: DefaultCorpus
	Out       string   // folder for tokenizer.json and report.json, created if missing
	VocabSize int      // default 16000
	Workers   int      // default: all cores
	// HeldOut picks the documents kept out of training for the
	// comparison (i counts documents from 1); nil holds out every tenth.
	HeldOut  func(i int, text string) bool
	Stdout   io.Writer
	Progress *progress.Line // may be nil
}

// Row is one tokenizer measured on one part of the held-out text.
type Row struct {
	Tokenizer       string  `json:"tokenizer"`
	Part            string  `json:"part"`
	Texts           int64   `json:"texts"`
	Chars           int64   `json:"chars"`
	Tokens          int64   `json:"tokens"`
	CharsPerToken   float64 `json:"chars_per_token"`
	TokensPerHangul float64 `json:"tokens_per_hangul_syllable,omitempty"`
	MBPerSecond     float64 `json:"mb_per_second"`
}

// Report is what a demo run measured; it is also written as report.json.
type Report struct {
	Corpus        []string `json:"corpus"`
	Documents     int      `json:"documents"`
	TrainDocs     int      `json:"train_documents"`
	HeldOutDocs   int      `json:"held_out_documents"`
	TrainBytes    int64    `json:"train_bytes"`
	Tokenizer     string   `json:"tokenizer"`
	VocabSize     int      `json:"vocab_size"`
	TrainSeconds  float64  `json:"train_seconds"`
	Rows          []Row    `json:"rows"`
	KoreanSavings float64  `json:"korean_token_savings_vs_o200k"`
}

// DefaultCorpus returns the folders of the Korean and English LibreOffice
// help pages, from the system install or from the project's .cache, where
// "make demo" unpacks the Debian packages.
func DefaultCorpus() ([]string, error) {
	var found []string
	for _, root := range []string{"/usr/share/libreoffice/help", ".cache/libreoffice-help/usr/share/libreoffice/help"} {
		for _, lang := range []string{"ko", "en-US"} {
			dir := filepath.Join(root, lang)
			if st, err := os.Stat(dir); err == nil && st.IsDir() {
				found = append(found, dir)
			}
		}
		if len(found) == 2 {
			return found, nil
		}
		found = nil
	}
	return nil, errors.New("demo corpus not found: install the Debian packages libreoffice-help-ko and libreoffice-help-en-us " +
		"(apt-get install libreoffice-help-ko libreoffice-help-en-us), run `make demo`, which unpacks them into .cache, or pass --corpus")
}

// isKorean reports whether most letters of s are Hangul.
func isKorean(s string) bool {
	var hangul, letters int
	for _, r := range s {
		if unicode.IsLetter(r) {
			letters++
			if unicode.Is(unicode.Hangul, r) {
				hangul++
			}
		}
	}
	return letters > 0 && 2*hangul >= letters
}

// TrainTokenizer trains a byte-level BPE tokenizer on the corpus, less
// held-out documents, and compares it with o200k and cl100k on those.
func TrainTokenizer(ctx context.Context, opt TokenizerOptions) (*Report, error) {
	if opt.VocabSize == 0 {
		opt.VocabSize = 16000
	}
	if opt.Stdout == nil {
		opt.Stdout = io.Discard
	}
	if len(opt.Corpus) == 0 {
		c, err := DefaultCorpus()
		if err != nil {
			return nil, err
		}
		opt.Corpus = c
	}
	if err := os.MkdirAll(opt.Out, 0o755); err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	rep := &Report{Corpus: opt.Corpus, VocabSize: opt.VocabSize}

	// Every tenth document is held out for measuring.
	var train, heldKo, heldOther []string
	for text, err := range corpus.Texts(opt.Corpus, corpus.Options{}) {
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rep.Documents++
		heldOut := rep.Documents%10 == 0
		if opt.HeldOut != nil {
			heldOut = opt.HeldOut(rep.Documents, text)
		}
		switch {
		case !heldOut:
			train = append(train, text)
			rep.TrainBytes += int64(len(text))
		case isKorean(text):
			heldKo = append(heldKo, text)
		default:
			heldOther = append(heldOther, text)
		}
		opt.Progress.Printf("reading corpus: %d documents", rep.Documents)
	}
	opt.Progress.Done()
	rep.TrainDocs = len(train)
	rep.HeldOutDocs = len(heldKo) + len(heldOther)
	if len(train) == 0 || len(heldKo)+len(heldOther) == 0 {
		return nil, fmt.Errorf("corpus %v holds %d documents (%d held out); the demo needs at least 10, some held out", opt.Corpus, rep.Documents, len(heldKo)+len(heldOther))
	}
	slog.Info("corpus read", "documents", rep.Documents, "train_mb", float64(rep.TrainBytes)/1e6,
		"held_out_korean", len(heldKo), "held_out_other", len(heldOther))

	start := time.Now()
	texts := func(yield func(string, error) bool) {
		for _, s := range train {
			if !yield(s, nil) {
				return
			}
		}
	}
	wc, err := tokenizer.CountWords(ctx, texts, tokenizer.CountOptions{Workers: opt.Workers})
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Train(ctx, wc, tokenizer.TrainOptions{
		VocabSize: opt.VocabSize,
		Special:   []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>"},
		Progress:  func(done, total int) { opt.Progress.Printf("training tokenizer: %d / %d merges", done, total) },
	})
	opt.Progress.Done()
	if err != nil {
		return nil, err
	}
	rep.TrainSeconds = time.Since(start).Seconds()
	rep.VocabSize = tok.VocabSize() // a small corpus may support fewer merges than asked
	rep.Tokenizer = filepath.Join(opt.Out, "tokenizer.json")
	if err := tok.SaveJSON(rep.Tokenizer); err != nil {
		return nil, err
	}
	slog.Info("tokenizer trained", "path", rep.Tokenizer, "vocab", tok.VocabSize(), "seconds", rep.TrainSeconds)

	candidates := []struct {
		name string
		tok  *tokenizer.Tokenizer
	}{{"dokja (this run)", tok}}
	for _, name := range []string{"o200k", "cl100k"} {
		t, err := tokenizer.Named(name)
		if err != nil {
			return nil, err
		}
		candidates = append(candidates, struct {
			name string
			tok  *tokenizer.Tokenizer
		}{name, t})
	}
	for _, part := range []struct {
		name  string
		texts []string
	}{{"held-out Korean pages", heldKo}, {"held-out English pages", heldOther}} {
		if len(part.texts) == 0 {
			continue
		}
		for _, c := range candidates {
			st, err := tokenizer.Measure(ctx, c.tok, part.texts, opt.Workers)
			if err != nil {
				return nil, err
			}
			row := Row{Tokenizer: c.name, Part: part.name, Texts: st.Texts, Chars: st.Chars, Tokens: st.Tokens,
				CharsPerToken: st.CharsPerToken(), MBPerSecond: st.MBPerSecond()}
			if st.Hangul > 0 {
				row.TokensPerHangul = st.TokensPerHangul()
			}
			rep.Rows = append(rep.Rows, row)
		}
	}
	for _, r := range rep.Rows {
		if r.Part == "held-out Korean pages" && r.Tokenizer == "o200k" {
			rep.KoreanSavings = 1 - float64(rep.Rows[0].Tokens)/float64(r.Tokens)
		}
	}
	if err := atomicfile.WriteJSON(filepath.Join(opt.Out, "report.json"), rep); err != nil {
		return nil, err
	}
	printReport(opt.Stdout, rep)
	return rep, nil
}

func printReport(w io.Writer, rep *Report) {
	corpus := fmt.Sprint(rep.Corpus)
	if len(rep.Corpus) > 3 {
		corpus = fmt.Sprintf("[%s ... %s] (%d files)", rep.Corpus[0], rep.Corpus[len(rep.Corpus)-1], len(rep.Corpus))
	}
	fmt.Fprintf(w, "\nDokja demo: tokenizer\n  corpus     %s\n  documents  %d (%d for training, %.1f MB; %d held out)\n  tokenizer  %s, %d tokens, trained in %.1fs\n\n",
		corpus, rep.Documents, rep.TrainDocs, float64(rep.TrainBytes)/1e6, rep.HeldOutDocs, rep.Tokenizer, rep.VocabSize, rep.TrainSeconds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  text\ttokenizer\ttokens\tchars/token\ttokens/syllable\tMB/s")
	for _, r := range rep.Rows {
		syl := "-"
		if r.TokensPerHangul > 0 {
			syl = fmt.Sprintf("%.3f", r.TokensPerHangul)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%.2f\t%s\t%.1f\n", r.Part, r.Tokenizer, r.Tokens, r.CharsPerToken, syl, r.MBPerSecond)
	}
	tw.Flush()
	if rep.KoreanSavings != 0 {
		fmt.Fprintf(w, "\n  On held-out Korean pages this run's tokenizer needs %.1f%% fewer tokens than o200k.\n", 100*rep.KoreanSavings)
	}
}
