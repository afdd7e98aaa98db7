package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dokja/dokja/corpus"
	"github.com/dokja/dokja/progress"
	"github.com/dokja/dokja/tokenizer"
)

func runTokenizer(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return dispatch(ctx, "tokenizer", `
A tokenizer is named by --tokenizer: a tokenizer.json path (or a folder
holding one), a .tiktoken rank file, or o200k / cl100k for OpenAI's.`, []subcommand{
		{"train", "learn a byte-level BPE vocabulary from text or JSON lines", runTokTrain},
		{"encode", "turn stdin lines into token ids (or back, with --decode)", runTokEncode},
		{"stats", "characters per token, tokens per Hangul syllable, throughput", runTokStats},
		{"info", "vocabulary size, merges, pattern and added tokens of a tokenizer", runTokInfo},
		{"convert", "write a tokenizer (e.g. o200k) as a Hugging Face tokenizer.json", runTokConvert},
	}, args, stdin, stdout, stderr)
}

// corpusFlags are the input flags shared by train and stats.
type corpusFlags struct {
	inputs pathsFlag
	field  string
	format string
}

func (c *corpusFlags) register(fs *flags) {
	fs.Var(&c.inputs, "input", "input `file` or folder (repeatable; more may follow the flags): text with one record per line, JSON lines (.jsonl), HTML pages, Parquet or WARC; gzip or zstd compressed")
	fs.StringVar(&c.field, "field", "text", "JSON field or Parquet column holding the text (dotted paths such as meta.body descend)")
	fs.StringVar(&c.format, "format", "auto", "input format: auto (by file name), text, jsonl, html, parquet or warc")
}

// parse parses args, takes positional arguments as more inputs, and
// returns the reader options (printing usage on a missing input).
func (c *corpusFlags) parse(fs *flags, args []string) (corpus.Options, error) {
	if err := parse(fs, args); err != nil {
		return corpus.Options{}, err
	}
	c.inputs = append(c.inputs, fs.Args()...)
	opt, err := c.options()
	if err != nil {
		return opt, fs.usageError("%v", err)
	}
	return opt, nil
}

func (c *corpusFlags) options() (corpus.Options, error) {
	f, err := corpus.ParseFormat(c.format)
	if err != nil {
		return corpus.Options{}, fmt.Errorf("--format %q: %w", c.format, err)
	}
	opt := corpus.Options{Field: c.field, Format: f}
	if len(c.inputs) == 0 {
		return opt, errors.New("no --input given")
	}
	return opt, nil
}

func runTokTrain(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("tokenizer train", "[FILE...]", `
Learn a byte-level BPE tokenizer and write it as a Hugging Face
tokenizer.json. The input is streamed: memory grows with the number of
distinct pre-tokens (bounded by --max-words), not with the corpus. Counting
uses every core.

Example:
  dokja tokenizer train --input reviews.jsonl.gz --vocab-size 32000 --out tokenizer.json`, stdout, stderr)
	var in corpusFlags
	in.register(fs)
	vocab := fs.Int("vocab-size", 32000, "final vocabulary size, including the 256 byte tokens and the special tokens")
	out := fs.String("out", "tokenizer.json", "output tokenizer.json `path`")
	pattern := fs.String("pattern", "qwen2", "pre-tokenizer split pattern: qwen2 (digits one by one), llama3/cl100k (digits in threes), o200k, gpt2")
	var special listFlag
	fs.Var(&special, "special", "special tokens, comma-separated (repeatable; default <|endoftext|>,<|im_start|>,<|im_end|>)")
	minFreq := fs.Int64("min-frequency", 2, "stop when the most frequent pair occurs fewer times")
	maxWords := fs.Int("max-words", 8_000_000, "most distinct pre-tokens kept while counting; the rarest are dropped beyond it")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "goroutines that split and count text")
	legacy := fs.Bool("legacy-merges", false, `write merges as "a b" strings, for tokenizers releases before 0.20`)
	opt, err := in.parse(fs, args)
	if err != nil {
		return err
	}
	if len(special) == 0 {
		special = listFlag{"<|endoftext|>", "<|im_start|>", "<|im_end|>"}
	}
	pat, err := tokenizer.PatternByName(*pattern)
	if err != nil {
		return fmt.Errorf("--pattern: %w", err)
	}
	if *vocab < 256+len(special) {
		return fmt.Errorf("--vocab-size %d: must be at least %d (256 bytes and %d special tokens)", *vocab, 256+len(special), len(special))
	}
	line := progress.New(stderr)
	start := time.Now()
	wc, err := tokenizer.CountWords(ctx, corpus.Texts(in.inputs, opt), tokenizer.CountOptions{
		Pattern: pat, Workers: *workers, MaxWords: *maxWords,
		Progress: func(texts, bytes int64) {
			line.Printf("counting: %d texts, %.1f MB", texts, float64(bytes)/1e6)
		},
	})
	line.Done()
	if err != nil {
		return err
	}
	if wc.Texts == 0 || len(wc.Words) == 0 {
		return fmt.Errorf("the input holds no texts to learn from (%s: %d texts, %d bytes)", strings.Join(in.inputs, ", "), wc.Texts, wc.Bytes)
	}
	countTime := time.Since(start)
	slog.Info("counted pre-tokens", "texts", wc.Texts, "bytes", wc.Bytes, "distinct", len(wc.Words), "seconds", round(countTime.Seconds()))
	if wc.Pruned > 0 {
		slog.Warn("pre-tokens rarer than the threshold were dropped to respect --max-words", "threshold", wc.Pruned)
	}
	tok, err := tokenizer.Train(ctx, wc, tokenizer.TrainOptions{
		VocabSize: *vocab, MinFrequency: *minFreq, Special: special,
		Progress: func(done, total int) {
			if done == 0 {
				line.Printf("counting pairs of %d distinct pre-tokens", len(wc.Words))
				return
			}
			line.Printf("merging: %d / %d", done, total)
		},
	})
	line.Done()
	if err != nil {
		return err
	}
	if err := saveTokenizer(tok, *out, *legacy); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d tokens (%d merges, %d special) from %d texts, %.1f MB, in %.1fs\n",
		*out, tok.VocabSize(), tok.NumMerges(), len(tok.AddedTokens()), wc.Texts, float64(wc.Bytes)/1e6, time.Since(start).Seconds())
	if n := 256 + tok.NumMerges() + len(tok.AddedTokens()); n < *vocab {
		fmt.Fprintf(stdout, "note: the corpus supported only %d merges above --min-frequency %d, so the vocabulary is smaller than --vocab-size\n", tok.NumMerges(), *minFreq)
	}
	return nil
}

// tokenizerFlag registers --tokenizer; load then opens what it names.
type tokenizerFlag struct{ spec *string }

func newTokenizerFlag(fs *flags) tokenizerFlag {
	return tokenizerFlag{fs.String("tokenizer", "", "tokenizer.json path or folder, .tiktoken file, o200k or cl100k")}
}

func (f tokenizerFlag) load(fs *flags) (*tokenizer.Tokenizer, error) {
	if *f.spec == "" {
		return nil, fs.usageError("--tokenizer is required")
	}
	tok, err := tokenizer.Load(*f.spec)
	if err != nil {
		return nil, fmt.Errorf("--tokenizer: %w", err)
	}
	return tok, nil
}

func saveTokenizer(tok *tokenizer.Tokenizer, path string, legacy bool) error {
	if strings.HasSuffix(path, ".tiktoken") {
		// A rank file would silently lose the split pattern, the added
		// tokens and Hugging Face's merge order.
		return fmt.Errorf("--out %s: a .tiktoken rank file keeps neither the split pattern nor the added tokens; write a tokenizer.json instead", path)
	}
	return tok.SaveJSONWith(path, tokenizer.JSONOptions{LegacyMerges: legacy})
}

func round(x float64) float64 { return float64(int(x*100+0.5)) / 100 }

func runTokEncode(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("tokenizer encode", "", `
Read stdin line by line and print one line of space-separated token ids per
input line. With --decode, read lines of ids and print the text they spell.
Added tokens such as <|endoftext|> in the input become their single ids
unless --ordinary is set.

Example:
  echo "안녕하세요, 세계!" | dokja tokenizer encode --tokenizer o200k`, stdout, stderr)
	spec := newTokenizerFlag(fs)
	decode := fs.Bool("decode", false, "turn lines of ids back into text")
	ordinary := fs.Bool("ordinary", false, "treat added-token strings in the input as plain text")
	skipSpecial := fs.Bool("skip-special", false, "with --decode, leave out special tokens")
	if err := parse(fs, args); err != nil {
		return err
	}
	tok, err := spec.load(fs)
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(stdin, 1<<20)
	bw := bufio.NewWriterSize(stdout, 1<<20)
	if err := transcode(ctx, tok, br, bw, *decode, *ordinary, *skipSpecial); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("stdout: %w", err)
	}
	return nil
}

// transcode turns each line of br into ids (or back, with decode).
// Write errors surface through bw's sticky error, checked now and then.
func transcode(ctx context.Context, tok *tokenizer.Tokenizer, br *bufio.Reader, bw *bufio.Writer, decode, ordinary, skipSpecial bool) error {
	const maxLine = 256 << 20
	var buf []byte
	for n := 1; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if _, err := bw.Write(nil); err != nil {
				return fmt.Errorf("stdout: %w", err)
			}
		}
		buf = buf[:0]
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			buf = append(buf, chunk...)
			if len(buf) > maxLine {
				return fmt.Errorf("stdin line %d: longer than %d bytes", n, maxLine)
			}
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("stdin: %w", err)
		}
		if len(buf) == 0 && err == io.EOF {
			return nil
		}
		text := strings.TrimSuffix(strings.TrimSuffix(string(buf), "\n"), "\r")
		if decode {
			var ids []int
			for _, f := range strings.Fields(text) {
				id, perr := strconv.Atoi(f)
				if perr != nil {
					return fmt.Errorf("stdin line %d: %q is not a token id", n, f)
				}
				ids = append(ids, id)
			}
			s, derr := tok.DecodeWith(ids, tokenizer.DecodeOptions{SkipSpecial: skipSpecial})
			if derr != nil {
				return fmt.Errorf("stdin line %d: %w", n, derr)
			}
			bw.WriteString(s)
			bw.WriteByte('\n')
		} else {
			var ids []int
			var eerr error
			if ordinary {
				ids, eerr = tok.EncodeOrdinary(text)
			} else {
				ids, eerr = tok.Encode(text)
			}
			if eerr != nil {
				return fmt.Errorf("stdin line %d: %w", n, eerr)
			}
			out := make([]byte, 0, len(ids)*6)
			for i, id := range ids {
				if i > 0 {
					out = append(out, ' ')
				}
				out = strconv.AppendInt(out, int64(id), 10)
			}
			bw.Write(append(out, '\n'))
		}
		if err == io.EOF {
			return nil
		}
	}
}

// statsRow is one tokenizer's line in the stats report.
type statsRow struct {
	Tokenizer       string  `json:"tokenizer"`
	VocabSize       int     `json:"vocab_size"`
	CharsPerToken   float64 `json:"chars_per_token"`
	TokensPerHangul float64 `json:"tokens_per_hangul_syllable"`
	TokensPerSecond float64 `json:"tokens_per_second"`
	MBPerSecond     float64 `json:"mb_per_second"`
	tokenizer.Stats
}

func runTokStats(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("tokenizer stats", "[FILE...]", `
Encode a corpus with one or more tokenizers and report characters per token,
tokens per Hangul syllable (all tokens over the syllables U+AC00-U+D7A3 in
the text) and encoding throughput. The texts are read into memory first, so
only encoding is timed.

Example:
  dokja tokenizer stats --tokenizer tokenizer.json --tokenizer o200k --input heldout.jsonl`, stdout, stderr)
	var in corpusFlags
	in.register(fs)
	var specs listFlag
	fs.Var(&specs, "tokenizer", "tokenizer to measure (repeatable, or comma-separated)")
	limit := fs.Int("limit", 0, "read at most this many texts (0: all)")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "goroutines encoding in parallel")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	opt, err := in.parse(fs, args)
	if err != nil {
		return err
	}
	if len(specs) == 0 {
		return fs.usageError("--tokenizer is required")
	}
	var texts []string
	for s, err := range corpus.Texts(in.inputs, opt) {
		if err != nil {
			return err
		}
		texts = append(texts, s)
		if *limit > 0 && len(texts) >= *limit {
			break
		}
	}
	if len(texts) == 0 {
		return errors.New("the input holds no texts")
	}
	var rows []statsRow
	for _, spec := range specs {
		tok, err := tokenizer.Load(spec)
		if err != nil {
			return fmt.Errorf("--tokenizer %s: %w", spec, err)
		}
		st, err := tokenizer.Measure(ctx, tok, texts, *workers)
		if err != nil {
			return fmt.Errorf("%s: %w", spec, err)
		}
		rows = append(rows, statsRow{Tokenizer: spec, VocabSize: tok.VocabSize(), CharsPerToken: st.CharsPerToken(),
			TokensPerHangul: st.TokensPerHangul(), TokensPerSecond: st.TokensPerSecond(), MBPerSecond: st.MBPerSecond(), Stats: st})
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	printStats(stdout, rows)
	return nil
}

func printStats(w io.Writer, rows []statsRow) {
	if len(rows) == 0 {
		return
	}
	st := rows[0].Stats
	fmt.Fprintf(w, "%d texts, %d characters (%d Hangul syllables), %.2f MB\n\n", st.Texts, st.Chars, st.Hangul, float64(st.Bytes)/1e6)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "tokenizer\tvocab\ttokens\tchars/token\ttokens/syllable\tvs first\tMB/s\ttokens/s\t")
	for _, r := range rows {
		vs := float64(r.Tokens) / float64(rows[0].Tokens)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.2f\t%.0f\t\n", r.Tokenizer, r.VocabSize, r.Tokens,
			r.CharsPerToken, r.TokensPerHangul, vs, r.MBPerSecond, r.TokensPerSecond)
	}
	tw.Flush()
}

func runTokInfo(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("tokenizer info", "", "Print a tokenizer's vocabulary size, merges, split pattern and added tokens.", stdout, stderr)
	spec := newTokenizerFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	tok, err := spec.load(fs)
	if err != nil {
		return err
	}
	type added struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
	}
	info := struct {
		VocabSize int     `json:"vocab_size"`
		Merges    int     `json:"merges"`
		Pattern   string  `json:"pattern"`
		Added     []added `json:"added_tokens"`
	}{VocabSize: tok.VocabSize(), Merges: tok.NumMerges(), Pattern: tok.Pattern()}
	for _, a := range tok.AddedTokens() {
		info.Added = append(info.Added, added{a.ID, a.Content, a.Special})
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	fmt.Fprintf(stdout, "vocabulary: %d ids\nmerges:     %d\npattern:    %s\nadded:      %d tokens\n", info.VocabSize, info.Merges, info.Pattern, len(info.Added))
	for i, a := range info.Added {
		if i == 20 {
			fmt.Fprintf(stdout, "  … %d more\n", len(info.Added)-20)
			break
		}
		fmt.Fprintf(stdout, "  %7d  %s\n", a.ID, a.Content)
	}
	return nil
}

func runTokConvert(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("tokenizer convert", "", `
Write a tokenizer as a Hugging Face tokenizer.json: OpenAI's encodings
(o200k, cl100k, or a .tiktoken rank file) become files the Hugging Face
stack loads; a tokenizer.json can be rewritten with --legacy-merges.

Example:
  dokja tokenizer convert --tokenizer o200k --out o200k/tokenizer.json`, stdout, stderr)
	spec := newTokenizerFlag(fs)
	out := fs.String("out", "", "output tokenizer.json `path`")
	legacy := fs.Bool("legacy-merges", false, `write merges as "a b" strings`)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return fs.usageError("--out is required")
	}
	tok, err := spec.load(fs)
	if err != nil {
		return err
	}
	if err := saveTokenizer(tok, *out, *legacy); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}
