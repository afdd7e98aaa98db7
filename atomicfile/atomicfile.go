// Package atomicfile writes files so that readers see either the old
// content or the complete new one, never a half-written file: data goes to
// a temporary file in the same folder, is synced, then renamed over the
// target. A failed write removes the temporary file.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// CreateTemp creates a new file beside path, named after it, for writing
// and renaming over it. Unlike os.CreateTemp (always mode 0600) it asks
// for 0666 and lets the umask decide, as os.Create does, so that
// checkpoints and shards are readable by whoever may read the folder.
func CreateTemp(path string) (*os.File, error) {
	for range 100 {
		var b [6]byte
		rand.Read(b[:])
		name := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp"+hex.EncodeToString(b[:]))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, &fs.PathError{Op: "createtemp", Path: path, Err: fs.ErrExist}
}

// Write creates or replaces path with what write produces.
func Write(path string, write func(io.Writer) error) (err error) {
	tmp, err := CreateTemp(path)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = write(tmp); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// WriteFile creates or replaces path with data.
func WriteFile(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteJSON creates or replaces path with v as indented JSON and a final
// newline: the run files, reports and configs that Dokja's steps leave.
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return WriteFile(path, append(data, '\n'))
}

// ReadJSON reads a JSON file such as WriteJSON writes into a new T. A
// missing file gives an error that errors.Is(err, os.ErrNotExist) reports,
// so that callers can tell "not done yet" from "damaged".
func ReadJSON[T any](path string) (*T, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal(data, v); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// RemoveStale removes the temporary files a killed writer left in dir
// (named as CreateTemp names them: ".NAME.tmp" and twelve hex digits) and
// returns their names. Only a process that owns dir should call it: a
// write in progress there would lose its file.
func RemoveStale(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !isTempName(e.Name()) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, err
		}
		removed = append(removed, e.Name())
	}
	return removed, nil
}

// isTempName reports whether name is one CreateTemp makes.
func isTempName(name string) bool {
	i := strings.LastIndex(name, ".tmp")
	if !strings.HasPrefix(name, ".") || i < 2 || len(name)-i-4 != 12 {
		return false
	}
	_, err := hex.DecodeString(name[i+4:])
	return err == nil
}
