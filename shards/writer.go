package shards

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/dokja/dokja/atomicfile"
)

// ErrClosed is returned (wrapped) when a closed Writer, Shard or Set is
// used.
var ErrClosed = errors.New("closed")

// Writer writes one shard. Ids go through a buffer into a temporary file
// in the target's folder; Close fills in the header, syncs and renames the
// file into place, so the target path either does not exist or holds a
// complete shard. After any error the temporary file is removed and the
// Writer refuses further use. A Writer is not safe for concurrent use.
type Writer struct {
	path  string
	tmp   *os.File
	bw    *bufio.Writer
	vocab int
	sep   int
	width int
	count int64
	docs  int64
	buf   []byte
	err   error // sticky: a failed write, Close or Abort
}

// Create starts a shard at path for ids below vocab, with sep as the
// document separator. vocab must be between 1 and MaxVocab, and sep below
// vocab. Nothing appears at path before Close.
func Create(path string, vocab, sep int) (*Writer, error) {
	if vocab < 1 || vocab > MaxVocab {
		return nil, fmt.Errorf("shards: %s: vocab %d is outside [1, %d]", path, vocab, MaxVocab)
	}
	if sep < 0 || sep >= vocab {
		return nil, fmt.Errorf("shards: %s: separator %d is outside [0, %d)", path, sep, vocab)
	}
	tmp, err := atomicfile.CreateTemp(path)
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	w := &Writer{path: path, tmp: tmp, bw: bufio.NewWriterSize(tmp, 1<<20), vocab: vocab, sep: sep, width: WidthFor(vocab)}
	// A placeholder header; Close writes the real one.
	if _, err := w.bw.Write(make([]byte, HeaderSize)); err != nil {
		w.fail(err)
		return nil, w.err
	}
	return w, nil
}

// fail records err (naming the file), removes the temporary file and
// returns the recorded error.
func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = fmt.Errorf("shards: %s: %w", w.path, err)
	}
	if w.tmp != nil {
		w.tmp.Close()
		os.Remove(w.tmp.Name())
		w.tmp = nil
	}
	return w.err
}

// Append writes one document: the separator, then doc. Ids outside
// [0, vocab) are rejected before anything is written, with an error
// naming the id and its position in doc; the Writer stays usable.
func (w *Writer) Append(doc []int) error {
	if w.err != nil {
		return w.err
	}
	for i, id := range doc {
		if id < 0 || id >= w.vocab {
			return fmt.Errorf("shards: %s: document %d: id %d at position %d is outside the vocabulary [0, %d)", w.path, w.docs, id, i, w.vocab)
		}
	}
	n := (len(doc) + 1) * w.width
	if cap(w.buf) < n {
		w.buf = make([]byte, n)
	}
	b := w.buf[:n]
	if w.width == 2 {
		binary.LittleEndian.PutUint16(b, uint16(w.sep))
		for i, id := range doc {
			binary.LittleEndian.PutUint16(b[2*i+2:], uint16(id))
		}
	} else {
		binary.LittleEndian.PutUint32(b, uint32(w.sep))
		for i, id := range doc {
			binary.LittleEndian.PutUint32(b[4*i+4:], uint32(id))
		}
	}
	if _, err := w.bw.Write(b); err != nil {
		return w.fail(err)
	}
	w.count += int64(len(doc)) + 1
	w.docs++
	return nil
}

// Count returns the number of ids written so far, separators included.
func (w *Writer) Count() int64 { return w.count }

// Docs returns the number of documents written so far.
func (w *Writer) Docs() int64 { return w.docs }

// Path returns the path the shard is renamed to by Close.
func (w *Writer) Path() string { return w.path }

// Close flushes the ids, writes the header, syncs the file and renames it
// to the target path. On error the temporary file is removed and nothing
// appears at the target path.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		return w.fail(err)
	}
	h := header{version: Version, width: uint32(w.width), vocab: uint32(w.vocab), sep: uint32(w.sep), count: uint64(w.count), docs: uint64(w.docs)}
	if _, err := w.tmp.WriteAt(h.encode(), 0); err != nil {
		return w.fail(err)
	}
	if err := w.tmp.Sync(); err != nil {
		return w.fail(err)
	}
	tmp := w.tmp
	w.tmp = nil
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return w.fail(err)
	}
	if err := os.Rename(tmp.Name(), w.path); err != nil {
		os.Remove(tmp.Name())
		return w.fail(err)
	}
	w.err = fmt.Errorf("shards: %s: writer: %w", w.path, ErrClosed)
	return nil
}

// Abort removes the temporary file and leaves the target path untouched.
// It is harmless after Close or another Abort.
func (w *Writer) Abort() {
	w.fail(fmt.Errorf("writer aborted: %w", ErrClosed))
}
