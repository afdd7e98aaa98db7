package corpus

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http/httputil"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/net/html/charset"
)

// The WARC reader is written here rather than taken from a library. Of the
// two Go WARC libraries, github.com/internetarchive/gowarc (v0.8.96) is a
// crawler's HTTP client as much as a reader and pulls in a TLS stack
// (refraction-networking/utls), a DNS client, xz, blake3 and more, about 90
// packages. github.com/nlnwa/gowarc/v3 (v3.1.0) is small and survived 90
// seconds of fuzzing (730k inputs) without a panic, but it reads header
// lines and HTTP headers with unbounded ReadBytes, so one line without a
// newline grows memory with the file; by default it buffers every block,
// spilling to temporary files, to check digests; and it leaves no room
// for this package's policy on oversized records. Reading WARC needs
// little: header lines, a Content-Length, a block, an end-of-record
// marker. Everything below is bounded by the limits that follow and by
// Options.MaxRecordBytes.

const (
	// maxWARCLine bounds one line of a WARC or HTTP header.
	maxWARCLine = 64 << 10
	// maxWARCHeader bounds a record's WARC header, and an HTTP response's
	// header inside a block.
	maxWARCHeader = 1 << 20
)

// Errors of single WARC records (wrapped in *RecordError).
var (
	errWARCSync = errors.New("not at a WARC record")
)

// warcReader holds the state of a WARC Reader.
type warcReader struct {
	started bool   // a record has been seen
	resync  bool   // the stream lost its place: scan for the next record
	line    []byte // line buffer
}

// warcRecord is a record's header, as far as it matters here.
type warcRecord struct {
	typ         string // WARC-Type, lower case
	id          string
	contentType string
	length      int64
}

// nextWARC returns the text of the next record that has some.
func (r *Reader) nextWARC() (Record, error) {
	for {
		if r.err != nil {
			return Record{}, r.err
		}
		rec, err := r.warcHeader()
		if err != nil {
			if err == io.EOF {
				return Record{}, io.EOF
			}
			var re *RecordError
			if !errors.As(err, &re) {
				r.err = err
			}
			return Record{}, err
		}
		text, err := r.warcBlock(rec)
		if err != nil {
			var re *RecordError
			if !errors.As(err, &re) {
				r.err = err
			}
			return Record{}, err
		}
		if err := r.warcTrailer(); err != nil {
			return Record{}, err
		}
		if text == "" {
			continue
		}
		return Record{Text: text, Line: r.line, ID: rec.id}, nil
	}
}

// warcHeader reads up to and including the blank line that ends a
// record's header. It returns io.EOF at the end of the input.
func (r *Reader) warcHeader() (*warcRecord, error) {
	w := r.warc
	// Find the version line, skipping blank lines (and, after losing
	// sync, anything else).
	var line []byte
	for {
		var err error
		line, err = r.warcLine(r.br)
		if err == errLineLong {
			if !w.resync {
				return nil, r.warcSyncErr(fmt.Sprintf("a line longer than %d bytes", maxWARCLine))
			}
			continue
		}
		if err == io.EOF {
			return nil, io.EOF
		}
		if err == errPartialLine {
			switch {
			case len(bytes.TrimSpace(line)) == 0 || w.resync:
				return nil, io.EOF
			case bytes.HasPrefix([]byte("WARC/"), line) || isWARCVersion(line):
				r.line++
				return nil, r.warcTruncated("in the header")
			}
			return nil, r.warcSyncErr(fmt.Sprintf("%q", truncate(line, 40)))
		}
		if err != nil {
			return nil, r.warcReadErr(err)
		}
		if isWARCVersion(line) {
			break
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if !w.resync {
			return nil, r.warcSyncErr(fmt.Sprintf("%q", truncate(line, 40)))
		}
	}
	w.resync = false
	w.started = true
	r.line++

	rec := &warcRecord{length: -1}
	size := len(line)
	var target, recordID, lastKey string
	for {
		line, err := r.warcLine(r.br)
		if err == errLineLong {
			w.resync = true
			return nil, r.recordErr(fmt.Errorf("header line longer than %d bytes", maxWARCLine))
		}
		if err == io.EOF || err == errPartialLine {
			return nil, r.warcTruncated("in the header")
		}
		if err != nil {
			return nil, r.warcReadErr(err)
		}
		size += len(line)
		if size > maxWARCHeader {
			w.resync = true
			return nil, r.recordErr(fmt.Errorf("header longer than %d bytes", maxWARCHeader))
		}
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			// A continuation of the previous field; only the
			// fields used here matter, and none is long.
			if lastKey == "content-type" {
				rec.contentType += " " + string(bytes.TrimSpace(line))
			}
			continue
		}
		key, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			w.resync = true
			return nil, r.recordErr(fmt.Errorf("malformed header line %q", truncate(line, 40)))
		}
		lastKey = strings.ToLower(string(bytes.TrimSpace(key)))
		v := string(bytes.TrimSpace(value))
		switch lastKey {
		case "warc-type":
			rec.typ = strings.ToLower(v)
		case "warc-target-uri":
			target = strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")
		case "warc-record-id":
			recordID = strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")
		case "content-type":
			rec.contentType = v
		case "content-length":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || v[0] == '+' {
				rec.length = -2
			} else {
				rec.length = n
			}
		}
	}
	rec.id = target
	if rec.id == "" {
		rec.id = recordID
	}
	switch rec.length {
	case -1:
		w.resync = true
		return nil, r.recordErr(errors.New("no Content-Length"))
	case -2:
		w.resync = true
		return nil, r.recordErr(errors.New("Content-Length is not a non-negative integer"))
	}
	return rec, nil
}

// isWARCVersion reports whether line is a version line such as "WARC/1.1".
func isWARCVersion(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte("WARC/"))
	return ok && len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9'
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// warcSyncErr reports input where a record should start. At the start of
// the input that means it is not WARC at all, which stops reading; later
// it means that the previous record's Content-Length was wrong, and
// reading resumes at the next record.
func (r *Reader) warcSyncErr(found string) error {
	if !r.warc.started {
		return fmt.Errorf("corpus: %s: not a WARC file: it starts with %s instead of a WARC/1.x version line", r.name, found)
	}
	r.warc.resync = true
	return &RecordError{Name: r.name, Line: r.line + 1, unit: "record",
		Err: fmt.Errorf("%w: found %s where a WARC/1.x version line should be (wrong Content-Length in record %d?); skipping to the next record", errWARCSync, found, r.line)}
}

func (r *Reader) warcTruncated(where string) error {
	return fmt.Errorf("corpus: %s: record %d: input ends %s (truncated file?): %w", r.name, r.line, where, io.ErrUnexpectedEOF)
}

func (r *Reader) warcReadErr(err error) error {
	return r.inputErr(err, fmt.Sprintf("in record %d", r.line))
}

var (
	errLineLong    = errors.New("line too long")
	errPartialLine = errors.New("last line has no newline")
)

// warcLine reads a line from br without its "\n" or "\r\n", at most
// maxWARCLine bytes. A longer line is consumed and reported as
// errLineLong. A last line without a newline is returned with
// errPartialLine.
func (r *Reader) warcLine(br *bufio.Reader) ([]byte, error) {
	w := r.warc
	w.line = w.line[:0]
	long := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !long {
			if len(w.line)+len(chunk) > maxWARCLine+2 {
				long = true
				w.line = w.line[:0]
			} else {
				w.line = append(w.line, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(w.line) > 0 && !long {
			return w.line, errPartialLine
		}
		if err == io.EOF && long {
			break
		}
		if err != nil {
			return nil, err
		}
		break
	}
	if long {
		return nil, errLineLong
	}
	line := bytes.TrimSuffix(w.line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r")), nil
}

// warcTrailer consumes the blank lines that end a record. Anything else
// means the Content-Length was wrong: a *RecordError, after which reading
// resumes at the next record.
func (r *Reader) warcTrailer() error {
	for range 2 {
		b, err := r.br.Peek(1)
		if err == io.EOF || len(b) == 0 {
			return nil // a missing marker at the very end does no harm
		}
		if err != nil {
			r.err = r.warcReadErr(err)
			return r.err
		}
		switch b[0] {
		case '\n':
			r.br.Discard(1)
		case '\r':
			b, _ := r.br.Peek(2)
			if len(b) < 2 || b[1] != '\n' {
				return r.warcBadEnd()
			}
			r.br.Discard(2)
		default:
			return r.warcBadEnd()
		}
	}
	return nil
}

func (r *Reader) warcBadEnd() error {
	r.warc.resync = true
	return r.recordErr(errors.New("no end-of-record marker after Content-Length bytes (wrong Content-Length?); skipping to the next record"))
}

// payload kinds
const (
	skipPayload = iota
	htmlPayload
	textPayload
)

// payloadKind decides from a Content-Type what to do with a payload.
func payloadKind(contentType string) (kind int, params map[string]string) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		// Keep what can be recognised of a malformed header.
		mt = strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	}
	switch mt {
	case "text/html", "application/xhtml+xml":
		return htmlPayload, params
	case "text/plain":
		return textPayload, params
	}
	return skipPayload, params
}

// warcBlock reads a record's block and returns its text, "" for records
// without any.
func (r *Reader) warcBlock(rec *warcRecord) (string, error) {
	block := &io.LimitedReader{R: r.br, N: rec.length}
	switch rec.typ {
	case "response":
		mt, _, _ := mime.ParseMediaType(rec.contentType)
		if strings.HasPrefix(strings.ToLower(rec.contentType), "application/http") || mt == "application/http" {
			return r.warcHTTP(rec, block)
		}
	case "resource", "conversion":
		ct := rec.contentType
		if ct == "" && rec.typ == "conversion" {
			ct = "text/plain"
		}
		if kind, params := payloadKind(ct); kind != skipPayload {
			data, err := r.warcPayload(block, rec.length)
			if err != nil || data == nil {
				return "", err
			}
			return r.warcText(data, kind, params, ct)
		}
	}
	return "", r.warcSkip(block)
}

// warcSkip discards the rest of a block.
func (r *Reader) warcSkip(block *io.LimitedReader) error {
	if _, err := io.Copy(io.Discard, block); err != nil {
		return r.warcReadErr(err)
	}
	if block.N > 0 {
		return r.warcTruncated("in the block")
	}
	return nil
}

// warcPayload reads the rest of a block of n bytes: nil and a *RecordError
// (having skipped the block) when it is larger than MaxRecordBytes.
func (r *Reader) warcPayload(block *io.LimitedReader, n int64) ([]byte, error) {
	if n > int64(r.max) {
		if err := r.warcSkip(block); err != nil {
			return nil, err
		}
		return nil, r.recordErr(fmt.Errorf("%w: payload of %d bytes exceeds the limit of %d bytes (Options.MaxRecordBytes)", ErrLineTooLong, n, r.max))
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(block, data); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return nil, r.warcTruncated("in the block")
		}
		return nil, r.warcReadErr(err)
	}
	return data, nil
}

// warcHTTP reads an HTTP response block and returns the text of a
// successful (2xx) text/html, application/xhtml+xml or text/plain
// response.
func (r *Reader) warcHTTP(rec *warcRecord, block *io.LimitedReader) (string, error) {
	// A bufio.Reader over the block never reads past it.
	hb := bufio.NewReaderSize(block, 16<<10)
	drain := func() error {
		if _, err := io.Copy(io.Discard, hb); err != nil {
			return r.warcReadErr(err)
		}
		if block.N > 0 {
			return r.warcTruncated("in the block")
		}
		return nil
	}
	status, err := r.warcLine(hb)
	if err == io.EOF || err == errPartialLine {
		return "", drain()
	}
	if err != nil && err != errLineLong {
		return "", r.warcReadErr(err)
	}
	code := 0
	if f := strings.Fields(string(status)); err == nil && len(f) >= 2 && strings.HasPrefix(f[0], "HTTP/") {
		code, _ = strconv.Atoi(f[1])
	}
	if code == 0 {
		if err := drain(); err != nil {
			return "", err
		}
		return "", r.recordErr(fmt.Errorf("malformed HTTP status line %q", truncate(status, 40)))
	}
	var contentType, transfer, encoding string
	size := len(status)
	for {
		line, err := r.warcLine(hb)
		if err == io.EOF || err == errPartialLine {
			return "", drain() // no body
		}
		if err == errLineLong || err == nil && size+len(line) > maxWARCHeader {
			if err := drain(); err != nil {
				return "", err
			}
			return "", r.recordErr(fmt.Errorf("HTTP header longer than %d bytes", maxWARCHeader))
		}
		if err != nil {
			return "", r.warcReadErr(err)
		}
		size += len(line)
		if len(line) == 0 {
			break
		}
		key, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		v := string(bytes.TrimSpace(value))
		switch strings.ToLower(string(bytes.TrimSpace(key))) {
		case "content-type":
			contentType = v
		case "transfer-encoding":
			transfer = strings.ToLower(v)
		case "content-encoding":
			encoding = strings.ToLower(v)
		}
	}
	if code < 200 || code > 299 {
		return "", drain()
	}
	kind, params := payloadKind(contentType)
	if contentType == "" {
		// No type: HTML if it says so at the start.
		head, _ := hb.Peek(512)
		head = bytes.ToLower(bytes.TrimSpace(head))
		if bytes.HasPrefix(head, []byte("<!doctype html")) || bytes.HasPrefix(head, []byte("<html")) {
			kind = htmlPayload
		}
	}
	if kind == skipPayload {
		return "", drain()
	}
	rest := block.N + int64(hb.Buffered())
	data, err := r.warcPayload(&io.LimitedReader{R: hb, N: rest}, rest)
	if err != nil || data == nil {
		return "", err
	}
	if block.N > 0 {
		return "", r.warcTruncated("in the block")
	}
	data, err = r.httpDecode(data, transfer, encoding)
	if err != nil {
		return "", err
	}
	return r.warcText(data, kind, params, contentType)
}

// httpDecode undoes chunked transfer coding and content coding, which
// some crawlers store as received.
func (r *Reader) httpDecode(data []byte, transfer, encoding string) ([]byte, error) {
	limit := int64(r.max)
	read := func(rd io.Reader, what string) ([]byte, error) {
		out, err := io.ReadAll(io.LimitReader(rd, limit+1))
		if err != nil {
			return nil, r.recordErr(fmt.Errorf("undoing %s: %w", what, err))
		}
		if int64(len(out)) > limit {
			return nil, r.recordErr(fmt.Errorf("%w: %s payload exceeds the limit of %d bytes (Options.MaxRecordBytes)", ErrLineTooLong, what, limit))
		}
		return out, nil
	}
	var err error
	if strings.Contains(transfer, "chunked") {
		if data, err = read(httputil.NewChunkedReader(bytes.NewReader(data)), "chunked transfer coding"); err != nil {
			return nil, err
		}
	}
	for _, enc := range strings.Split(encoding, ",") {
		var rd io.Reader
		switch enc = strings.TrimSpace(enc); enc {
		case "", "identity", "none", "utf-8", "utf8":
			continue
		case "gzip", "x-gzip":
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				return nil, r.recordErr(fmt.Errorf("undoing Content-Encoding %s: %w", enc, err))
			}
			rd = zr
		case "deflate":
			if zr, err := zlib.NewReader(bytes.NewReader(data)); err == nil {
				rd = zr
			} else {
				rd = flate.NewReader(bytes.NewReader(data))
			}
		case "br":
			rd = brotli.NewReader(bytes.NewReader(data))
		case "zstd":
			zr, err := zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(limit)+1<<20))
			if err != nil {
				return nil, r.recordErr(fmt.Errorf("undoing Content-Encoding %s: %w", enc, err))
			}
			defer zr.Close()
			rd = zr
		default:
			return nil, r.recordErr(fmt.Errorf("unsupported Content-Encoding %q", enc))
		}
		if data, err = read(rd, "Content-Encoding "+enc); err != nil {
			return nil, err
		}
	}
	return data, nil
}

// warcText turns a payload into text: the main text of HTML, or plain
// text decoded from its charset.
func (r *Reader) warcText(data []byte, kind int, params map[string]string, contentType string) (string, error) {
	var text string
	if kind == htmlPayload {
		text = mainText(decodeHTML(data, contentType))
	} else {
		data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
		if !utf8.Valid(data) {
			if cs := params["charset"]; cs != "" {
				if enc, name := charset.Lookup(cs); enc != nil {
					data = transcode(data, enc, name)
				}
			}
		}
		text = strings.TrimSpace(strings.ReplaceAll(string(data), "\r\n", "\n"))
	}
	if !utf8.ValidString(text) {
		return "", r.recordErr(fmt.Errorf("%w at byte offset %d (and no charset declared)", ErrInvalidUTF8, invalidOffset([]byte(text))))
	}
	return text, nil
}
