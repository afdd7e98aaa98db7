// Package mapfile maps files read-only into memory, for the readers of
// large untrusted files (safetensors, GGUF, token shards): the operating
// system pages weights and tokens in as they are touched, and several
// processes share one copy. Callers fall back to reading the file where
// mapping is not supported.
package mapfile

import (
	"fmt"
	"io"
	"math"
	"os"
)

// MapOrRead returns the first size bytes of f: mapped with mapFn
// (normally Map; tests pass one that fails), or read into memory when
// mapping fails. mapped says which, so that the caller unmaps only a
// mapping. Sizes beyond the platform's int fail with an error.
func MapOrRead(f *os.File, size int64, mapFn func(*os.File, int) ([]byte, error)) (buf []byte, mapped bool, err error) {
	if uint64(size) > math.MaxInt {
		return nil, false, fmt.Errorf("file of %d bytes is too large for this platform", size)
	}
	if size == 0 {
		return nil, false, nil
	}
	if b, err := mapFn(f, int(size)); err == nil {
		return b, true, nil
	}
	buf = make([]byte, size)
	if _, err := io.ReadFull(io.NewSectionReader(f, 0, size), buf); err != nil {
		return nil, false, fmt.Errorf("reading: %w", err)
	}
	return buf, false, nil
}
