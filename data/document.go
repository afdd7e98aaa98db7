package data

import (
	"fmt"
	"path/filepath"

	"github.com/dokja/dokja/corpus"
)

// NewDocument makes the document for a record read from path: its ID is
// the record's, or "file:line" when the record has none.
func NewDocument(rec corpus.Record, path string, order uint64) Document {
	id := rec.ID
	if id == "" {
		id = fmt.Sprintf("%s:%d", filepath.Base(path), rec.Line)
	}
	return Document{Order: order, ID: id, Source: path, Line: rec.Line, Text: rec.Text}
}

// Document is one text moving through a pipeline.
type Document struct {
	// Order is the document's place in the input, unique within a run: the
	// work shard in the high 32 bits and the index within it in the low.
	// Corpus-wide stages keep the document with the smallest Order of a
	// group of duplicates, so the first occurrence in the input wins.
	Order uint64 `json:"order"`
	// ID is the record's identifier in its input (a JSON id field, a WARC
	// target URI) or, lacking one, "file:line".
	ID string `json:"id"`
	// Source and Line locate the record in the input.
	Source string `json:"source"`
	Line   int64  `json:"line"`
	Text   string `json:"text"`
	// Lang is an ISO 639-1 code set by the langid stage ("" before it,
	// "und" when no language was recognised) and LangScore its confidence.
	Lang      string  `json:"lang,omitempty"`
	LangScore float64 `json:"lang_score,omitempty"`
}

// Verdict is what a stage did to one document.
type Verdict struct {
	// Drop removes the document; Reason names the rule ("quality:
	// gopher.min_words", "exact_dedup") and Detail says why in words.
	Drop   bool
	Reason string
	Detail string
	// Modified reports that the stage changed the document's text.
	Modified bool
	// Counts are things the stage found and reports per type (PII kinds,
	// languages); nil when none.
	Counts map[string]int
}
