package shards

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dokja/dokja/atomicfile"
)

// ManifestName is the manifest's file name in a shard folder.
const ManifestName = "manifest.json"

// ManifestVersion is the manifest format this package reads and writes.
const ManifestVersion = 1

// maxManifestBytes bounds the manifest ReadManifest accepts.
const maxManifestBytes = 64 << 20

// Manifest describes a folder of shards: how it was made and what it
// holds. It is written last, so its presence marks a complete folder.
type Manifest struct {
	// Version is the manifest format, ManifestVersion.
	Version int `json:"version"`
	// Tokenizer is the file name, inside the folder, of the tokenizer the
	// shards were made with (a copy as tokenizer.json).
	Tokenizer string `json:"tokenizer"`
	// TokenizerSHA256 is the hex SHA-256 of that file.
	TokenizerSHA256 string `json:"tokenizer_sha256"`
	// Vocab is the vocabulary size; every id is below it.
	Vocab int `json:"vocab"`
	// Separator is the document separator id, and SeparatorToken its text.
	Separator      int    `json:"separator"`
	SeparatorToken string `json:"separator_token"`
	// ValFraction is the share of documents sent to the val split (see
	// IsVal).
	ValFraction float64 `json:"val_fraction"`
	// Splits maps a split name ("train", "val") to what it holds. A split
	// that received no document is absent.
	Splits map[string]SplitInfo `json:"splits"`
	// Inputs are the input files, in the order they were read.
	Inputs []string `json:"inputs"`
	// Created is when the folder was completed.
	Created time.Time `json:"created"`
}

// SplitInfo is one split's entry in a Manifest.
type SplitInfo struct {
	// Tokens counts ids, separators included.
	Tokens int64 `json:"tokens"`
	// Documents counts documents (and so separators).
	Documents int64 `json:"documents"`
	// Files are the shard file names inside the folder, in order.
	Files []string `json:"files"`
}

// WriteManifest writes m as DIR/manifest.json, atomically.
func WriteManifest(dir string, m *Manifest) error {
	if err := m.check(); err != nil {
		return fmt.Errorf("shards: %s: %w", filepath.Join(dir, ManifestName), err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "<|endoftext|>" readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("shards: manifest: %w", err)
	}
	path := filepath.Join(dir, ManifestName)
	if err := atomicfile.WriteFile(path, buf.Bytes()); err != nil {
		return fmt.Errorf("shards: %w", err)
	}
	return nil
}

// ReadManifest reads and checks DIR/manifest.json: a known version, a
// vocabulary of 1 to MaxVocab ids, a separator below it, a val fraction in
// [0, 1), and plain file names (no folders) for the tokenizer and shards.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestName)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("shards: %s: %w", path, err)
	}
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("shards: %s: larger than %d bytes", path, maxManifestBytes)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("shards: %s: %w", path, err)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("shards: %s: %w", path, err)
	}
	return &m, nil
}

// check validates the fields a reader relies on.
func (m *Manifest) check() error {
	switch {
	case m.Version != ManifestVersion:
		return fmt.Errorf(`field "version" is %d, expected %d`, m.Version, ManifestVersion)
	case m.Vocab < 1 || m.Vocab > MaxVocab:
		return fmt.Errorf(`field "vocab" is %d, expected 1 to %d`, m.Vocab, MaxVocab)
	case m.Separator < 0 || m.Separator >= m.Vocab:
		return fmt.Errorf(`field "separator" is %d, expected below vocab %d`, m.Separator, m.Vocab)
	case !(m.ValFraction >= 0 && m.ValFraction < 1):
		return fmt.Errorf(`field "val_fraction" is %v, expected in [0, 1)`, m.ValFraction)
	}
	if !plainName(m.Tokenizer) {
		return fmt.Errorf(`field "tokenizer" is %q, expected a file name inside the folder`, m.Tokenizer)
	}
	for name, sp := range m.Splits {
		if name == "" || strings.ContainsAny(name, `/\*?[`) {
			return fmt.Errorf(`field "splits": bad split name %q`, name)
		}
		if sp.Tokens < 0 || sp.Documents < 0 || sp.Documents > sp.Tokens {
			return fmt.Errorf(`field "splits.%s": %d tokens and %d documents do not fit`, name, sp.Tokens, sp.Documents)
		}
		for i, f := range sp.Files {
			if !plainName(f) {
				return fmt.Errorf(`field "splits.%s.files[%d]" is %q, expected a file name inside the folder`, name, i, f)
			}
		}
	}
	return nil
}

// plainName reports whether s names a file directly inside a folder.
func plainName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`)
}

// Identity is a short hash of what the folder holds: the tokenizer, the
// vocabulary and separator, the val fraction and each split's files and
// counts. It leaves out where the folder is, the input paths and the
// time it was made, so a folder moved elsewhere, or tokenized again from
// the same text, keeps its identity.
func (m *Manifest) Identity() string {
	k := *m
	k.Inputs, k.Created = nil, time.Time{}
	data, _ := json.Marshal(k)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}
