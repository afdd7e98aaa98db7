package eval

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The example task files load, with their items, where the KoBEST data
// they name is present.
func TestExampleTaskFiles(t *testing.T) {
	paths, err := filepath.Glob("../examples/tasks/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no example task files: %v", err)
	}
	if _, err := os.Stat(filepath.Join(sharedKoBEST, "SentiNeg", "dev.tsv")); err != nil {
		t.Skipf("KoBEST data not here: %v", err)
	}
	for _, p := range paths {
		tk, err := LoadTaskFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data, err := LoadTaskData([]*Task{tk}, "", "dev", "", "", true)
		if err != nil {
			t.Fatal(err)
		}
		d := data[0]
		if len(d.Docs) < 100 || len(d.Fewshot) < 100 {
			t.Errorf("%s: %d items, %d few-shot examples", p, len(d.Docs), len(d.Fewshot))
		}
		for _, doc := range d.Docs {
			if tk.OutputType == GenerateUntil && (len(doc.References) != 1 || !slices.Contains([]string{"긍정", "부정"}, doc.References[0])) {
				t.Fatalf("%s item %s: references %q", p, doc.ID, doc.References)
			}
		}
	}
}
