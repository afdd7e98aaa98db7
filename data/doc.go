// Package data curates raw Korean and English text into training data:
// readers for JSON lines, text, HTML, Parquet and WARC (package corpus),
// per-document stages (Unicode normalisation, language identification,
// quality filters, PII redaction, decontamination against evaluation sets),
// corpus-wide stages (exact document and line deduplication, MinHash
// near-duplicate removal), and tokenisation into training shards.
//
// A pipeline is a list of stages read from YAML (see Config). The local
// runner (Run) splits the input into work shards, runs each shard through the
// stages on all cores and records a completion marker per shard and phase, so
// a killed run resumes without redoing or duplicating work. Corpus-wide
// stages cut the pipeline into phases: every shard first passes the stages
// before a corpus-wide stage and emits that stage's compact keys (hashes, band
// signatures); the stage then decides, from the keys of the whole corpus,
// which documents or lines go; the next phase applies the decision and goes
// on. The same stages run on Apache Beam (RunBeam) with the same output.
//
// Every run writes report.json and report.html: documents in, out and
// modified per stage, removals per reason with sample documents, languages,
// PII found per type, duplicate clusters and bad input records.
package data
