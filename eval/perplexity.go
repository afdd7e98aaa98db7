package eval

import (
	"fmt"
	"strconv"
	"unicode"

	"github.com/dokja/dokja/corpus"
)

// Perplexity is the task that scores documents of a text file as a whole
// (lm-evaluation-harness's loglikelihood_rolling, as in its wikitext task)
// and reports word and byte perplexity and bits per byte.
func Perplexity() *Task {
	return &Task{Name: "perplexity", Description: "perplexity over a text file (one document per line, or JSON lines)",
		OutputType: LoglikelihoodRolling,
		Metrics:    []string{MetricWordPerplexity, MetricBytePerplexity, MetricBitsPerByte}}
}

// LoadText reads documents for the perplexity task: one per line of a
// text file, or one per record of a JSON-lines file (field names the
// text, "text" by default); gzip and zstd are recognised.
func LoadText(path, field string) ([]Doc, error) {
	r, err := corpus.Open(path, corpus.Options{Field: field})
	if err != nil {
		return nil, fmt.Errorf("perplexity: %w", err)
	}
	defer r.Close()
	var docs []Doc
	for rec, err := range r.All() {
		if err != nil {
			return nil, fmt.Errorf("perplexity: %w", err)
		}
		docs = append(docs, Doc{ID: strconv.Itoa(len(docs) + 1), File: path, Line: int(rec.Line), Text: rec.Text})
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("perplexity: %s holds no documents", path)
	}
	return docs, nil
}

// countWords counts words as the harness does for word perplexity:
// len(re.split(r"\s+", doc)), the pieces between runs of whitespace
// (so leading or trailing whitespace adds an empty piece).
func countWords(s string) int {
	n, inSpace := 1, false
	for _, r := range s {
		sp := unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) // Python's str.isspace
		if sp && !inSpace {
			n++
		}
		inSpace = sp
	}
	return n
}

// rollingWindows cuts a document's tokens into the disjoint windows of
// the harness's get_rolling_token_windows with context_len 1 followed by
// make_disjoint_window: the first window predicts up to maxLen tokens after
// the prefix token, each later one up to maxLen more after the tokens
// before them (one token for a full window; the last, shorter window gets
// the longer context that fills it). Every token is predicted exactly once
// and a window (context plus continuation) is at most maxLen+1 tokens.
func rollingWindows(tokens []int, prefix, maxLen int) []Request {
	var out []Request
	if len(tokens) == 0 || maxLen < 1 {
		return nil
	}
	first := min(maxLen, len(tokens))
	out = append(out, Request{Context: []int{prefix}, Continuation: tokens[:first]})
	for done := first; done < len(tokens); {
		n := min(len(tokens)-done, maxLen)
		out = append(out, Request{Context: tokens[done+n-maxLen-1 : done], Continuation: tokens[done : done+n]})
		done += n
	}
	return out
}
