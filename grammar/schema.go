package grammar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// FromJSONSchema compiles a JSON schema into a grammar of the JSON texts
// it accepts (see SchemaGBNF).
func FromJSONSchema(schema []byte) (*Grammar, error) {
	src, err := SchemaGBNF(schema)
	if err != nil {
		return nil, err
	}
	return Parse(src)
}

// SchemaGBNF translates a JSON schema into GBNF whose root matches the
// JSON values the schema accepts: type (one or a list), properties with
// required (generated in the schema's order, required ones first),
// additionalProperties, items, prefixItems, minItems and maxItems, enum,
// const, anyOf and oneOf, allOf of one schema, $ref into $defs or
// definitions (recursion included), nullable, minLength and maxLength,
// and the formats date, time, date-time and uuid. Keywords it cannot hold
// output to (pattern, minimum, multipleOf, ...) are an error that names
// them rather than a grammar that might produce invalid values.
//
// Generated JSON has at most short runs of whitespace, and numbers at
// most 16 integer and 16 fraction digits.
func SchemaGBNF(schema []byte) (string, error) {
	c := &schemaConv{rules: map[string]string{}, refs: map[string]string{}, order: map[string][]string{}}
	dec := json.NewDecoder(bytes.NewReader(schema))
	dec.UseNumber()
	root, err := c.decode(dec, "#")
	if err != nil {
		return "", fmt.Errorf("json schema: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", fmt.Errorf("json schema: data after the schema")
	}
	c.root = root
	body, err := c.visit(root, "#")
	if err != nil {
		return "", err
	}
	c.rules["root"] = body
	names := make([]string, 0, len(c.rules))
	for n := range c.rules {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("root ::= " + c.rules["root"] + "\n")
	for _, n := range names {
		if n != "root" {
			b.WriteString(n + " ::= " + c.rules[n] + "\n")
		}
	}
	return b.String(), nil
}

// The building blocks every schema shares.
var schemaPrimitives = map[string]string{
	"ws":      `( " " | "\n" [ ]{0,16} )?`,
	"string":  `"\"" char* "\""`,
	"char":    `[^"\\\x00-\x1F\x7F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )`,
	"integer": `"-"? ( "0" | [1-9] [0-9]{0,15} )`,
	"number":  `"-"? ( "0" | [1-9] [0-9]{0,15} ) ( "." [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,3} )?`,
	"boolean": `"true" | "false"`,
	"null":    `"null"`,
	"value":   `object | array | string | number | boolean | null`,
	"object":  `"{" ws ( string ":" ws value ( "," ws string ":" ws value )* )? ws "}"`,
	"array":   `"[" ws ( value ( "," ws value )* )? ws "]"`,
	// Days valid in every year: February stops at 28.
	"date": `[0-9]{4} "-" ( ( "0" [13578] | "1" [02] ) "-" ( "0" [1-9] | [12] [0-9] | "3" [01] ) | ( "0" [469] | "11" ) "-" ( "0" [1-9] | [12] [0-9] | "30" ) | "02-" ( "0" [1-9] | "1" [0-9] | "2" [0-8] ) )`,
	"time": `( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{1,6} )? ( "Z" | [-+] ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] )`,
	"uuid": `[0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12}`,
}

// schemaPrimitiveDeps lists what each building block uses.
var schemaPrimitiveDeps = map[string][]string{
	"string": {"char"},
	"value":  {"object", "array", "string", "number", "boolean", "null"},
	"object": {"ws", "string", "value"},
	"array":  {"ws", "value"},
}

// Keywords that only annotate: they never change what validates.
var schemaAnnotations = map[string]bool{
	"title": true, "description": true, "default": true, "examples": true, "$schema": true, "$id": true,
	"$comment": true, "deprecated": true, "readOnly": true, "writeOnly": true, "strict": true,
	"$defs": true, "definitions": true, "contentMediaType": true, "contentEncoding": true,
}

type schemaConv struct {
	root  any
	rules map[string]string
	refs  map[string]string   // $ref -> rule name
	order map[string][]string // JSON pointer -> the object's keys in order
	n     int
}

// pointer appends a key to a JSON pointer.
func pointer(at, key string) string {
	return at + "/" + strings.ReplaceAll(strings.ReplaceAll(key, "~", "~0"), "/", "~1")
}

// decode reads one JSON value like json.Unmarshal into any (numbers as
// json.Number), and records the key order of every object.
func (c *schemaConv) decode(dec *json.Decoder, at string) (any, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := t.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := map[string]any{}
			var keys []string
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := c.decode(dec, pointer(at, k))
				if err != nil {
					return nil, err
				}
				if _, dup := m[k]; !dup {
					keys = append(keys, k)
				}
				m[k] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			c.order[at] = keys
			return m, nil
		case '[':
			var list []any
			for i := 0; dec.More(); i++ {
				v, err := c.decode(dec, pointer(at, strconv.Itoa(i)))
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			if list == nil {
				list = []any{}
			}
			return list, nil
		}
	}
	return t, nil
}

func (c *schemaConv) use(name string) string {
	if _, ok := c.rules[name]; !ok {
		c.rules[name] = schemaPrimitives[name]
		for _, d := range schemaPrimitiveDeps[name] {
			c.use(d)
		}
	}
	return name
}

// rule adds a rule for body and returns its name.
func (c *schemaConv) rule(body string) string {
	c.n++
	name := "s" + strconv.Itoa(c.n)
	c.rules[name] = body
	return name
}

// literal is GBNF for the JSON encoding of v.
func literal(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return gbnfQuote(strings.TrimSuffix(b.String(), "\n")), nil
}

func gbnfQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func schemaInt(v any, at, key string) (int, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("json schema %s: %s must be a number", at, key)
	}
	i, err := strconv.Atoi(n.String())
	if err != nil || i < 0 || i > maxRepeat {
		return 0, fmt.Errorf("json schema %s: %s %s: want a whole number from 0 to %d", at, key, n, maxRepeat)
	}
	return i, nil
}

// schemaBounds reads a pair of count keywords (minLength/maxLength,
// minItems/maxItems); hi is -1 when there is no maximum.
func schemaBounds(s map[string]any, at, minKey, maxKey string) (lo, hi int, err error) {
	hi = -1
	if v, ok := s[minKey]; ok {
		if lo, err = schemaInt(v, at, minKey); err != nil {
			return 0, 0, err
		}
	}
	if v, ok := s[maxKey]; ok {
		if hi, err = schemaInt(v, at, maxKey); err != nil {
			return 0, 0, err
		}
	}
	if hi >= 0 && hi < lo {
		return 0, 0, fmt.Errorf("json schema %s: %s %d is less than %s %d", at, maxKey, hi, minKey, lo)
	}
	return lo, hi, nil
}

// repeat is GBNF for lo to hi (-1: any number of) copies of item joined
// by sep.
func repeatJoined(item, sep string, lo, hi int) string {
	switch {
	case hi == 0:
		return ""
	case lo == 0 && hi < 0:
		return fmt.Sprintf("( %s ( %s %s )* )?", item, sep, item)
	case lo == 0:
		if hi == 1 {
			return fmt.Sprintf("( %s )?", item)
		}
		return fmt.Sprintf("( %s ( %s %s ){0,%d} )?", item, sep, item, hi-1)
	case hi < 0:
		return fmt.Sprintf("%s ( %s %s ){%d,}", item, sep, item, lo-1)
	}
	return fmt.Sprintf("%s ( %s %s ){%d,%d}", item, sep, item, lo-1, hi-1)
}

// visit returns a GBNF expression for schema s found at JSON pointer at.
func (c *schemaConv) visit(s any, at string) (string, error) {
	switch s := s.(type) {
	case bool:
		if s {
			return c.use("value"), nil
		}
		return "", fmt.Errorf("json schema %s: false accepts no value", at)
	case map[string]any:
		return c.visitObject(s, at)
	}
	return "", fmt.Errorf("json schema %s: want an object or a boolean", at)
}

func (c *schemaConv) visitObject(s map[string]any, at string) (string, error) {
	handled := map[string]bool{}
	seen := func(keys ...string) {
		for _, k := range keys {
			handled[k] = true
		}
	}
	var expr string
	var err error
	switch {
	case s["$ref"] != nil:
		seen("$ref")
		expr, err = c.ref(s["$ref"], at)
	case s["const"] != nil:
		seen("const", "type")
		expr, err = literal(s["const"])
	case s["enum"] != nil:
		seen("enum", "type")
		vals, ok := s["enum"].([]any)
		if !ok || len(vals) == 0 {
			return "", fmt.Errorf("json schema %s: enum must be a non-empty list", at)
		}
		var alts []string
		for _, v := range vals {
			l, err := literal(v)
			if err != nil {
				return "", fmt.Errorf("json schema %s/enum: %w", at, err)
			}
			alts = append(alts, l)
		}
		expr = "( " + strings.Join(alts, " | ") + " )"
	case s["anyOf"] != nil || s["oneOf"] != nil:
		key := "anyOf"
		if s["anyOf"] == nil {
			key = "oneOf"
		}
		seen(key)
		expr, err = c.alternatives(s[key], at+"/"+key)
	case s["allOf"] != nil:
		seen("allOf")
		list, ok := s["allOf"].([]any)
		if !ok || len(list) != 1 {
			return "", fmt.Errorf("json schema %s: allOf is supported with one schema only", at)
		}
		expr, err = c.visit(list[0], at+"/allOf/0")
	default:
		seen("type")
		expr, err = c.typed(s, at, seen)
	}
	if err != nil {
		return "", err
	}
	if n, _ := s["nullable"].(bool); n {
		expr = "( " + expr + " | " + c.use("null") + " )"
	}
	seen("nullable")
	var extra []string
	for k := range s {
		if !handled[k] && !schemaAnnotations[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return "", fmt.Errorf("json schema %s: keyword %q is not supported here (constrained decoding would not enforce it)", at, extra[0])
	}
	return expr, nil
}

func (c *schemaConv) alternatives(v any, at string) (string, error) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return "", fmt.Errorf("json schema %s: want a non-empty list of schemas", at)
	}
	var alts []string
	for i, sub := range list {
		e, err := c.visit(sub, fmt.Sprintf("%s/%d", at, i))
		if err != nil {
			return "", err
		}
		alts = append(alts, e)
	}
	return "( " + strings.Join(alts, " | ") + " )", nil
}

// ref resolves a local reference (#/$defs/X, #/definitions/X, #) to a
// rule, visiting its schema once, so recursive schemas work.
func (c *schemaConv) ref(v any, at string) (string, error) {
	ref, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("json schema %s: $ref must be a string", at)
	}
	if name, ok := c.refs[ref]; ok {
		return name, nil
	}
	if !strings.HasPrefix(ref, "#") {
		return "", fmt.Errorf("json schema %s: $ref %q: only references inside the schema (#/...) are supported", at, ref)
	}
	target := c.root
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#"), "/")[1:] {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := target.(map[string]any)
		if !ok || m[part] == nil {
			return "", fmt.Errorf("json schema %s: $ref %q does not resolve", at, ref)
		}
		target = m[part]
	}
	name := c.rule("") // reserve the name before visiting: recursion refers to it
	c.refs[ref] = name
	body, err := c.visit(target, ref)
	if err != nil {
		return "", err
	}
	c.rules[name] = body
	return name, nil
}

func (c *schemaConv) typed(s map[string]any, at string, seen func(...string)) (string, error) {
	var types []string
	switch t := s["type"].(type) {
	case nil:
		// No type: infer it from the keywords, or accept anything.
		switch {
		case s["properties"] != nil || s["additionalProperties"] != nil || s["required"] != nil:
			types = []string{"object"}
		case s["items"] != nil || s["prefixItems"] != nil:
			types = []string{"array"}
		default:
			return c.use("value"), nil
		}
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			n, ok := x.(string)
			if !ok {
				return "", fmt.Errorf("json schema %s: type must be a string or a list of strings", at)
			}
			types = append(types, n)
		}
	default:
		return "", fmt.Errorf("json schema %s: type must be a string or a list of strings", at)
	}
	var alts []string
	for _, t := range types {
		var e string
		var err error
		switch t {
		case "string":
			e, err = c.str(s, at, seen)
		case "integer", "number", "boolean", "null":
			e = c.use(t)
		case "object":
			e, err = c.object(s, at, seen)
		case "array":
			e, err = c.array(s, at, seen)
		default:
			return "", fmt.Errorf("json schema %s: unknown type %q", at, t)
		}
		if err != nil {
			return "", err
		}
		alts = append(alts, e)
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return "( " + strings.Join(alts, " | ") + " )", nil
}

func (c *schemaConv) str(s map[string]any, at string, seen func(...string)) (string, error) {
	seen("format", "minLength", "maxLength")
	if f, _ := s["format"].(string); f != "" {
		switch f {
		case "date", "time", "uuid":
			return c.rule(`"\"" ` + c.use(f) + ` "\""`), nil
		case "date-time":
			return c.rule(`"\"" ` + c.use("date") + ` "T" ` + c.use("time") + ` "\""`), nil
		}
		// Other formats are annotations by default (JSON Schema 2020-12).
	}
	lo, hi, err := schemaBounds(s, at, "minLength", "maxLength")
	if err != nil {
		return "", err
	}
	if lo == 0 && hi < 0 {
		return c.use("string"), nil
	}
	c.use("char")
	rep := fmt.Sprintf("{%d,%d}", lo, hi)
	if hi < 0 {
		rep = fmt.Sprintf("{%d,}", lo)
	}
	return c.rule(`"\"" char` + rep + ` "\""`), nil
}

func (c *schemaConv) object(s map[string]any, at string, seen func(...string)) (string, error) {
	seen("properties", "required", "additionalProperties")
	props, _ := s["properties"].(map[string]any)
	if s["properties"] != nil && props == nil {
		return "", fmt.Errorf("json schema %s: properties must be an object", at)
	}
	required := map[string]bool{}
	if r, ok := s["required"]; ok {
		list, ok := r.([]any)
		if !ok {
			return "", fmt.Errorf("json schema %s: required must be a list of names", at)
		}
		for _, x := range list {
			n, ok := x.(string)
			if !ok {
				return "", fmt.Errorf("json schema %s: required must be a list of names", at)
			}
			if props == nil || props[n] == nil {
				return "", fmt.Errorf("json schema %s: required property %q has no schema in properties", at, n)
			}
			required[n] = true
		}
	}
	addl, hasAddl := s["additionalProperties"]
	if props == nil {
		if !hasAddl || addl == true {
			return c.use("object"), nil
		}
		if addl == false {
			return `"{" ` + c.use("ws") + ` "}"`, nil
		}
		// A map: any keys, values of one schema.
		v, err := c.visit(addl, at+"/additionalProperties")
		if err != nil {
			return "", err
		}
		kv := c.rule(c.use("string") + ` ":" ` + c.use("ws") + " " + v)
		return c.rule(`"{" ws ` + repeatJoined(kv, `"," ws`, 0, -1) + ` ws "}"`), nil
	}
	if hasAddl {
		if _, isBool := addl.(bool); !isBool {
			return "", fmt.Errorf("json schema %s: additionalProperties as a schema beside properties is not supported", at)
		}
	}
	c.use("ws")
	c.use("string")
	// Keys in the schema's order: the order a model was shown, and JSON
	// objects are unordered anyway. The decoder keeps map order out of
	// it, so recover the order from the raw text.
	order := c.keyOrder(at, props)
	var req, opt []string
	for _, k := range order {
		lit, _ := literal(k)
		v, err := c.visit(props[k], pointer(pointer(at, "properties"), k))
		if err != nil {
			return "", err
		}
		kv := c.rule(lit + ` ":" ws ` + v)
		if required[k] {
			req = append(req, kv)
		} else {
			opt = append(opt, kv)
		}
	}
	// Optional properties: any subset, in order. tail[i] is a non-empty
	// run of the optional properties from i on.
	tail := make([]string, len(opt))
	for i := len(opt) - 1; i >= 0; i-- {
		if i == len(opt)-1 {
			tail[i] = opt[i]
			continue
		}
		tail[i] = c.rule(fmt.Sprintf(`%s ( "," ws %s )? | %s`, opt[i], tail[i+1], tail[i+1]))
	}
	body := `"{" ws `
	if len(req) > 0 {
		body += strings.Join(req, ` "," ws `)
		if len(opt) > 0 {
			body += ` ( "," ws ` + tail[0] + ` )?`
		}
	} else if len(opt) > 0 {
		body += tail[0] + `?`
	}
	return c.rule(body + ` ws "}"`), nil
}

// keyOrder lists an object's property names in the order the schema's
// text gives them (decoding into a map loses it).
func (c *schemaConv) keyOrder(at string, props map[string]any) []string {
	if o, ok := c.order[pointer(at, "properties")]; ok && len(o) == len(props) {
		return o
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (c *schemaConv) array(s map[string]any, at string, seen func(...string)) (string, error) {
	seen("items", "prefixItems", "minItems", "maxItems")
	lo, hi, err := schemaBounds(s, at, "minItems", "maxItems")
	if err != nil {
		return "", err
	}
	ws := c.use("ws")
	if p, ok := s["prefixItems"]; ok {
		list, ok := p.([]any)
		if !ok {
			return "", fmt.Errorf("json schema %s: prefixItems must be a list of schemas", at)
		}
		if s["items"] != false {
			return "", fmt.Errorf("json schema %s: prefixItems is supported with items: false (a fixed tuple)", at)
		}
		var parts []string
		for i, sub := range list {
			e, err := c.visit(sub, fmt.Sprintf("%s/prefixItems/%d", at, i))
			if err != nil {
				return "", err
			}
			parts = append(parts, e)
		}
		if len(parts) < lo || (hi >= 0 && len(parts) > hi) {
			return "", fmt.Errorf("json schema %s: a tuple of %d items outside minItems..maxItems", at, len(parts))
		}
		return c.rule(`"[" ws ` + strings.Join(parts, ` "," ws `) + ` ws "]"`), nil
	}
	item := c.use("value")
	if it, ok := s["items"]; ok {
		if item, err = c.visit(it, at+"/items"); err != nil {
			return "", err
		}
	}
	return c.rule(`"[" ` + ws + ` ` + repeatJoined(item, `"," ws`, lo, hi) + ` ws "]"`), nil
}
