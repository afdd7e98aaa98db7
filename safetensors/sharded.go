package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// The file names Hugging Face uses for a single-file and a sharded
// checkpoint.
const (
	SingleFileName = "model.safetensors"
	IndexFileName  = "model.safetensors.index.json"
)

// maxIndexSize bounds the index file ReadIndex accepts.
const maxIndexSize = 100 << 20

// Index is a sharded checkpoint's model.safetensors.index.json.
type Index struct {
	// Metadata is the index's "metadata" object (typically
	// {"total_size": N}); numbers are json.Number. It may be nil.
	Metadata map[string]any
	// WeightMap maps each tensor name to the shard file holding it, a
	// plain file name in the index's folder.
	WeightMap map[string]string
}

// Shards lists the distinct shard file names in sorted order.
func (ix *Index) Shards() []string {
	var out []string
	for _, s := range ix.WeightMap {
		out = append(out, s)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// ReadIndex reads a sharded checkpoint's index file. The weight map must
// be a non-empty object of strings without duplicate keys, and every
// shard name must be a plain file name: not empty, ".", "..", absolute,
// nor containing a path separator, so that shards cannot lie outside the
// index's folder.
func ReadIndex(path string) (*Index, error) {
	data, err := readLimited(path, maxIndexSize)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	errorf := func(format string, args ...any) error {
		return fmt.Errorf("safetensors: %s: %s", path, fmt.Sprintf(format, args...))
	}
	if !utf8.Valid(data) {
		return nil, errorf("not valid UTF-8")
	}
	members, err := readObject(data)
	if err != nil {
		return nil, errorf("%v", err)
	}
	ix := &Index{}
	var haveMap bool
	for _, m := range members {
		switch m.key {
		case "metadata":
			if kind(m.value) == "null" {
				continue
			}
			if k := kind(m.value); k != "an object" {
				return nil, errorf("metadata is %s, not an object", k)
			}
			dec := json.NewDecoder(bytes.NewReader(m.value))
			dec.UseNumber()
			if err := dec.Decode(&ix.Metadata); err != nil {
				return nil, errorf("metadata: %v", jsonErr(err))
			}
		case "weight_map":
			if k := kind(m.value); k != "an object" {
				return nil, errorf("weight_map is %s, not an object", k)
			}
			entries, err := readObject(m.value)
			if err != nil {
				return nil, errorf("weight_map: %v", err)
			}
			ix.WeightMap = make(map[string]string, len(entries))
			for _, e := range entries {
				shard, err := readString(e.value)
				if err != nil {
					return nil, errorf("weight_map: tensor %s: shard name %v", quote(e.key), err)
				}
				if err := checkShardName(shard); err != nil {
					return nil, errorf("weight_map: tensor %s: shard name %s %v", quote(e.key), quote(shard), err)
				}
				ix.WeightMap[e.key] = shard
			}
			haveMap = true
		}
	}
	if !haveMap {
		return nil, errorf("missing weight_map")
	}
	if len(ix.WeightMap) == 0 {
		return nil, errorf("weight_map is empty")
	}
	return ix, nil
}

// checkShardName refuses shard names that could point outside the index's
// folder.
func checkShardName(s string) error {
	switch {
	case s == "":
		return errors.New("is empty")
	case s == "." || s == "..":
		return errors.New("is not a file name")
	case strings.ContainsAny(s, `/\`):
		return errors.New("contains a path separator")
	case strings.ContainsRune(s, 0):
		return errors.New("contains a NUL byte")
	case filepath.IsAbs(s) || filepath.VolumeName(s) != "" || !filepath.IsLocal(s):
		return errors.New("is not a local file name")
	}
	return nil
}

// readLimited reads a regular file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than the limit of %d bytes", path, limit)
	}
	return data, nil
}

// Set is a checkpoint that may be split across several safetensors files,
// read through one API. Its methods may be called from several goroutines
// at once, but not concurrently with Close.
type Set struct {
	dir    string
	index  *Index
	files  []*File
	byName map[string]*File
	names  []string
}

// OpenSharded opens the checkpoint in dir: model.safetensors if it exists
// (as the transformers library prefers), otherwise
// model.safetensors.index.json and every shard it names. The index and
// the shards must agree exactly: every listed tensor must be in the shard
// the index names, no tensor may be in two shards, and no shard may hold a
// tensor the index does not list.
func OpenSharded(dir string) (*Set, error) {
	single := filepath.Join(dir, SingleFileName)
	if _, err := os.Stat(single); err == nil {
		f, err := Open(single)
		if err != nil {
			return nil, err
		}
		s := &Set{dir: dir, files: []*File{f}, byName: make(map[string]*File), names: f.Names()}
		for _, n := range s.names {
			s.byName[n] = f
		}
		return s, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	indexPath := filepath.Join(dir, IndexFileName)
	if _, err := os.Stat(indexPath); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("safetensors: %s: neither %s nor %s exists", dir, SingleFileName, IndexFileName)
	}
	ix, err := ReadIndex(indexPath)
	if err != nil {
		return nil, err
	}
	s := &Set{dir: dir, index: ix, byName: make(map[string]*File)}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	shardOf := make(map[*File]string)
	for _, shard := range ix.Shards() {
		f, err := Open(filepath.Join(dir, shard))
		if err != nil {
			return nil, fmt.Errorf("%w (shard named in %s)", err, indexPath)
		}
		s.files = append(s.files, f)
		shardOf[f] = shard
		for _, n := range f.names {
			if g, dup := s.byName[n]; dup {
				return nil, fmt.Errorf("safetensors: %s: tensor %s appears in shards %s and %s",
					dir, quote(n), quote(shardOf[g]), quote(shard))
			}
			s.byName[n] = f
		}
	}
	for _, n := range sortedKeys(ix.WeightMap) {
		want := ix.WeightMap[n]
		f, found := s.byName[n]
		if !found {
			return nil, fmt.Errorf("safetensors: %s: tensor %s: listed in shard %s, which does not hold it",
				indexPath, quote(n), quote(want))
		}
		if got := shardOf[f]; got != want {
			return nil, fmt.Errorf("safetensors: %s: tensor %s: listed in shard %s, but it is in %s",
				indexPath, quote(n), quote(want), quote(got))
		}
	}
	for _, f := range s.files {
		for _, n := range f.names {
			if _, listed := ix.WeightMap[n]; !listed {
				return nil, fmt.Errorf("safetensors: %s: tensor %s is in shard %s but not in the index",
					indexPath, quote(n), quote(shardOf[f]))
			}
		}
	}
	s.names = sortedKeys(s.byName)
	ok = true
	return s, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Index is the checkpoint's index, or nil for a single-file checkpoint.
func (s *Set) Index() *Index { return s.index }

// Files lists the open files, one per shard, in shard-name order.
func (s *Set) Files() []*File { return slices.Clone(s.files) }

// Names lists all tensor names across shards, sorted.
func (s *Set) Names() []string { return slices.Clone(s.names) }

// Info describes the named tensor.
func (s *Set) Info(name string) (TensorInfo, bool) {
	f, ok := s.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Info(name)
}

// Float32 converts the named tensor to a new []float32; see File.Float32.
func (s *Set) Float32(name string) ([]float32, error) {
	f, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	return f.Float32(name)
}

// Bytes returns a view of the named tensor's stored bytes; see File.Bytes.
func (s *Set) Bytes(name string) ([]byte, error) {
	f, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	return f.Bytes(name)
}

func (s *Set) lookup(name string) (*File, error) {
	f, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: %s: tensor %s: %w", s.dir, quote(name), ErrNotFound)
	}
	return f, nil
}

// Close closes every shard, returning the first error.
func (s *Set) Close() error {
	var first error
	for _, f := range s.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
