// Package shards stores tokenized corpora as flat files of token ids, the
// input of training: a Writer writes one shard, Open maps one read-only, a
// Set presents the numbered shards of a split (train-00000.tok,
// train-00001.tok, ...) as one sequence, and a Manifest (manifest.json)
// records how a folder of shards was made.
//
// # Format (version 1)
//
// All numbers are little-endian. A shard starts with a 64-byte header:
//
//	offset size field
//	     0    8 magic "DOKJATOK"
//	     8    4 version, 1
//	    12    4 width: bytes per id, 2 (uint16) or 4 (uint32)
//	    16    4 vocab: vocabulary size; every id is below it
//	    20    4 separator: the document separator id, below vocab
//	    24    8 count: number of ids in the file
//	    32    8 docs: number of documents
//	    40   24 reserved: written as zeros, ignored when read
//
// and continues with count ids of width bytes each, nothing after them.
// Writers use width 2 when vocab <= 65536 and 4 otherwise. Each document
// is stored as the separator followed by its ids ("sep d1... sep d2..."),
// so every separator starts a document: a trainer restarts attention and
// positions there, and the last id of a document learns to predict the
// next separator, the end of the document.
//
// Shards are untrusted input when read: Open checks every header field and
// the file size, and Read checks every id against the vocabulary, so a
// corrupt file yields an error naming the file and offset, never a panic
// or an out-of-range id.
package shards

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
)

const (
	// Magic opens every shard file.
	Magic = "DOKJATOK"
	// Version is the format version this package reads and writes.
	Version = 1
	// HeaderSize is the length of the header in bytes.
	HeaderSize = 64
	// MaxVocab is the largest vocabulary a shard may declare: ids are
	// handed out as int32.
	MaxVocab = math.MaxInt32
)

// WidthFor returns the bytes per id that writers use for a vocabulary of
// vocab ids: 2 when every id fits in a uint16, 4 otherwise.
func WidthFor(vocab int) int {
	if vocab <= 1<<16 {
		return 2
	}
	return 4
}

// header is the decoded 64-byte header.
type header struct {
	version, width, vocab, sep uint32
	count, docs                uint64
}

func (h header) encode() []byte {
	b := make([]byte, HeaderSize)
	copy(b, Magic)
	binary.LittleEndian.PutUint32(b[8:], h.version)
	binary.LittleEndian.PutUint32(b[12:], h.width)
	binary.LittleEndian.PutUint32(b[16:], h.vocab)
	binary.LittleEndian.PutUint32(b[20:], h.sep)
	binary.LittleEndian.PutUint64(b[24:], h.count)
	binary.LittleEndian.PutUint64(b[32:], h.docs)
	return b
}

// parseHeader decodes and checks b (at least HeaderSize bytes) against a
// file of size bytes. Errors name the field at fault; the caller adds
// the file name.
func parseHeader(b []byte, size int64) (header, error) {
	if string(b[:8]) != Magic {
		return header{}, fmt.Errorf("bad magic %q, expected %q (not a token shard)", b[:8], Magic)
	}
	h := header{
		version: binary.LittleEndian.Uint32(b[8:]),
		width:   binary.LittleEndian.Uint32(b[12:]),
		vocab:   binary.LittleEndian.Uint32(b[16:]),
		sep:     binary.LittleEndian.Uint32(b[20:]),
		count:   binary.LittleEndian.Uint64(b[24:]),
		docs:    binary.LittleEndian.Uint64(b[32:]),
	}
	switch {
	case h.version != Version:
		return h, fmt.Errorf(`header field "version" is %d, expected %d`, h.version, Version)
	case h.width != 2 && h.width != 4:
		return h, fmt.Errorf(`header field "width" is %d, expected 2 or 4`, h.width)
	case h.vocab == 0:
		return h, fmt.Errorf(`header field "vocab" is 0, expected at least 1`)
	case h.vocab > MaxVocab:
		return h, fmt.Errorf(`header field "vocab" is %d, more than the limit of %d`, h.vocab, MaxVocab)
	case h.width == 2 && h.vocab > 1<<16:
		return h, fmt.Errorf(`header field "width" is 2, but vocab %d needs 4`, h.vocab)
	case h.sep >= h.vocab:
		return h, fmt.Errorf(`header field "separator" is %d, expected below vocab %d`, h.sep, h.vocab)
	case h.docs > h.count:
		return h, fmt.Errorf(`header field "docs" is %d, more than the %d ids in the file (each document starts with a separator)`, h.docs, h.count)
	case h.count > 0 && h.docs == 0:
		return h, fmt.Errorf(`header field "docs" is 0, but the file holds %d ids`, h.count)
	}
	hi, lo := bits.Mul64(h.count, uint64(h.width))
	lo, carry := bits.Add64(lo, HeaderSize, 0)
	if hi != 0 || carry != 0 || lo > math.MaxInt64 {
		return h, fmt.Errorf("file has %d bytes, header implies 2^63 bytes or more (count %d × width %d + %d)", size, h.count, h.width, HeaderSize)
	}
	if int64(lo) != size {
		return h, fmt.Errorf("file has %d bytes, header implies %d (count %d × width %d + %d)", size, lo, h.count, h.width, HeaderSize)
	}
	return h, nil
}
