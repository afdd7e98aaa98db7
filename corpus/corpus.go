// Package corpus streams records out of text corpora: plain text with one
// record per line, JSON Lines with the text in a named field, HTML pages
// (their main text, see HTMLText), Parquet files with the text in a named
// string column, and WARC web archives (the main text of their HTML
// responses, and their plain-text conversion and resource records). Files
// may be gzip- or zstd-compressed; compression is recognised by its magic
// bytes, so a misleading file extension does no harm.
//
// A Reader never holds more than one record in memory (for Parquet: one page
// of the text column), and a record is never allowed to grow past
// Options.MaxRecordBytes. Every error names the input and, where one
// applies, the 1-based line, row or record number.
package corpus

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"
)

// Format is the layout of records in a corpus.
type Format int

const (
	// Auto picks the format from the file name: after removing a ".gz",
	// ".zst" or ".zstd" suffix, a ".jsonl", ".json" or ".ndjson" extension
	// means JSONL, ".html", ".htm" or ".xhtml" HTML, ".parquet" Parquet,
	// ".warc" WARC, and anything else Text.
	Auto Format = iota
	// Text holds one record per line.
	Text
	// JSONL holds one JSON object per line, with the record text in a
	// string field (see Options.Field).
	JSONL
	// HTML is a web page whose main text (see HTMLText) is one record.
	HTML
	// Parquet is an Apache Parquet file with the record text in a string
	// column (see Options.Field); each non-empty row is one record.
	Parquet
	// WARC is a web archive (ISO 28500, WARC 1.0 or 1.1; a .warc.gz file
	// compresses each record as its own gzip member). HTML responses give
	// their main text, plain-text responses, conversion records (WET files)
	// and resource records their text; every other record is skipped.
	WARC
)

// String returns the name of the format.
func (f Format) String() string {
	switch f {
	case Auto:
		return "auto"
	case Text:
		return "text"
	case JSONL:
		return "jsonl"
	case HTML:
		return "html"
	case Parquet:
		return "parquet"
	case WARC:
		return "warc"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// ParseFormat returns the format String names; "" means Auto.
func ParseFormat(name string) (Format, error) {
	if name == "" {
		return Auto, nil
	}
	for f := Auto; f <= WARC; f++ {
		if f.String() == name {
			return f, nil
		}
	}
	return Auto, fmt.Errorf("unknown format %q: want auto, text, jsonl, html, parquet or warc", name)
}

// DefaultField is the JSON field or Parquet column read when Options.Field
// is empty.
const DefaultField = "text"

// DefaultMaxRecordBytes is the record size limit used when
// Options.MaxRecordBytes is zero or negative.
const DefaultMaxRecordBytes = 64 << 20

// Options configure a Reader. The zero value reads text or JSONL (chosen by
// file name) with the text in the "text" field.
type Options struct {
	// Format of the records; Auto decides by file name.
	Format Format
	// Field names the JSON field (JSONL) or the string column (Parquet)
	// holding the text. Empty means "text". A dotted path such as
	// "meta.body" descends into nested objects or Parquet groups; a
	// top-level key or column that literally equals the whole path is
	// preferred over descending.
	Field string
	// IDField names the JSON field (JSONL) or column (Parquet) whose value
	// becomes Record.ID: a string, or a number as written in the input
	// (Parquet: a string or integer column, integers in decimal). Dotted
	// paths work as for Field. Empty
	// means no ID. A missing or null ID gives an empty Record.ID; an ID of
	// another kind is a *RecordError (JSONL) or an error from Open (Parquet).
	// Text and HTML inputs have no IDs; WARC records always have one (see
	// Record.ID) and ignore IDField.
	IDField string
	// SkipMissing makes JSONL lines whose field is missing or null, and
	// Parquet rows whose text is null, be skipped silently instead of
	// reported as errors.
	SkipMissing bool
	// MaxRecordBytes bounds the size of one record: a line (terminator not
	// included), an HTML page, a Parquet value, or a WARC record's payload.
	// Zero or negative means DefaultMaxRecordBytes.
	MaxRecordBytes int
}

// Record is one piece of text read from a corpus.
type Record struct {
	// Text is the record's text, always valid UTF-8 and never empty.
	Text string
	// Line is where the record came from, counted from 1: the line number
	// for Text and JSONL (1 for HTML), the row number for Parquet (across
	// row groups), and the record number for WARC (every record counts,
	// skipped ones too).
	Line int64
	// ID identifies the record within its input where the format has an
	// identifier: for WARC the WARC-Target-URI, or the WARC-Record-ID when
	// there is no target (angle brackets removed); for JSONL and Parquet
	// the value of Options.IDField. Empty otherwise.
	ID string
}

// Errors wrapped by *RecordError, for use with errors.Is.
var (
	// ErrLineTooLong reports a line, page, value or WARC payload longer
	// than Options.MaxRecordBytes.
	ErrLineTooLong = errors.New("line too long")
	// ErrInvalidUTF8 reports bytes that are not valid UTF-8.
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
	// ErrInvalidJSON reports a JSONL line that is not a JSON object.
	ErrInvalidJSON = errors.New("invalid JSON")
	// ErrMissingField reports a JSONL object without the text field, or a
	// null Parquet value.
	ErrMissingField = errors.New("missing")
	// ErrFieldType reports a text field (or a step of its dotted path)
	// holding the wrong kind of JSON value.
	ErrFieldType = errors.New("wrong type")
)

// RecordError is a problem with one record of input (a line, a Parquet row,
// a WARC record). It affects that record only: after a RecordError, Next may
// be called again to continue with the following one.
type RecordError struct {
	Name string // name of the input
	Line int64  // 1-based line, row (Parquet) or record (WARC) number
	Err  error  // what went wrong

	unit string // "line" when empty, "row" or "record"
}

// Error formats the error as "corpus: NAME line N: problem" ("row N" for
// Parquet, "record N" for WARC).
func (e *RecordError) Error() string {
	unit := e.unit
	if unit == "" {
		unit = "line"
	}
	return fmt.Sprintf("corpus: %s %s %d: %v", e.Name, unit, e.Line, e.Err)
}

// Unwrap returns the underlying error.
func (e *RecordError) Unwrap() error { return e.Err }

// fieldTypeError is the message of ErrFieldType errors: it reads
// `field "text": expected a string, got number`.
type fieldTypeError struct {
	field string
	msg   string
}

func (e *fieldTypeError) Error() string        { return fmt.Sprintf("field %q: %s", e.field, e.msg) }
func (e *fieldTypeError) Is(target error) bool { return target == ErrFieldType }

// Reader reads records one at a time. It is not safe for concurrent use.
type Reader struct {
	name    string
	format  Format
	field   string
	path    []string // field split on dots
	idField string
	idPath  []string // idField split on dots
	skip    bool
	max     int
	br      *bufio.Reader
	codec   string // "gzip", "zstd" or "" for plain input
	closers []func() error
	buf     []byte // assembles lines longer than the bufio buffer
	line    int64
	err     error // sticky: I/O, decompression, or closed
	done    bool  // HTML: the page has been returned
	closed  bool
	pq      *parquetReader // Parquet only
	warc    *warcReader    // WARC only
}

// Open opens the file at path and returns a Reader over it. Errors name the
// file by path as given. The Reader owns the file and closes it in Close.
func Open(path string, opt Options) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("corpus: %w", err)
	}
	r, err := newReader(f, path, opt)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closers = append(r.closers, f.Close)
	return r, nil
}

// NewReader returns a Reader over r. The name is used to choose the format
// when opt.Format is Auto, and in error messages. Closing the returned
// Reader releases decompressors but does not close r.
//
// Parquet needs random access: when r is an io.ReaderAt and io.Seeker (an
// *os.File, a *bytes.Reader) holding an uncompressed Parquet file, it is
// read in place; any other r is read into memory first, up to
// MaxParquetStreamBytes (after decompression), and a larger stream is an
// error. Open reads a Parquet file in place.
func NewReader(r io.Reader, name string, opt Options) (*Reader, error) {
	return newReader(r, name, opt)
}

const (
	gzipMagic          = "\x1f\x8b"
	zstdMagic          = "\x28\xb5\x2f\xfd"
	zstdSkippableMagic = "\x2a\x4d\x18" // preceded by one byte 0x50..0x5f
	bufSize            = 64 << 10
)

func newReader(src io.Reader, name string, opt Options) (*Reader, error) {
	format := opt.Format
	switch format {
	case Auto:
		format = formatByName(name)
	case Text, JSONL, HTML, Parquet, WARC:
	default:
		return nil, fmt.Errorf("corpus: %s: unknown format %v", name, opt.Format)
	}
	r := &Reader{
		name:    name,
		format:  format,
		field:   opt.Field,
		idField: opt.IDField,
		skip:    opt.SkipMissing,
		max:     opt.MaxRecordBytes,
	}
	if r.field == "" {
		r.field = DefaultField
	}
	r.path = strings.Split(r.field, ".")
	if r.idField != "" {
		r.idPath = strings.Split(r.idField, ".")
	}
	if r.max <= 0 {
		r.max = DefaultMaxRecordBytes
	}
	if format == Parquet {
		if err := r.openParquet(src); err != nil {
			r.Close()
			return nil, err
		}
		return r, nil
	}

	raw := bufio.NewReaderSize(src, bufSize)
	magic, err := raw.Peek(4)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("corpus: %s: %w", name, err)
	}
	var dec io.Reader = raw
	switch {
	case bytes.HasPrefix(magic, []byte(gzipMagic)):
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return nil, fmt.Errorf("corpus: %s: reading gzip header: %w", name, err)
		}
		r.codec = "gzip"
		// gzip's Close only repeats a decompression error, which Next
		// has already reported.
		r.closers = append(r.closers, func() error { zr.Close(); return nil })
		dec = zr
	case bytes.HasPrefix(magic, []byte(zstdMagic)) ||
		len(magic) == 4 && magic[0]&0xf0 == 0x50 && string(magic[1:]) == zstdSkippableMagic:
		zr, err := zstd.NewReader(raw, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("corpus: %s: starting zstd decoder: %w", name, err)
		}
		r.codec = "zstd"
		r.closers = append(r.closers, func() error { zr.Close(); return nil })
		dec = zr
	}
	if dec == raw {
		r.br = raw
	} else {
		r.br = bufio.NewReaderSize(dec, bufSize)
	}
	if format == WARC {
		r.warc = &warcReader{}
	}
	return r, nil
}

// formatByName implements Auto.
func formatByName(name string) Format {
	lower := strings.ToLower(filepath.Base(name))
	for _, ext := range []string{".gz", ".zst", ".zstd"} {
		if s, ok := strings.CutSuffix(lower, ext); ok {
			lower = s
			break
		}
	}
	switch filepath.Ext(lower) {
	case ".jsonl", ".json", ".ndjson":
		return JSONL
	case ".html", ".htm", ".xhtml":
		return HTML
	case ".parquet":
		return Parquet
	case ".warc":
		return WARC
	}
	return Text
}

// Format reports the format the Reader decodes (never Auto).
func (r *Reader) Format() Format { return r.format }

// Name reports the name used in error messages.
func (r *Reader) Name() string { return r.name }

// Next returns the next record, or io.EOF when the input is exhausted.
// Empty lines, and JSONL and Parquet records whose text is the empty
// string, are skipped. A *RecordError concerns one record only and reading
// may go on; any other error (I/O, corrupt compressed data or Parquet
// pages, a WARC stream that cannot be resynchronised, a closed Reader) is
// returned again by every later call.
func (r *Reader) Next() (Record, error) {
	for {
		if r.err != nil {
			return Record{}, r.err
		}
		switch r.format {
		case HTML:
			return r.nextHTML()
		case Parquet:
			return r.nextParquet()
		case WARC:
			return r.nextWARC()
		}
		line, err := r.readLine()
		if err != nil {
			return Record{}, err
		}
		if r.line == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")) // byte order mark
		}
		if len(line) == 0 {
			continue
		}
		if !utf8.Valid(line) {
			return Record{}, r.recordErr(fmt.Errorf("%w at byte offset %d", ErrInvalidUTF8, invalidOffset(line)))
		}
		if r.format == Text {
			return Record{Text: string(line), Line: r.line}, nil
		}
		text, id, ok, err := r.decodeJSON(line)
		if err != nil {
			return Record{}, r.recordErr(err)
		}
		if !ok || text == "" {
			continue
		}
		return Record{Text: text, Line: r.line, ID: id}, nil
	}
}

// All returns an iterator over the remaining records. Iteration ends at the
// end of input or after a non-RecordError error; after a *RecordError it
// resumes with the next line if the loop body continues.
func (r *Reader) All() iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		for {
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			if !yield(rec, err) {
				return
			}
			if err != nil && r.err != nil {
				return
			}
		}
	}
}

// Close releases the decompressor and, for a Reader from Open, the file.
// Calling Close more than once is harmless.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.err = fmt.Errorf("corpus: %s: reader is closed", r.name)
	var errs []error
	for i := len(r.closers) - 1; i >= 0; i-- {
		if err := r.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	r.closers = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("corpus: %s: close: %w", r.name, err)
	}
	return nil
}

func (r *Reader) recordErr(err error) error {
	unit := ""
	switch r.format {
	case Parquet:
		unit = "row"
	case WARC:
		unit = "record"
	}
	return &RecordError{Name: r.name, Line: r.line, Err: err, unit: unit}
}

// readLine returns the next line without its "\n" or "\r\n" terminator and
// advances r.line. The slice is valid until the next call. It returns
// io.EOF at the end of input, a *RecordError for an over-long line (whose
// remainder it has already skipped), and sets r.err for anything else.
func (r *Reader) readLine() ([]byte, error) {
	r.buf = r.buf[:0]
	tooLong := false
	for {
		chunk, err := r.br.ReadSlice('\n')
		switch {
		case err == bufio.ErrBufferFull:
			if !tooLong {
				// The terminator is at most 2 bytes, so anything beyond
				// max+2 bytes without a newline is certainly too long.
				if len(r.buf)+len(chunk) > r.max+2 {
					tooLong = true
					r.buf = r.buf[:0]
				} else {
					r.buf = append(r.buf, chunk...)
				}
			}
			continue
		case err == io.EOF:
			if len(chunk) == 0 && len(r.buf) == 0 && !tooLong {
				return nil, io.EOF
			}
		case err != nil:
			r.err = r.readErr(err)
			return nil, r.err
		}
		r.line++
		if tooLong {
			return nil, r.recordErr(r.tooLongErr())
		}
		line := chunk
		if len(r.buf) > 0 {
			r.buf = append(r.buf, chunk...)
			line = r.buf
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > r.max {
			return nil, r.recordErr(r.tooLongErr())
		}
		return line, nil
	}
}

func (r *Reader) tooLongErr() error {
	return fmt.Errorf("%w: exceeds the limit of %d bytes (Options.MaxRecordBytes)", ErrLineTooLong, r.max)
}

func (r *Reader) readErr(err error) error {
	return r.inputErr(err, fmt.Sprintf("after line %d", r.line))
}

// inputErr names the file, whether it was being read or decompressed, and
// where (for lines and WARC records alike).
func (r *Reader) inputErr(err error, where string) error {
	if err == io.ErrUnexpectedEOF && r.codec != "" {
		err = fmt.Errorf("truncated %s data: %w", r.codec, err)
	}
	what := "reading"
	if r.codec != "" {
		what = "decompressing " + r.codec + " data"
	}
	return fmt.Errorf("corpus: %s: %s %s: %w", r.name, what, where, err)
}

// invalidOffset returns the offset of the first byte of b that does not
// start a valid UTF-8 sequence.
func invalidOffset(b []byte) int {
	for i := 0; i < len(b); {
		c, size := utf8.DecodeRune(b[i:])
		if c == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// decodeJSON extracts the text field, and the ID field when one is
// configured, from one JSONL line. ok is false when the text field is
// missing or null and SkipMissing is set.
func (r *Reader) decodeJSON(line []byte) (text, id string, ok bool, err error) {
	trimmed := bytes.TrimSpace(line)
	if len(trimmed) == 0 {
		return "", "", false, nil
	}
	if trimmed[0] != '{' {
		if !json.Valid(trimmed) {
			var v any
			return "", "", false, fmt.Errorf("%w: %w", ErrInvalidJSON, json.Unmarshal(trimmed, &v))
		}
		return "", "", false, fmt.Errorf("%w: expected an object, got %s", ErrInvalidJSON, jsonKind(trimmed))
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &obj); err != nil {
		return "", "", false, fmt.Errorf("%w: %w", ErrInvalidJSON, err)
	}

	val, found, err := lookupJSON(obj, r.field, r.path)
	if err != nil {
		return "", "", false, err
	}
	kind := "null"
	if found {
		kind = jsonKind(val)
	}
	switch kind {
	case "string":
		if err := json.Unmarshal(val, &text); err != nil {
			return "", "", false, fmt.Errorf("field %q: %w: %w", r.field, ErrInvalidJSON, err)
		}
	case "null":
		if r.skip {
			return "", "", false, nil
		}
		if !found {
			return "", "", false, fmt.Errorf("field %q: %w", r.field, ErrMissingField)
		}
		fallthrough
	default:
		return "", "", false, &fieldTypeError{field: r.field, msg: "expected a string, got " + kind}
	}
	if r.idField == "" || text == "" {
		return text, "", true, nil
	}

	val, found, err = lookupJSON(obj, r.idField, r.idPath)
	if err != nil {
		return "", "", false, err
	}
	if !found {
		return text, "", true, nil
	}
	switch kind := jsonKind(val); kind {
	case "string":
		if err := json.Unmarshal(val, &id); err != nil {
			return "", "", false, fmt.Errorf("field %q: %w: %w", r.idField, ErrInvalidJSON, err)
		}
	case "number":
		id = string(bytes.TrimSpace(val))
	case "null":
	default:
		return "", "", false, &fieldTypeError{field: r.idField, msg: "expected a string or number, got " + kind}
	}
	return text, id, true, nil
}

// lookupJSON finds field in obj: the top-level key equal to the whole
// field, else the dotted path through nested objects. A missing or null
// step counts as a missing field.
func lookupJSON(obj map[string]json.RawMessage, field string, path []string) (json.RawMessage, bool, error) {
	if val, found := obj[field]; found || len(path) < 2 {
		return val, found, nil
	}
	for i, step := range path {
		val, found := obj[step]
		if !found {
			return nil, false, nil
		}
		if i == len(path)-1 {
			return val, true, nil
		}
		switch kind := jsonKind(val); kind {
		case "null":
			return nil, false, nil
		case "object":
			obj = nil
			if err := json.Unmarshal(val, &obj); err != nil {
				return nil, false, fmt.Errorf("field %q: %w: %w", field, ErrInvalidJSON, err)
			}
		default:
			prefix := strings.Join(path[:i+1], ".")
			return nil, false, &fieldTypeError{field: field, msg: fmt.Sprintf("%q is %s %s, not an object", prefix, article(kind), kind)}
		}
	}
	return nil, false, nil
}

// jsonKind names the kind of a valid JSON value by its first byte.
func jsonKind(v []byte) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func article(kind string) string {
	switch kind[0] {
	case 'a', 'e', 'i', 'o', 'u':
		return "an"
	}
	return "a"
}

// nextHTML returns the page's text as the one record of an HTML input.
func (r *Reader) nextHTML() (Record, error) {
	if r.done {
		return Record{}, io.EOF
	}
	r.done = true
	r.line = 1
	text, truncated, err := HTMLText(r.br, r.max)
	if err != nil {
		r.err = r.readErr(err)
		return Record{}, r.err
	}
	if truncated {
		return Record{}, r.recordErr(fmt.Errorf("%w: page exceeds the limit of %d bytes (Options.MaxRecordBytes)", ErrLineTooLong, r.max))
	}
	if !utf8.ValidString(text) {
		return Record{}, r.recordErr(fmt.Errorf("%w at byte offset %d", ErrInvalidUTF8, invalidOffset([]byte(text))))
	}
	if text == "" {
		return Record{}, io.EOF
	}
	return Record{Text: text, Line: 1}, nil
}

// Expand turns paths into the list of files they name: files as given,
// folders walked recursively in lexical order for files whose format
// Auto recognises as JSONL, HTML, Parquet or WARC, or whose extension is
// .txt (each possibly compressed: .warc.gz, .jsonl.zst). It fails on a path
// that does not exist.
func Expand(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("corpus: %w", err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			lower := strings.ToLower(path)
			for _, ext := range []string{".gz", ".zst", ".zstd"} {
				lower = strings.TrimSuffix(lower, ext)
			}
			if formatByName(path) != Text || strings.HasSuffix(lower, ".txt") {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("corpus: %w", err)
		}
	}
	return out, nil
}

// Texts streams the text of every record in the files that paths name
// (folders expanded as by Expand), file after file. It stops at the
// first error, which names the file and line.
func Texts(paths []string, opt Options) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		files, err := Expand(paths)
		if err != nil {
			yield("", err)
			return
		}
		for _, f := range files {
			r, err := Open(f, opt)
			if err != nil {
				yield("", err)
				return
			}
			for rec, err := range r.All() {
				if err != nil {
					r.Close()
					yield("", err)
					return
				}
				if !yield(rec.Text, nil) {
					r.Close()
					return
				}
			}
			if err := r.Close(); err != nil {
				yield("", err)
				return
			}
		}
	}
}
