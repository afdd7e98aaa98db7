package shards

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Set is the shards of one split, DIR/<split>-*.tok in name order, read
// as one sequence of ids: the concatenation of the shards. Each shard
// starts with a separator, so documents never straddle two shards. Its
// methods may be called from several goroutines at once.
type Set struct {
	shards []*Shard
	starts []int64 // starts[i] is the offset of shards[i]; starts[len] the total
	docs   int64
}

// OpenSet opens the files DIR/<split>-*.tok (split is typically "train" or
// "val"), sorted by name. It fails when no file matches, when a shard
// fails to open, or when the shards disagree on the vocabulary or the
// separator (the error names the first file that disagrees with the
// first shard).
func OpenSet(dir, split string) (*Set, error) {
	if split == "" || strings.ContainsAny(split, `/\*?[`) {
		return nil, fmt.Errorf("shards: split name %q: want a plain name such as train or val", split)
	}
	pattern := filepath.Join(dir, split+"-*.tok")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, split+"-") && strings.HasSuffix(n, ".tok") && !e.IsDir() {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("shards: no files match %s", pattern)
	}
	sort.Strings(names)
	s := &Set{starts: []int64{0}}
	for _, n := range names {
		sh, err := Open(filepath.Join(dir, n))
		if err != nil {
			s.Close()
			return nil, err
		}
		s.shards = append(s.shards, sh)
		first := s.shards[0]
		if sh.Vocab() != first.Vocab() || sh.Separator() != first.Separator() {
			s.Close()
			return nil, fmt.Errorf("shards: %s: vocab %d and separator %d disagree with %s (vocab %d, separator %d)",
				sh.Path(), sh.Vocab(), sh.Separator(), first.Path(), first.Vocab(), first.Separator())
		}
		s.starts = append(s.starts, s.starts[len(s.starts)-1]+sh.Len())
		s.docs += sh.Docs()
	}
	return s, nil
}

// Len returns the total number of ids in the set.
func (s *Set) Len() int64 { return s.starts[len(s.starts)-1] }

// Docs returns the total number of documents in the set.
func (s *Set) Docs() int64 { return s.docs }

// Vocab returns the vocabulary size shared by the shards.
func (s *Set) Vocab() int { return s.shards[0].Vocab() }

// Separator returns the document separator id shared by the shards.
func (s *Set) Separator() int { return s.shards[0].Separator() }

// Files returns the shard paths in order.
func (s *Set) Files() []string {
	out := make([]string, len(s.shards))
	for i, sh := range s.shards {
		out[i] = sh.Path()
	}
	return out
}

// Shards returns the open shards in order. They belong to the Set.
func (s *Set) Shards() []*Shard { return append([]*Shard(nil), s.shards...) }

// Read copies the len(dst) ids starting at offset off of the
// concatenation into dst, crossing shard boundaries as needed. Errors are
// those of Shard.Read, or a range outside [0, Len()).
func (s *Set) Read(off int64, dst []int32) error {
	n := int64(len(dst))
	if off < 0 || off > s.Len() || n > s.Len()-off {
		return fmt.Errorf("shards: set of %s: read of %d ids at offset %d is outside [0, %d)", s.shards[0].Path(), n, off, s.Len())
	}
	// The shard holding off: the last whose start is <= off.
	i := sort.Search(len(s.shards), func(i int) bool { return s.starts[i+1] > off })
	for len(dst) > 0 {
		local := off - s.starts[i]
		k := min(int64(len(dst)), s.starts[i+1]-off)
		if err := s.shards[i].Read(local, dst[:k]); err != nil {
			return err
		}
		dst = dst[k:]
		off += k
		i++
	}
	return nil
}

// Close closes every shard.
func (s *Set) Close() error {
	var errs []error
	for _, sh := range s.shards {
		if err := sh.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ErrNoSplit reports a split that a complete folder's manifest does not
// list: no document went to it (a val fraction of 0, say).
var ErrNoSplit = errors.New("the manifest lists no such split")

// OpenSplit opens a split of a complete shard folder: the one written by
// dokja tokenize, whose manifest.json (written last) lists each split's
// files, tokens and documents. It refuses a folder without a manifest
// (a tokenization that never finished), a manifest that does not parse,
// a listed file that is missing, shards that disagree with the manifest,
// and <split>-*.tok files the manifest does not list (left by another
// tokenization): the error names what is wrong and how to mend it.
func OpenSplit(dir, split string) (*Set, *Manifest, error) {
	m, err := ReadManifest(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s has no %s: it holds no complete tokenization (dokja tokenize writes the manifest last, so a run that was stopped leaves shards without one); run dokja tokenize into it again (--force replaces what is there)", dir, ManifestName)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w; run dokja tokenize into %s again (--force replaces what is there)", err, dir)
	}
	info, ok := m.Splits[split]
	if !ok {
		return nil, m, fmt.Errorf("shards: %s: split %q: %w", filepath.Join(dir, ManifestName), split, ErrNoSplit)
	}
	listed := map[string]bool{}
	for _, f := range info.Files {
		listed[f] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("shards: %w", err)
	}
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, split+"-") && strings.HasSuffix(n, ".tok") && !listed[n] {
			return nil, nil, fmt.Errorf("shards: %s: %s is not in the manifest (left by another tokenization?); remove it or run dokja tokenize again with --force", dir, n)
		}
	}
	s := &Set{starts: []int64{0}}
	for _, n := range info.Files {
		sh, err := Open(filepath.Join(dir, n))
		if err != nil {
			s.Close()
			return nil, nil, fmt.Errorf("%w (listed in %s)", err, filepath.Join(dir, ManifestName))
		}
		s.shards = append(s.shards, sh)
		if sh.Vocab() != m.Vocab || sh.Separator() != m.Separator {
			s.Close()
			return nil, nil, fmt.Errorf("shards: %s: vocab %d and separator %d, the manifest says %d and %d", sh.Path(), sh.Vocab(), sh.Separator(), m.Vocab, m.Separator)
		}
		s.starts = append(s.starts, s.starts[len(s.starts)-1]+sh.Len())
		s.docs += sh.Docs()
	}
	if len(s.shards) == 0 || s.Len() != info.Tokens || s.docs != info.Documents {
		s.Close()
		return nil, nil, fmt.Errorf("shards: %s: split %q holds %d tokens and %d documents in %d files, the manifest says %d and %d",
			dir, split, s.Len(), s.docs, len(info.Files), info.Tokens, info.Documents)
	}
	return s, m, nil
}
