package eval

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// ItemTexts returns, per task, the texts of the items of the named tasks
// ("kobest" names all five KoBEST tasks) in those splits that exist under
// dataDir: each item's prompt followed by its correct answer, the text a
// model could memorise. A data pipeline protects these from training data
// (decontamination). A task with none of the splits present is an error.
func ItemTexts(tasks []string, dataDir string, splits []string) (map[string][]string, error) {
	if len(splits) == 0 {
		return nil, errors.New("no splits named")
	}
	out := map[string][]string{}
	for _, name := range tasks {
		list, err := Lookup(name)
		if err != nil {
			return nil, err
		}
		for _, t := range list {
			if t.Dir == "" && t.RowsFunc == nil {
				return nil, fmt.Errorf("task %s has no items to protect (it reads a text file)", t.Name)
			}
			found := 0
			for _, split := range splits {
				path, err := t.SplitFile(dataDir, split)
				if err != nil {
					continue // a task file without that split
				}
				if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
					continue
				}
				docs, err := t.Load(dataDir, split)
				if err != nil {
					return nil, err
				}
				found++
				for _, d := range docs {
					text := d.Text
					if d.Target >= 0 && d.Target < len(d.Choices) {
						text += t.TargetDelimiter + d.Choices[d.Target]
					}
					out[t.Name] = append(out[t.Name], text)
				}
			}
			if found == 0 {
				return nil, fmt.Errorf("task %s: none of the splits %s found", t.Name, strings.Join(splits, ", "))
			}
		}
	}
	return out, nil
}
