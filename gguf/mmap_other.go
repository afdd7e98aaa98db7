//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package gguf

import (
	"errors"
	"os"
)

func mmapFile(f *os.File, size int) ([]byte, error) {
	return nil, errors.New("mmap not supported on this platform")
}

func munmap(b []byte) error { return nil }

const mmapSupported = false
