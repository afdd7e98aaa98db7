package sysmem

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMemAvailable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "meminfo")
	os.WriteFile(path, []byte("MemTotal:       24000000 kB\nMemFree:         1000 kB\nMemAvailable:   20000000 kB\n"), 0o644)
	if got, ok := memAvailable(path); !ok || got != 20000000<<10 {
		t.Errorf("MemAvailable: %d %v", got, ok)
	}
	os.WriteFile(path, []byte("MemTotal: 1 kB\n"), 0o644)
	if _, ok := memAvailable(path); ok {
		t.Error("no MemAvailable line: reported a value")
	}
	if _, ok := memAvailable(filepath.Join(dir, "none")); ok {
		t.Error("missing file: reported a value")
	}
}

func TestCheckAndBytes(t *testing.T) {
	for _, tc := range []struct {
		n    float64
		want string
	}{{512, "512 B"}, {1536, "1.5 KiB"}, {3 << 30, "3.0 GiB"}, {1e30, "867361737988.4 EiB"}} {
		if got := Bytes(tc.n); got != tc.want {
			t.Errorf("Bytes(%g) = %q, want %q", tc.n, got, tc.want)
		}
	}
	if _, ok := Available(); !ok {
		t.Skip("this system does not say how much memory is available")
	}
	if err := Check("a model", 1e30); err == nil || !strings.Contains(err.Error(), "a model needs") {
		t.Errorf("1e30 bytes: %v", err)
	}
	if err := Check("a model", 1024); err != nil {
		t.Errorf("1 KiB: %v", err)
	}
}
