//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package mapfile

import (
	"os"
	"syscall"
)

// Supported reports whether this platform maps files; elsewhere Map fails
// and callers read files into memory instead.
const Supported = true

// Map maps the first size bytes of f read-only. The mapping outlives f.
func Map(f *os.File, size int) ([]byte, error) {
	return syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
}

// Unmap releases a mapping made by Map.
func Unmap(b []byte) error { return syscall.Munmap(b) }
