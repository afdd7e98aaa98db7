package data

import (
	"strings"
	"testing"
)

// FuzzConfig feeds pipeline configs to ParseConfig and Build: errors are
// fine, panics are not.
func FuzzConfig(f *testing.F) {
	f.Add(plantedConfig)
	f.Add("stages:\n  - normalize: {form: nfkc, min_chars: 3}\n  - length: {min_chars: 1, max_chars: 10}\n  - line_dedup: {min_chars: 5}")
	f.Add("stages:\n  - quality: {ko: {gopher: {min_words: 3}}, en: {c4: {enabled: false}}}\n  - pii: {kinds: [rrn, phone], drop_at: 3}")
	f.Add("input: {paths: [a, b], format: warc, limit: 5}\nshard_docs: 7\nstages: [exact_dedup, minhash_dedup]")
	f.Add("stages:\n  - minhash_dedup: {unit: word, shingle: 2, hashes: 8, bands: 4, rows: 2, threshold: 0.5}")
	f.Fuzz(func(t *testing.T, text string) {
		if strings.Contains(text, "tokenize") || strings.Contains(text, "decontaminate") {
			return // these read files named in the config
		}
		cfg, err := ParseConfig([]byte(text))
		if err != nil {
			return
		}
		cfg.Build(nil)
	})
}
