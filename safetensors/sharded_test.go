package safetensors

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeIndex(t *testing.T, dir, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, IndexFileName), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeShard(t *testing.T, dir, name string, tensors ...Tensor) {
	t.Helper()
	if err := Write(filepath.Join(dir, name), tensors, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
}

const (
	shard1 = "model-00001-of-00002.safetensors"
	shard2 = "model-00002-of-00002.safetensors"
)

// twoShards writes a valid two-shard checkpoint and returns its folder.
func twoShards(t *testing.T) string {
	dir := t.TempDir()
	writeShard(t, dir, shard1,
		BF16("model.embed_tokens.weight", []int{2, 2}, []float32{1, 2, 3, 4}),
		F32("model.norm.weight", []int{2}, []float32{0.5, 0.25}))
	writeShard(t, dir, shard2, F16("lm_head.weight", []int{2, 2}, []float32{-1, -2, -3, -4}))
	writeIndex(t, dir, `{"metadata":{"total_size":28},"weight_map":{
		"model.embed_tokens.weight":"`+shard1+`",
		"model.norm.weight":"`+shard1+`",
		"lm_head.weight":"`+shard2+`"}}`)
	return dir
}

func TestOpenSharded(t *testing.T) {
	dir := twoShards(t)
	s, err := OpenSharded(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := []string{"lm_head.weight", "model.embed_tokens.weight", "model.norm.weight"}
	if got := s.Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
	if s.Index() == nil || s.Index().Metadata["total_size"] == nil || len(s.Files()) != 2 {
		t.Errorf("Index() = %+v, %d files", s.Index(), len(s.Files()))
	}
	values := map[string][]float32{
		"lm_head.weight":            {-1, -2, -3, -4},
		"model.embed_tokens.weight": {1, 2, 3, 4},
		"model.norm.weight":         {0.5, 0.25},
	}
	for name, wantV := range values {
		got, err := s.Float32(name)
		if err != nil || !slices.Equal(got, wantV) {
			t.Errorf("Float32(%q) = %v, %v; want %v", name, got, err, wantV)
		}
		info, ok := s.Info(name)
		if !ok || info.Name != name || info.NumElements() != len(wantV) {
			t.Errorf("Info(%q) = %+v, %v", name, info, ok)
		}
		if b, err := s.Bytes(name); err != nil || len(b) != info.Size {
			t.Errorf("Bytes(%q) = %d bytes, %v", name, len(b), err)
		}
	}
	if _, err := s.Float32("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Float32(nope) = %v", err)
	}
	if _, ok := s.Info("nope"); ok {
		t.Error("Info(nope) found")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Float32("lm_head.weight"); !errors.Is(err, ErrClosed) {
		t.Errorf("Float32 after Close = %v", err)
	}
}

func TestOpenShardedSingle(t *testing.T) {
	dir := t.TempDir()
	writeShard(t, dir, SingleFileName, F32("w", []int{3}, []float32{1, 2, 3}))
	// A stale index next to model.safetensors is ignored, as by transformers.
	writeIndex(t, dir, `{"weight_map":{"x":"missing.safetensors"}}`)
	s, err := OpenSharded(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Index() != nil || !slices.Equal(s.Names(), []string{"w"}) {
		t.Errorf("Index() = %v, Names() = %v", s.Index(), s.Names())
	}
	if v, err := s.Float32("w"); err != nil || !slices.Equal(v, []float32{1, 2, 3}) {
		t.Errorf("Float32 = %v, %v", v, err)
	}
}

func TestOpenShardedErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"empty folder", func(t *testing.T, dir string) {}, "neither model.safetensors nor model.safetensors.index.json exists"},
		{"missing shard", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, shard2))
		}, shard2 + ": no such file"},
		{"tensor not in its shard", func(t *testing.T, dir string) {
			writeIndex(t, dir, `{"weight_map":{"model.embed_tokens.weight":"`+shard1+`","model.norm.weight":"`+shard1+`","lm_head.weight":"`+shard2+`","extra":"`+shard2+`"}}`)
		}, `tensor "extra": listed in shard "` + shard2 + `", which does not hold it`},
		{"tensor in the wrong shard", func(t *testing.T, dir string) {
			writeIndex(t, dir, `{"weight_map":{"model.embed_tokens.weight":"`+shard1+`","model.norm.weight":"`+shard2+`","lm_head.weight":"`+shard2+`"}}`)
		}, `tensor "model.norm.weight": listed in shard "` + shard2 + `", but it is in "` + shard1 + `"`},
		{"tensor in two shards", func(t *testing.T, dir string) {
			writeShard(t, dir, shard2, F16("lm_head.weight", []int{1}, []float32{1}), F32("model.norm.weight", []int{2}, []float32{0.5, 0.25}))
		}, `tensor "model.norm.weight" appears in shards "` + shard1 + `" and "` + shard2 + `"`},
		{"tensor not in the index", func(t *testing.T, dir string) {
			writeIndex(t, dir, `{"weight_map":{"model.embed_tokens.weight":"`+shard1+`","lm_head.weight":"`+shard2+`"}}`)
		}, `tensor "model.norm.weight" is in shard "` + shard1 + `" but not in the index`},
		{"bad shard", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, shard2), []byte("not a safetensors file"), 0o644)
		}, shard2 + ": header length"},
		{"escaping shard name", func(t *testing.T, dir string) {
			writeIndex(t, dir, `{"weight_map":{"a":"../`+shard1+`"}}`)
		}, `contains a path separator`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.name != "empty folder" {
				dir = twoShards(t)
			}
			tc.setup(t, dir)
			s, err := OpenSharded(dir)
			if err == nil {
				s.Close()
				t.Fatalf("OpenSharded succeeded, want error containing %q", tc.want)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "safetensors: ") {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestReadIndexErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"not JSON", `{"weight_map":`, "invalid JSON"},
		{"not an object", `[]`, "not a JSON object"},
		{"missing weight_map", `{"metadata":{}}`, "missing weight_map"},
		{"empty weight_map", `{"weight_map":{}}`, "weight_map is empty"},
		{"weight_map not object", `{"weight_map":[]}`, "weight_map is an array, not an object"},
		{"metadata not object", `{"metadata":1,"weight_map":{"a":"s"}}`, "metadata is a number, not an object"},
		{"shard not string", `{"weight_map":{"a":1}}`, `tensor "a": shard name is a number, not a string`},
		{"duplicate tensor", `{"weight_map":{"a":"s","a":"t"}}`, `weight_map: duplicate key "a"`},
		{"parent dir", `{"weight_map":{"a":"../x.safetensors"}}`, `tensor "a": shard name "../x.safetensors" contains a path separator`},
		{"dot dot", `{"weight_map":{"a":".."}}`, `shard name ".." is not a file name`},
		{"dot", `{"weight_map":{"a":"."}}`, `shard name "." is not a file name`},
		{"absolute", `{"weight_map":{"a":"/etc/passwd"}}`, `contains a path separator`},
		{"subfolder", `{"weight_map":{"a":"sub/x.safetensors"}}`, `contains a path separator`},
		{"backslash", `{"weight_map":{"a":"..\\x.safetensors"}}`, `contains a path separator`},
		{"empty", `{"weight_map":{"a":""}}`, `shard name "" is empty`},
		{"NUL", `{"weight_map":{"a":"x\u0000y"}}`, `contains a NUL byte`},
		{"invalid UTF-8", "{\"weight_map\":{\"a\":\"\xff\"}}", "not valid UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeIndex(t, dir, tc.body)
			path := filepath.Join(dir, IndexFileName)
			_, err := ReadIndex(path)
			if err == nil {
				t.Fatalf("ReadIndex succeeded, want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "safetensors: "+path+": ") {
				t.Errorf("error %q does not name the file and contain %q", err, tc.want)
			}
		})
	}
}

func TestReadIndex(t *testing.T) {
	dir := t.TempDir()
	writeIndex(t, dir, `{"metadata":{"total_size":123456789012},"weight_map":{"a":"s2","b":"s1","c":"s2"},"other":1}`)
	ix, err := ReadIndex(filepath.Join(dir, IndexFileName))
	if err != nil {
		t.Fatal(err)
	}
	if got := ix.Shards(); !slices.Equal(got, []string{"s1", "s2"}) {
		t.Errorf("Shards() = %q", got)
	}
	if got := ix.Metadata["total_size"]; got == nil || got.(interface{ String() string }).String() != "123456789012" {
		t.Errorf("total_size = %v", got)
	}
	if len(ix.WeightMap) != 3 || ix.WeightMap["b"] != "s1" {
		t.Errorf("WeightMap = %v", ix.WeightMap)
	}
}
