package data

import (
	"maps"
	"slices"
	"unicode/utf8"
)

// StageStats is what one stage did over a shard or the whole run.
type StageStats struct {
	Name string `json:"name"`
	// Kind is "document", "corpus" or "sink".
	Kind string `json:"kind"`
	// In documents reached the stage, Out left it, Modified had their
	// text changed; Dropped counts removals per reason.
	In       int64            `json:"in"`
	Out      int64            `json:"out"`
	Modified int64            `json:"modified"`
	BytesIn  int64            `json:"bytes_in"`
	BytesOut int64            `json:"bytes_out"`
	Dropped  map[string]int64 `json:"dropped,omitempty"`
	// Found counts what the stage found, per type: PII kinds, languages,
	// evaluation sets overlapped.
	Found map[string]int64 `json:"found,omitempty"`
	// Samples holds a few documents per removal reason, and under
	// "modified" a few changed ones.
	Samples map[string][]Sample `json:"samples,omitempty"`
	// Seconds is the time spent in the stage, summed over workers.
	Seconds float64 `json:"seconds"`
	// Corpus stages: clusters of duplicates, the largest, and a few of
	// them with their texts.
	Groups   int        `json:"groups,omitempty"`
	Largest  int        `json:"largest,omitempty"`
	Clusters [][]Sample `json:"clusters,omitempty"`
}

// Sample is a document shown in a report.
type Sample struct {
	ID     string `json:"id"`
	Order  uint64 `json:"order"`
	Detail string `json:"detail,omitempty"`
	Text   string `json:"text"`
	Before string `json:"before,omitempty"` // the text before a modification
}

const sampleChars = 400

func clip(s string) string {
	if len(s) <= sampleChars {
		return s
	}
	n := 0
	for i := range s {
		if n == sampleChars {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// record counts one verdict.
func (st *StageStats) record(d *Document, before string, v Verdict, samples int) {
	st.In++
	st.BytesIn += int64(len(before))
	for k, n := range v.Counts {
		if st.Found == nil {
			st.Found = map[string]int64{}
		}
		st.Found[k] += int64(n)
	}
	add := func(key string, s Sample) {
		if st.Samples == nil {
			st.Samples = map[string][]Sample{}
		}
		if len(st.Samples[key]) < samples {
			st.Samples[key] = append(st.Samples[key], s)
		}
	}
	if v.Drop {
		if st.Dropped == nil {
			st.Dropped = map[string]int64{}
		}
		st.Dropped[v.Reason]++
		add(v.Reason, Sample{ID: d.ID, Order: d.Order, Detail: v.Detail, Text: clip(before)})
		return
	}
	st.Out++
	st.BytesOut += int64(len(d.Text))
	if v.Modified {
		st.Modified++
		add("modified", Sample{ID: d.ID, Order: d.Order, Detail: v.Detail, Text: clip(d.Text), Before: clip(before)})
	}
}

// merge adds o into st; samples fill up in merge order.
func (st *StageStats) merge(o *StageStats, samples int) {
	st.In += o.In
	st.Out += o.Out
	st.Modified += o.Modified
	st.BytesIn += o.BytesIn
	st.BytesOut += o.BytesOut
	st.Seconds += o.Seconds
	for k, n := range o.Dropped {
		if st.Dropped == nil {
			st.Dropped = map[string]int64{}
		}
		st.Dropped[k] += n
	}
	for k, n := range o.Found {
		if st.Found == nil {
			st.Found = map[string]int64{}
		}
		st.Found[k] += n
	}
	for _, k := range slices.Sorted(maps.Keys(o.Samples)) {
		if st.Samples == nil {
			st.Samples = map[string][]Sample{}
		}
		for _, s := range o.Samples[k] {
			if len(st.Samples[k]) < samples {
				st.Samples[k] = append(st.Samples[k], s)
			}
		}
	}
}

func runeLen(s string) int { return utf8.RuneCountInString(s) }
