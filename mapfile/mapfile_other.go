//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package mapfile

import (
	"errors"
	"os"
)

// Supported reports whether this platform maps files; elsewhere Map fails
// and callers read files into memory instead.
const Supported = false

// Map fails: this platform has no mmap in package syscall.
func Map(f *os.File, size int) ([]byte, error) {
	return nil, errors.New("mmap not supported on this platform")
}

// Unmap does nothing here.
func Unmap(b []byte) error { return nil }
