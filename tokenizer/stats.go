package tokenizer

import (
	"context"
	"time"
)

// Stats describes how a tokenizer compresses a set of texts.
type Stats struct {
	Texts   int64   `json:"texts"`
	Bytes   int64   `json:"bytes"`
	Chars   int64   `json:"chars"`
	Hangul  int64   `json:"hangul_syllables"`
	Tokens  int64   `json:"tokens"`
	Seconds float64 `json:"encode_seconds"`
	Workers int     `json:"workers"`
}

// CharsPerToken is characters (Unicode code points) per token.
func (s Stats) CharsPerToken() float64 { return ratio(s.Chars, s.Tokens) }

// TokensPerHangul is tokens per Hangul syllable: all tokens of the texts
// over the syllables U+AC00-U+D7A3 in them, meaningful for Korean text.
func (s Stats) TokensPerHangul() float64 { return ratio(s.Tokens, s.Hangul) }

// TokensPerSecond is encoding throughput over all workers.
func (s Stats) TokensPerSecond() float64 { return s.ratioTime(s.Tokens) }

// MBPerSecond is encoding throughput in megabytes (10^6) of UTF-8 a second.
func (s Stats) MBPerSecond() float64 { return s.ratioTime(s.Bytes) / 1e6 }

func (s Stats) ratioTime(n int64) float64 {
	if s.Seconds <= 0 {
		return 0
	}
	return float64(n) / s.Seconds
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Measure encodes texts on the given number of workers (0: all cores) and
// reports the counts and the time spent encoding.
func Measure(ctx context.Context, t *Tokenizer, texts []string, workers int) (Stats, error) {
	var s Stats
	for _, x := range texts {
		s.Texts++
		s.Bytes += int64(len(x))
		for _, r := range x {
			s.Chars++
			if r >= 0xAC00 && r <= 0xD7A3 {
				s.Hangul++
			}
		}
	}
	start := time.Now()
	ids, err := t.EncodeBatch(ctx, texts, workers)
	s.Seconds = time.Since(start).Seconds()
	if err != nil {
		return s, err
	}
	for _, x := range ids {
		s.Tokens += int64(len(x))
	}
	s.Workers = workers
	return s, nil
}
