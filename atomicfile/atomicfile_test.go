package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	if err := WriteFile(path, []byte("first")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(path, func(w io.Writer) error {
		w.Write([]byte("half"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the writer's error", err)
	}
	data, err := os.ReadFile(path)
	if err != nil || string(data) != "first" {
		t.Fatalf("a failed write changed the file: %q, %v", data, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
	if err := WriteFile(path, []byte("second")); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != "second" {
		t.Fatalf("replace gave %q", data)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x"), nil); err == nil {
		t.Fatal("writing into a missing folder succeeded")
	}
}

// Files get the mode os.Create would give (0666 less the umask), not
// os.CreateTemp's 0600: checkpoints and shards are shared.
func TestModeFollowsUmask(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := WriteFile(path, []byte("x")); err != nil {
		t.Fatal(err)
	}
	ref, err := os.Create(filepath.Join(dir, "ref"))
	if err != nil {
		t.Fatal(err)
	}
	ref.Close()
	a, _ := os.Stat(path)
	b, _ := os.Stat(filepath.Join(dir, "ref"))
	if a.Mode().Perm() != b.Mode().Perm() {
		t.Errorf("mode %v, os.Create gives %v", a.Mode().Perm(), b.Mode().Perm())
	}
}

// WriteJSON and ReadJSON round-trip a value; a missing file is
// os.ErrNotExist, a damaged one an error naming the file.
func TestJSONRoundTrip(t *testing.T) {
	type rec struct {
		Name string `json:"name"`
		N    int    `json:"n"`
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if _, err := ReadJSON[rec](path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if err := WriteJSON(path, rec{"한국어", 3}); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSON[rec](path)
	if err != nil || *got != (rec{"한국어", 3}) {
		t.Fatalf("read back %+v, %v", got, err)
	}
	if err := os.WriteFile(path, []byte(`{"name": `), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadJSON[rec](path); err == nil || errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "r.json") {
		t.Fatalf("damaged file: %v", err)
	}
}

// RemoveStale removes exactly the temporary files CreateTemp names.
func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	f, err := CreateTemp(filepath.Join(dir, "shard-00001.jsonl.zst"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	keep := []string{"latest", ".latest", ".latest.tmp", ".latest.tmp0123", ".latest.tmpzzzzzzzzzzzz", "x.tmp0123456789ab", ".notes"}
	for _, n := range keep {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	os.Mkdir(filepath.Join(dir, ".dir.tmp0123456789ab"), 0o755)
	removed, err := RemoveStale(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != filepath.Base(f.Name()) {
		t.Errorf("removed %v, want only %s", removed, filepath.Base(f.Name()))
	}
	for _, n := range append(keep, ".dir.tmp0123456789ab") {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s was removed: %v", n, err)
		}
	}
}
