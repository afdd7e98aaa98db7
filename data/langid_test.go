package data

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"os"
	"testing"
)

func TestLangID(t *testing.T) {
	id, err := NewLangID(LangIDOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ text, want string }{
		{"오늘은 날씨가 좋아서 공원에 산책을 다녀왔다.", "ko"},
		{"The weather was lovely and everybody went to the beach.", "en"},
		{"今日はとても良い天気なので、公園に散歩に行きました。", "ja"},
		{"Das Wetter war schön und alle gingen an den Strand.", "de"},
		{"Il faisait beau et tout le monde est allé à la plage.", "fr"},
		{"12345 !!! ...", "und"},
		{"", "und"},
	} {
		if got, score := id.Detect(tt.text); got != tt.want || (got != "und" && score <= 0) {
			t.Errorf("Detect(%q) = %s %.2f, want %s", tt.text, got, score, tt.want)
		}
	}
}

// TestHangulShortcut checks that answering "ko" for texts whose letters
// are all Hangul agrees with the detector on real reviews.
func TestHangulShortcut(t *testing.T) {
	path := "../../shared/data/nsmc/reviews.jsonl.gz"
	f, err := os.Open(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	id, err := NewLangID(LangIDOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	checked := 0
	for n := 0; n < 5000 && sc.Scan(); n++ {
		var r struct{ Text string }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		text := Normalize(r.Text, normNFC, true, true)
		if letters(text) != allHangul {
			continue
		}
		checked++
		vals := id.det.ComputeLanguageConfidenceValues(text)
		if lang := vals[0].Language().IsoCode639_1().String(); lang != "KO" || vals[0].Value() != 1 {
			t.Errorf("%q: the detector says %s %.3f, the shortcut ko 1", text, lang, vals[0].Value())
		}
	}
	if checked < 1000 {
		t.Fatalf("only %d all-Hangul reviews checked", checked)
	}
}
