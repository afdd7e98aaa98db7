package data

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
	"github.com/dokja/dokja/dedup"
)

// DecontamOptions configure the decontaminate stage, which drops training
// documents that share a long n-gram with an evaluation set, so that
// benchmark scores measure generalisation rather than memory. Texts are
// compared after dedup.Normalize (case, punctuation, digits and spacing do
// not hide a match). Korean needs character n-grams: a KoBEST COPA premise
// may be three eojeols long, so the 13-word n-grams used for English
// benchmarks would never match it.
type DecontamOptions struct {
	// Tasks are evaluation tasks whose items are protected (names from
	// `dokja eval tasks`, or "kobest" for all five KoBEST tasks), read from
	// DataDir.
	Tasks   []string `yaml:"tasks"`
	DataDir string   `yaml:"data_dir"`
	// Splits of the tasks to protect.
	Splits []string `yaml:"splits"`
	// Files are further texts to protect, one item per line.
	Files []string `yaml:"files"`
	// Unit is "char" or "word"; N the n-gram length in that unit.
	Unit string `yaml:"unit"`
	N    int    `yaml:"n"`
	// MinMatches is the number of shared n-grams that drops a document.
	MinMatches int `yaml:"min_matches"`
}

func defaultDecontam() *DecontamOptions {
	return &DecontamOptions{Tasks: []string{"kobest"}, Splits: []string{"dev", "test"}, Unit: "char", N: 30, MinMatches: 1}
}

func (o *DecontamOptions) build(env *Env) (any, error) {
	switch {
	case o.Unit != "char" && o.Unit != "word":
		return nil, fieldErr("unit", o.Unit, `"char" or "word"`)
	case o.N < 3:
		return nil, fieldErr("n", o.N, "at least 3")
	case o.MinMatches < 1:
		return nil, fieldErr("min_matches", o.MinMatches, "at least 1")
	case len(o.Tasks) == 0 && len(o.Files) == 0:
		return nil, fieldErr("tasks", "[]", "at least one task or file to protect")
	}
	s := &decontam{o: *o, grams: map[uint64]int32{}}
	add := func(source string, texts []string) {
		src := int32(len(s.sources))
		s.sources = append(s.sources, source)
		for _, t := range texts {
			if strings.TrimSpace(t) == "" {
				continue
			}
			n := 0
			s.ngrams(t, func(h uint64) bool {
				if _, ok := s.grams[h]; !ok {
					s.grams[h] = src
				}
				n++
				return true
			})
			if n == 0 {
				s.short++
			} else {
				s.items++
			}
		}
	}
	if len(o.Tasks) > 0 {
		if env == nil || env.EvalTexts == nil {
			return nil, fieldErr("tasks", o.Tasks, "no evaluation tasks are known to this program; use files")
		}
		if o.DataDir == "" {
			return nil, fieldErr("data_dir", "", "the folder holding the tasks' data (e.g. a KoBEST folder)")
		}
		dir := env.path(o.DataDir)
		byTask, err := env.EvalTexts(o.Tasks, dir, o.Splits)
		if err != nil {
			return nil, fmt.Errorf("tasks: %w", err)
		}
		for _, name := range slices.Sorted(maps.Keys(byTask)) {
			add(name, byTask[name])
		}
	}
	for _, f := range o.Files {
		path := env.path(f)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("files: %w", err)
		}
		if !utf8.Valid(data) {
			return nil, fmt.Errorf("files: %s: not UTF-8 text", path)
		}
		add(filepath.Base(f), strings.Split(string(data), "\n"))
	}
	if len(s.grams) == 0 {
		return nil, fmt.Errorf("decontaminate: the protected texts hold no %d-%s n-gram", o.N, o.Unit)
	}
	return s, nil
}

type decontam struct {
	o       DecontamOptions
	grams   map[uint64]int32 // n-gram hash -> index into sources
	sources []string
	items   int // protected items with at least one n-gram
	short   int // items shorter than one n-gram, which cannot be checked
}

func (s *decontam) Name() string { return "decontaminate" }

// ngrams calls f with the hash of every n-gram of the normalised text.
func (s *decontam) ngrams(text string, f func(uint64) bool) {
	t := dedup.Normalize(text)
	var starts []int // byte offset of each unit, then the end
	if s.o.Unit == "char" {
		t = strings.ReplaceAll(t, " ", "")
		for i := range t {
			starts = append(starts, i)
		}
		starts = append(starts, len(t))
		for i := 0; i+s.o.N < len(starts); i++ {
			if !f(xxhash.Sum64String(t[starts[i]:starts[i+s.o.N]])) {
				return
			}
		}
		return
	}
	words := strings.Fields(t)
	for i := 0; i+s.o.N <= len(words); i++ {
		if !f(xxhash.Sum64String(strings.Join(words[i:i+s.o.N], " "))) {
			return
		}
	}
}

func (s *decontam) Process(d *Document) Verdict {
	matches, src := 0, int32(-1)
	s.ngrams(d.Text, func(h uint64) bool {
		if i, ok := s.grams[h]; ok {
			matches++
			src = i
		}
		return matches < s.o.MinMatches
	})
	if matches >= s.o.MinMatches {
		return Verdict{Drop: true, Reason: "overlap", Detail: fmt.Sprintf("shares a %d-%s n-gram with %s", s.o.N, s.o.Unit, s.sources[src]),
			Counts: map[string]int{s.sources[src]: 1}}
	}
	return Verdict{}
}
