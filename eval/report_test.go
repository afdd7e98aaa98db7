package eval

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sampleReport(hash string, acc float64) *Report {
	se, chance := 0.05, 0.5
	pred, target := 1, 0
	return &Report{ConfigHash: hash, Config: Config{Tasks: []string{"kobest_copa"}},
		Tasks: []TaskReport{{Task: "kobest_copa", Items: 2, Metrics: []Value{{Metric: "acc", Value: acc, Stderr: &se, Chance: &chance}},
			Records: []Record{{ID: "1", Target: &target, Pred: &pred, LogLikelihoods: []float64{-3.5, -2.25}}}}}}
}

func TestReportRoundTripCompareAndHTML(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.json")
	var buf bytes.Buffer
	if err := sampleReport("aaaaaaaaaaaaaaaa", 0.625).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(a, buf.Bytes(), 0o644)
	ra, err := ReadReport(a)
	if err != nil || ra.Tasks[0].Metrics[0].Value != 0.625 {
		t.Fatalf("round trip: %v %+v", err, ra)
	}
	runs := []Run{{"first", ra}, {"second", sampleReport("bbbbbbbbbbbbbbbb", 0.4375)}}
	var out bytes.Buffer
	if err := Compare(&out, runs); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"first", "second", "0.6250 ± 0.0500", "0.4375 ± 0.0500", "0.5000", "config aaaaaaaaaaaa"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("compare output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := WriteHTML(&out, runs); err != nil {
		t.Fatal(err)
	}
	page := out.String()
	if strings.Count(page, "<rect") != 2 || !strings.Contains(page, "stroke-dasharray") || !strings.Contains(page, "-3.500, -2.250") {
		t.Errorf("HTML report lacks bars, the chance line or the records:\n%s", page)
	}
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"tasks": []}`), 0o644)
	if _, err := ReadReport(filepath.Join(dir, "bad.json")); err == nil || !strings.Contains(err.Error(), "bad.json") {
		t.Errorf("reading a non-report: %v", err)
	}
}
