package quality

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// UnmarshalYAML reads a mapping from language code to partial Rules:
//
//	ko:
//	  gopher: {min_words: 20}
//	  c4: {curly_bracket: true}
//	en:
//	  fineweb: {enabled: false}
//
// Each language's keys are decoded on top of its current rules in
// DefaultConfig (DefaultRules(lang) for a language it lacks), so only what
// is named changes; languages not named keep their defaults. A list given
// replaces the default list. Keys that Rules does not have are errors that
// name the key and the language. Values are not checked here: New (or
// Validate) does that.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	cfg := DefaultConfig()
	n = resolve(n)
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = resolve(n.Content[0])
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		*c = cfg
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("quality: line %d: want a mapping from language code to rules", n.Line)
	}
	given := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		name := key.Value
		if strings.TrimSpace(name) == "" {
			return fmt.Errorf(`quality: line %d: empty language code (use "default" for the fallback)`, key.Line)
		}
		lang := normLang(name)
		if prev, ok := given[lang]; ok {
			return fmt.Errorf("quality: line %d: language %q given twice (also as %q)", key.Line, name, prev)
		}
		given[lang] = name
		r, ok := cfg.Langs[lang]
		if !ok {
			r = DefaultRules(lang)
		}
		if err := checkKeys(val, reflect.TypeOf(r), ""); err != nil {
			return fmt.Errorf("quality: language %q: %w", name, err)
		}
		if err := val.Decode(&r); err != nil {
			return fmt.Errorf("quality: language %q: %w", name, err)
		}
		cfg.Langs[lang] = r
	}
	*c = cfg
	return nil
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// checkKeys reports the first mapping key in n that the struct type t (and
// the structs inside it) has no yaml field for. Other mistakes (a list where
// a number belongs) are left to the decoder.
func checkKeys(n *yaml.Node, t reflect.Type, path string) error {
	n = resolve(n)
	if t.Kind() != reflect.Struct || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if key.Value == "<<" && key.Tag == "!!merge" {
			val = resolve(val)
			subs := []*yaml.Node{val}
			if val.Kind == yaml.SequenceNode {
				subs = val.Content
			}
			for _, s := range subs {
				if err := checkKeys(s, t, path); err != nil {
					return err
				}
			}
			continue
		}
		f, ok := fieldByTag(t, key.Value)
		if !ok {
			return fmt.Errorf("unknown key %q (line %d)", path+key.Value, key.Line)
		}
		if err := checkKeys(val, f.Type, path+key.Value+"."); err != nil {
			return err
		}
	}
	return nil
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" {
			tag = strings.ToLower(f.Name)
		}
		if tag == name && f.IsExported() {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
