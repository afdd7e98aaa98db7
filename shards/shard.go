package shards

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"

	"github.com/dokja/dokja/mapfile"
)

// mapFile maps a file; tests replace it to exercise the fallback.
var mapFile = mapfile.Map

// Shard is an open shard file, mapped read-only. Its methods may be
// called from several goroutines at once.
type Shard struct {
	path   string
	mu     sync.RWMutex
	buf    []byte // the whole file; nil once closed
	mapped bool   // buf comes from mmap
	data   []byte // the ids, a suffix of buf
	h      header
}

// Open maps the shard at path read-only (reading it into memory where
// mapping fails) and checks its header: magic, version, a width of 2 or
// 4, a vocabulary of 1 to MaxVocab ids, a separator below it, at most as
// many documents as ids, a separator as the first id, and a file size of
// exactly HeaderSize + count × width. Errors name the file and the field
// at fault.
func Open(path string) (*Shard, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("shards: %s: not a regular file", path)
	}
	size := st.Size()
	if size < HeaderSize {
		return nil, fmt.Errorf("shards: %s: file has %d bytes, too short for the %d-byte header", path, size, HeaderSize)
	}
	hb := make([]byte, HeaderSize)
	if _, err := f.ReadAt(hb, 0); err != nil {
		return nil, fmt.Errorf("shards: %s: reading the header: %w", path, err)
	}
	h, err := parseHeader(hb, size)
	if err != nil {
		return nil, fmt.Errorf("shards: %s: %w", path, err)
	}
	s := &Shard{path: path, h: h}
	if s.buf, s.mapped, err = mapfile.MapOrRead(f, size, mapFile); err != nil {
		return nil, fmt.Errorf("shards: %s: %w", path, err)
	}
	s.data = s.buf[HeaderSize:]
	if h.count > 0 {
		if first := s.id(0); first != h.sep {
			s.Close()
			return nil, fmt.Errorf("shards: %s: first id is %d, expected the separator %d (every document starts with one)", path, first, h.sep)
		}
	}
	return s, nil
}

// id returns the i-th id without checks.
func (s *Shard) id(i int64) uint32 {
	if s.h.width == 2 {
		return uint32(binary.LittleEndian.Uint16(s.data[2*i:]))
	}
	return binary.LittleEndian.Uint32(s.data[4*i:])
}

// Path returns the path the shard was opened from.
func (s *Shard) Path() string { return s.path }

// Len returns the number of ids in the shard, separators included.
func (s *Shard) Len() int64 { return int64(s.h.count) }

// Vocab returns the vocabulary size: every valid id is below it.
func (s *Shard) Vocab() int { return int(s.h.vocab) }

// Separator returns the document separator id.
func (s *Shard) Separator() int { return int(s.h.sep) }

// Docs returns the number of documents, as recorded in the header.
func (s *Shard) Docs() int64 { return int64(s.h.docs) }

// Width returns the bytes per id, 2 or 4.
func (s *Shard) Width() int { return int(s.h.width) }

// Read copies the len(dst) ids starting at id offset off into dst. It
// fails if the range is not inside [0, Len()), if the shard is closed, or
// if an id is not below Vocab(), naming the file and the offset; dst's
// contents are then unspecified.
func (s *Shard) Read(off int64, dst []int32) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.buf == nil {
		return fmt.Errorf("shards: %s: %w", s.path, ErrClosed)
	}
	n := int64(len(dst))
	if off < 0 || off > s.Len() || n > s.Len()-off {
		return fmt.Errorf("shards: %s: read of %d ids at offset %d is outside [0, %d)", s.path, n, off, s.Len())
	}
	vocab := s.h.vocab
	if s.h.width == 2 {
		b := s.data[2*off : 2*(off+n)]
		for i := range dst {
			id := uint32(binary.LittleEndian.Uint16(b[2*i:]))
			if id >= vocab {
				return s.badID(off+int64(i), id)
			}
			dst[i] = int32(id)
		}
		return nil
	}
	b := s.data[4*off : 4*(off+n)]
	for i := range dst {
		id := binary.LittleEndian.Uint32(b[4*i:])
		if id >= vocab {
			return s.badID(off+int64(i), id)
		}
		dst[i] = int32(id)
	}
	return nil
}

func (s *Shard) badID(off int64, id uint32) error {
	return fmt.Errorf("shards: %s: id %d at offset %d is outside the vocabulary [0, %d) (corrupt file)", s.path, id, off, s.h.vocab)
}

// Close unmaps the file. Closing twice is harmless.
func (s *Shard) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := s.buf
	s.buf, s.data = nil, nil
	if buf != nil && s.mapped {
		if err := mapfile.Unmap(buf); err != nil {
			return fmt.Errorf("shards: %s: unmap: %w", s.path, err)
		}
	}
	return nil
}
