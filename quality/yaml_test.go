package quality

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func decodeConfig(t *testing.T, text string) (Config, error) {
	t.Helper()
	var c Config
	err := yaml.Unmarshal([]byte(text), &c)
	return c, err
}

func TestYAMLOverridesOneField(t *testing.T) {
	c, err := decodeConfig(t, "ko:\n  gopher:\n    min_words: 10\n")
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	ko := want.Langs["ko"]
	ko.Gopher.MinWords = 10
	want.Langs["ko"] = ko
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got\n%+v\nwant\n%+v", c.Langs["ko"], want.Langs["ko"])
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

func TestYAMLCases(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		check      func(t *testing.T, c Config)
	}{
		{"empty mapping", "{}", func(t *testing.T, c Config) {
			if !reflect.DeepEqual(c, DefaultConfig()) {
				t.Error("not the defaults")
			}
		}},
		{"new language starts from its defaults", "ja: {gopher: {enabled: false}}", func(t *testing.T, c Config) {
			want := DefaultRules("ja")
			want.Gopher.Enabled = false
			if !reflect.DeepEqual(c.Langs["ja"], want) {
				t.Errorf("ja = %+v", c.Langs["ja"])
			}
			if len(c.Langs) != 4 {
				t.Errorf("%d languages; want ko, en, default, ja", len(c.Langs))
			}
		}},
		{"language code normalised", "ko-KR: {korean: {min_hangul_ratio: 0.7}}", func(t *testing.T, c Config) {
			if c.Langs["ko"].Korean.MinHangulRatio != 0.7 || c.Langs["ko"].Korean.MaxJamoRatio != 0.3 {
				t.Errorf("ko korean = %+v", c.Langs["ko"].Korean)
			}
		}},
		{"list replaces the default", "en: {gopher: {stop_words: [a, an]}, c4: {policy_phrases: []}}", func(t *testing.T, c Config) {
			en := c.Langs["en"]
			if !reflect.DeepEqual(en.Gopher.StopWords, []string{"a", "an"}) || len(en.C4.PolicyPhrases) != 0 {
				t.Errorf("en = %q, %q", en.Gopher.StopWords, en.C4.PolicyPhrases)
			}
			if !en.C4.LoremIpsum || en.Gopher.MinStopWords != 2 {
				t.Error("other fields lost their defaults")
			}
		}},
		{"two families", "default:\n  c4: {enabled: false}\n  fineweb: {max_short_line_ratio: 0.5}\n", func(t *testing.T, c Config) {
			d := c.Langs["default"]
			if d.C4.Enabled || d.FineWeb.MaxShortLineRatio != 0.5 || d.FineWeb.MinLinePunctRatio != 0.12 || !d.Gopher.Enabled {
				t.Errorf("default = %+v", d)
			}
		}},
		{"anchors and merge keys", "ko: {gopher: &b {min_words: 7}}\nen: {gopher: {<<: *b, max_words: 9}}\n", func(t *testing.T, c Config) {
			if ko, en := c.Langs["ko"].Gopher, c.Langs["en"].Gopher; ko.MinWords != 7 || en.MinWords != 7 || en.MaxWords != 9 || !en.Enabled {
				t.Errorf("ko gopher = %+v, en gopher = %+v", ko, en)
			}
		}},
		{"merge of an unknown key", "ko: {gopher: &b {min_words: 7}}\nen: {c4: {<<: *b}}\n", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := decodeConfig(t, c.yaml)
			if c.check == nil {
				if err == nil || !strings.Contains(err.Error(), `language "en": unknown key "c4.min_words"`) {
					t.Errorf("error %v; want unknown c4.min_words in en", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, cfg)
		})
	}
}

// TestYAMLNull: yaml.v3 does not call UnmarshalYAML for an empty document
// or a null value, so a Config that starts as DefaultConfig() stays so; a
// direct call with a null node gives the defaults too.
func TestYAMLNull(t *testing.T) {
	for _, text := range []string{"", "~", "null"} {
		c := DefaultConfig()
		if err := yaml.Unmarshal([]byte(text), &c); err != nil || !reflect.DeepEqual(c, DefaultConfig()) {
			t.Errorf("%q: %v, or not the defaults", text, err)
		}
	}
	var c Config
	if err := c.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}); err != nil || !reflect.DeepEqual(c, DefaultConfig()) {
		t.Errorf("null node: %v, or not the defaults", err)
	}
}

func TestYAMLErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"ko: {gopher: {min_wrds: 3}}", `language "ko": unknown key "gopher.min_wrds" (line 1)`},
		{"en:\n  c4:\n    curly: true\n", `language "en": unknown key "c4.curly" (line 3)`},
		{"ko: {gopherr: {}}", `language "ko": unknown key "gopherr"`},
		// Thresholds live under their family.
		{"ko: {min_words: 3}", `language "ko": unknown key "min_words"`},
		{"ko: {gopher: {min_words: many}}", `language "ko"`},
		{"ko: {korean: {particles: 은}}", `language "ko"`},
		{"ko: {}\nko-KR: {}", `language "ko-KR" given twice`},
		{"[ko, en]", "want a mapping"},
		{`"": {}`, "empty language code"},
	} {
		_, err := decodeConfig(t, c.yaml)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v; want one containing %q", c.yaml, err, c.want)
		}
	}
}

// TestYAMLRoundTrip writes the defaults as YAML and reads them back.
func TestYAMLRoundTrip(t *testing.T) {
	out, err := yaml.Marshal(DefaultConfig().Langs)
	if err != nil {
		t.Fatal(err)
	}
	c, err := decodeConfig(t, string(out))
	if err != nil {
		t.Fatal(err)
	}
	again, err := yaml.Marshal(c.Langs)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(out) {
		t.Errorf("round trip changed the YAML:\n%s\nvs\n%s", again, out)
	}
	for _, key := range []string{"gopher:", "gopher_rep:", "c4:", "fineweb:", "korean:", "max_dup_10gram_frac:", "min_particle_words:"} {
		if !strings.Contains(string(out), key) {
			t.Errorf("defaults YAML lacks %q", key)
		}
	}
}

// TestYAMLTags checks that every field has a snake_case yaml tag.
func TestYAMLTags(t *testing.T) {
	var walk func(reflect.Type, string)
	walk = func(tp reflect.Type, path string) {
		for i := range tp.NumField() {
			f := tp.Field(i)
			tag := f.Tag.Get("yaml")
			if tag == "" || tag != strings.ToLower(tag) || strings.ContainsAny(tag, "- ,") {
				t.Errorf("%s%s: yaml tag %q", path, f.Name, tag)
			}
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, path+f.Name+".")
			}
		}
	}
	walk(reflect.TypeOf(Rules{}), "")
}

func TestValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []struct {
		name   string
		lang   string
		change func(*Rules)
		want   string
	}{
		{"negative count", "ko", func(r *Rules) { r.Gopher.MinWords = -1 }, "ko: gopher.min_words: -1 is negative"},
		{"ratio above 1", "en", func(r *Rules) { r.FineWeb.MaxShortLineRatio = 1.5 }, "en: fineweb.max_short_line_ratio: 1.5 is above 1"},
		{"negative ratio", "default", func(r *Rules) { r.GopherRep.MaxDup7GramFrac = -0.1 }, "default: gopher_rep.max_dup_7gram_frac: -0.1 is negative"},
		{"NaN", "ko", func(r *Rules) { r.Korean.MinHangulRatio = math.NaN() }, "ko: korean.min_hangul_ratio: NaN is not a number"},
		{"min above max", "en", func(r *Rules) { r.Gopher.MinMeanWordLen = 11 }, "en: gopher.min_mean_word_len: 11 is above gopher.max_mean_word_len 10"},
		{"min words above max", "en", func(r *Rules) { r.Gopher.MinWords = 200; r.Gopher.MaxWords = 100 }, "en: gopher.min_words: 200 is above gopher.max_words 100"},
		{"empty list entry", "ko", func(r *Rules) { r.Korean.Particles = append(r.Korean.Particles, " ") }, "ko: korean.particles: entry 20 is empty"},
		{"run of one", "ko", func(r *Rules) { r.Korean.RunMinLen = 1 }, "ko: korean.run_min_len"},
		{"short line length", "en", func(r *Rules) { r.FineWeb.ShortLineChars = 0 }, "en: fineweb.short_line_chars: must be above 0"},
		{"space in terminal chars", "en", func(r *Rules) { r.C4.TerminalChars = ". !" }, "en: c4.terminal_chars"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			r := cfg.Langs[c.lang]
			c.change(&r)
			cfg.Langs[c.lang] = r
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate = %v; want an error containing %q", err, c.want)
			}
			if _, err := New(cfg); err == nil {
				t.Error("New accepted the config")
			}
		})
	}

	// Every bad value is reported, not only the first.
	cfg := DefaultConfig()
	ko, en := cfg.Langs["ko"], cfg.Langs["en"]
	ko.C4.MinSentences = -5
	en.Gopher.MaxBulletLines = 2
	cfg.Langs["ko"], cfg.Langs["en"] = ko, en
	cfg.Langs["KO"] = DefaultRules("ko")
	err := cfg.Validate()
	for _, want := range []string{"ko: c4.min_sentences", "en: gopher.max_bullet_lines", `languages "KO" and "ko" are the same code "ko"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v; want it to contain %q", err, want)
		}
	}
}

// TestConfigWithoutDefault falls back to the generic defaults.
func TestConfigWithoutDefault(t *testing.T) {
	f, err := New(Config{Langs: map[string]Rules{"ko": DefaultRules("ko")}})
	if err != nil {
		t.Fatal(err)
	}
	if r := f.Check(enLibrary, "en"); !r.Keep {
		t.Errorf("en under the generic defaults dropped by %s", r.Reason)
	}
	if r := f.Check("Too short.", "xx"); r.Reason != "gopher.min_words" {
		t.Errorf("short text: %+v", r)
	}
	if f, err := New(Config{}); err != nil || !f.Check(enLibrary, "en").Keep {
		t.Errorf("empty Config: %v", err)
	}
}
