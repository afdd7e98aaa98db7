package shards

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// MaxShards is the most shards a SplitWriter writes for one split: five
// digits keep name order equal to number order.
const MaxShards = 100000

// ShardName returns the file name of shard n of a split: "train-00003.tok".
func ShardName(split string, n int) string {
	return fmt.Sprintf("%s-%05d.tok", split, n)
}

// IsVal reports whether a document belongs to the validation split: the
// first 8 bytes of SHA-256(text), read as a big-endian uint64 and divided
// by 2^64, fall below fraction. The choice depends on the text alone, so
// it is stable across runs and identical documents always land in the
// same split.
func IsVal(text string, fraction float64) bool {
	if fraction <= 0 {
		return false
	}
	sum := sha256.Sum256([]byte(text))
	u := binary.BigEndian.Uint64(sum[:8])
	return float64(u)/math.Exp2(64) < fraction
}

// SplitWriter writes the documents of one split as numbered shards
// DIR/<split>-00000.tok, DIR/<split>-00001.tok, ... A shard is started on
// the first document, and a new one when the current shard holds at least
// the target number of ids; documents are never split across shards, so a
// shard may pass the target by one document. A SplitWriter is not safe for
// concurrent use.
type SplitWriter struct {
	dir, split  string
	vocab, sep  int
	shardTokens int64
	cur         *Writer
	files       []string // base names of the finished shards
	count, docs int64
	err         error
}

// NewSplitWriter returns a SplitWriter for split in dir. shardTokens is the
// target size of a shard in ids and must be positive; vocab and sep are as
// for Create. No file is created before the first Append.
func NewSplitWriter(dir, split string, vocab, sep int, shardTokens int64) (*SplitWriter, error) {
	if split == "" || strings.ContainsAny(split, `/\*?[`) {
		return nil, fmt.Errorf("shards: split name %q: want a plain name such as train or val", split)
	}
	if shardTokens <= 0 {
		return nil, fmt.Errorf("shards: shard size %d: must be positive", shardTokens)
	}
	if vocab < 1 || vocab > MaxVocab || sep < 0 || sep >= vocab {
		return nil, fmt.Errorf("shards: vocab %d and separator %d: want 1 <= vocab <= %d and 0 <= separator < vocab", vocab, sep, MaxVocab)
	}
	return &SplitWriter{dir: dir, split: split, vocab: vocab, sep: sep, shardTokens: shardTokens}, nil
}

// Append writes one document (the separator, then doc), starting a new
// shard first when the current one is full. An id outside the vocabulary
// is reported as by Writer.Append and leaves the SplitWriter usable; any
// other error is final.
func (s *SplitWriter) Append(doc []int) error {
	if s.err != nil {
		return s.err
	}
	if s.cur != nil && s.cur.Count() >= s.shardTokens {
		if err := s.finish(); err != nil {
			return err
		}
	}
	if s.cur == nil {
		n := len(s.files)
		if n >= MaxShards {
			s.err = fmt.Errorf("shards: split %s: more than %d shards; use larger shards", s.split, MaxShards)
			return s.err
		}
		w, err := Create(filepath.Join(s.dir, ShardName(s.split, n)), s.vocab, s.sep)
		if err != nil {
			s.err = err
			return err
		}
		s.cur = w
	}
	before := s.cur.Count()
	if err := s.cur.Append(doc); err != nil {
		if s.cur.err != nil { // the writer failed, not the document
			s.err = err
		}
		return err
	}
	s.count += s.cur.Count() - before
	s.docs++
	return nil
}

// finish closes the current shard.
func (s *SplitWriter) finish() error {
	w := s.cur
	s.cur = nil
	if err := w.Close(); err != nil {
		s.err = err
		return err
	}
	s.files = append(s.files, filepath.Base(w.Path()))
	return nil
}

// Count returns the number of ids written so far, separators included.
func (s *SplitWriter) Count() int64 { return s.count }

// Docs returns the number of documents written so far.
func (s *SplitWriter) Docs() int64 { return s.docs }

// Files returns the base names of the shards finished so far; after Close,
// all of them (none if no document was appended).
func (s *SplitWriter) Files() []string { return append([]string(nil), s.files...) }

// Close finishes the last shard.
func (s *SplitWriter) Close() error {
	if s.err != nil {
		return s.err
	}
	if s.cur != nil {
		if err := s.finish(); err != nil {
			return err
		}
	}
	s.err = fmt.Errorf("shards: split %s: writer: %w", s.split, ErrClosed)
	return nil
}

// Abort removes the shard in progress and every shard this SplitWriter
// finished, also after Close, so that a job failing later can undo its
// output. Calling it again is harmless.
func (s *SplitWriter) Abort() {
	if s.cur != nil {
		s.cur.Abort()
		s.cur = nil
	}
	for _, f := range s.files {
		os.Remove(filepath.Join(s.dir, f))
	}
	s.files = nil
	if s.err == nil {
		s.err = fmt.Errorf("shards: split %s: writer aborted: %w", s.split, ErrClosed)
	}
}
