package corpus

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/korean"
)

// warcRec builds one WARC record. headers are "Name: value" lines; a
// Content-Length is added unless one is given.
func warcRec(typ string, headers []string, block string) string {
	var b strings.Builder
	b.WriteString("WARC/1.1\r\n")
	fmt.Fprintf(&b, "WARC-Type: %s\r\n", typ)
	fmt.Fprintf(&b, "WARC-Date: 2024-05-01T00:00:00Z\r\n")
	hasLength := false
	for _, h := range headers {
		b.WriteString(h + "\r\n")
		hasLength = hasLength || strings.HasPrefix(strings.ToLower(h), "content-length:")
	}
	if !hasLength {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(block))
	}
	b.WriteString("\r\n")
	b.WriteString(block)
	b.WriteString("\r\n\r\n")
	return b.String()
}

func httpResponse(status, contentType string, extra []string, body string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %s\r\n", status)
	if contentType != "" {
		fmt.Fprintf(&b, "Content-Type: %s\r\n", contentType)
	}
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	return b.String()
}

func eucKR(t testing.TB, s string) string {
	t.Helper()
	out, err := korean.EUCKR.NewEncoder().String(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func chunked(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		n := min(len(s), 7)
		fmt.Fprintf(&b, "%x\r\n%s\r\n", n, s[:n])
		s = s[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

const warcPage = `<html><head><title>T</title></head><body>
<nav><a href="/">Home</a> <a href="/news">News</a></nav>
<div class="cookie-banner">We use cookies. <a href="/ok">Accept</a></div>
<article><h1>세종대왕</h1>
<p>세종대왕은 조선의 제4대 국왕으로, 훈민정음을 창제하여 백성이 쉽게 글을 읽고 쓸 수 있도록 하였다.</p>
</article>
<ul class="related-links"><li><a href="/a">관련 기사 하나</a></li><li><a href="/b">관련 기사 둘</a></li></ul>
<footer>© 2024 Example</footer></body></html>`

const warcPageText = "세종대왕\n세종대왕은 조선의 제4대 국왕으로, 훈민정음을 창제하여 백성이 쉽게 글을 읽고 쓸 수 있도록 하였다."

// warcSample is a small crawl: one record of every kind that matters, and
// the records the reader is expected to return from it.
func warcSample(t testing.TB) ([]string, []string) {
	eucPage := eucKR(t, `<html><body><h1>한글 인코딩</h1><p>이 문서는 EUC-KR로 인코딩되어 있으며 읽을 때 UTF-8로 바뀌어야 합니다. 옛 한국 웹사이트에 흔합니다.</p></body></html>`)
	metaPage := eucKR(t, `<html><head><meta charset="euc-kr"></head><body><p>메타 태그만 문자 집합을 알려 주는 페이지입니다. 본문은 충분히 길어서 본문으로 인정됩니다.</p></body></html>`)
	gz := gzipBytes(t, []byte(warcPage))
	recs := []string{
		warcRec("warcinfo", []string{"WARC-Record-ID: <urn:uuid:0001>", "Content-Type: application/warc-fields"}, "software: test\r\nformat: WARC File Format 1.1\r\n"),
		warcRec("request", []string{"WARC-Record-ID: <urn:uuid:0002>", "WARC-Target-URI: https://ko.example/sejong", "Content-Type: application/http; msgtype=request"},
			"GET /sejong HTTP/1.1\r\nHost: ko.example\r\n\r\n"),
		warcRec("response", []string{"WARC-Record-ID: <urn:uuid:0003>", "WARC-Target-URI: https://ko.example/sejong", "Content-Type: application/http; msgtype=response"},
			httpResponse("200 OK", "text/html; charset=utf-8", nil, warcPage)),
		warcRec("response", []string{"WARC-Record-ID: <urn:uuid:0004>", "WARC-Target-URI: <http://old.example/euc>", "Content-Type: application/http;msgtype=response"},
			httpResponse("200 OK", "text/html; charset=EUC-KR", nil, eucPage)),
		warcRec("response", []string{"WARC-Record-ID: <urn:uuid:0005>", "WARC-Target-URI: http://old.example/meta", "Content-Type: application/http; msgtype=response"},
			httpResponse("200 OK", "text/html", nil, metaPage)),
		warcRec("response", []string{"WARC-Record-ID: <urn:uuid:0006>", "WARC-Target-URI: http://ko.example/logo.png", "Content-Type: application/http; msgtype=response"},
			httpResponse("200 OK", "image/png", nil, "\x89PNG\r\n\x1a\n\x00\x00")),
		warcRec("response", []string{"WARC-Record-ID: <urn:uuid:0007>", "WARC-Target-URI: http://ko.example/missing", "Content-Type: application/http; msgtype=response"},
			httpResponse("404 Not Found", "text/html", nil, "<p>페이지를 찾을 수 없습니다. 주소를 다시 확인해 주시기 바랍니다. 죄송합니다.</p>")),
		warcRec("metadata", []string{"WARC-Record-ID: <urn:uuid:0008>", "Content-Type: application/warc-fields"}, "fetchTimeMs: 12\r\n"),
		warcRec("conversion", []string{"WARC-Record-ID: <urn:uuid:0009>", "WARC-Target-URI: https://ko.example/sejong", "Content-Type: text/plain"},
			"세종대왕\r\n훈민정음을 창제하였다.\r\n"),
		warcRec("resource", []string{"WARC-Record-ID: <urn:uuid:0010>", "Content-Type: text/plain; charset=euc-kr"}, eucKR(t, "자원 레코드의 텍스트")),
		warcRec("response", []string{"WARC-Record-ID: <urn:uuid:0011>", "WARC-Target-URI: https://ko.example/gz", "Content-Type: application/http; msgtype=response"},
			httpResponse("200 OK", "text/html; charset=UTF-8", []string{"Transfer-Encoding: chunked", "Content-Encoding: gzip"}, chunked(string(gz)))),
		warcRec("revisit", []string{"WARC-Record-ID: <urn:uuid:0012>", "WARC-Target-URI: https://ko.example/sejong", "Content-Type: application/http; msgtype=response"},
			"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"),
		warcRec("response", []string{"WARC-Record-ID: <urn:uuid:0013>", "WARC-Target-URI: https://ko.example/plain", "Content-Type: application/http; msgtype=response"},
			httpResponse("200 OK", "text/plain", nil, "plain text response\n")),
	}
	want := []string{
		"3:https://ko.example/sejong:" + warcPageText,
		"4:http://old.example/euc:한글 인코딩\n이 문서는 EUC-KR로 인코딩되어 있으며 읽을 때 UTF-8로 바뀌어야 합니다. 옛 한국 웹사이트에 흔합니다.",
		"5:http://old.example/meta:메타 태그만 문자 집합을 알려 주는 페이지입니다. 본문은 충분히 길어서 본문으로 인정됩니다.",
		"9:https://ko.example/sejong:세종대왕\n훈민정음을 창제하였다.",
		"10:urn:uuid:0010:자원 레코드의 텍스트",
		"11:https://ko.example/gz:" + warcPageText,
		"13:https://ko.example/plain:plain text response",
	}
	return recs, want
}

// gzipEach compresses every record as its own gzip member, as .warc.gz
// files do.
func gzipEach(t testing.TB, recs []string) []byte {
	var out []byte
	for _, r := range recs {
		out = append(out, gzipBytes(t, []byte(r))...)
	}
	return out
}

func TestWARC(t *testing.T) {
	recs, want := warcSample(t)
	plain := []byte(strings.Join(recs, ""))
	for _, tc := range []struct {
		name string
		file string
		data []byte
	}{
		{"plain", "crawl.warc", plain},
		{"gzip per record", "crawl.warc.gz", gzipEach(t, recs)},
		{"gzip whole", "crawl.warc.gz", gzipBytes(t, plain)},
		{"zstd", "crawl.warc.zst", zstdBytes(t, plain)},
		{"LF only between records", "crawl.warc", []byte(strings.ReplaceAll(strings.Join(recs, "\n"), "\r\n\r\nWARC/", "\n\nWARC/"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tc.data), tc.file, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Format() != WARC {
				t.Fatalf("format %v", r.Format())
			}
			if got := drainIDs(t, r); !match(got, want) {
				t.Errorf("got\n%s\nwant\n%s", shorten(got), shorten(want))
			}
		})
	}

	t.Run("open", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "crawl.warc.gz")
		if err := os.WriteFile(path, gzipEach(t, recs), 0o644); err != nil {
			t.Fatal(err)
		}
		var got []string
		for text, err := range Texts([]string{filepath.Dir(path)}, Options{}) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, text)
		}
		if len(got) != len(want) || got[0] != warcPageText {
			t.Errorf("Texts: %q", got)
		}
	})
}

func TestWARCErrors(t *testing.T) {
	ok1 := warcRec("conversion", []string{"WARC-Target-URI: http://a/1"}, "first")
	ok2 := warcRec("conversion", []string{"WARC-Target-URI: http://a/2"}, "second")
	ok3 := warcRec("conversion", []string{"WARC-Target-URI: http://a/3"}, "third")
	big := warcRec("conversion", []string{"WARC-Target-URI: http://a/big"}, strings.Repeat("가", 100))
	bigImage := warcRec("response", []string{"WARC-Target-URI: http://a/img", "Content-Type: application/http; msgtype=response"},
		httpResponse("200 OK", "image/jpeg", nil, strings.Repeat("\xff", 500)))
	bigHTML := warcRec("response", []string{"WARC-Target-URI: http://a/page", "Content-Type: application/http; msgtype=response"},
		httpResponse("200 OK", "text/html", nil, "<p>"+strings.Repeat("글", 100)+"</p>"))
	tests := []struct {
		name string
		data string
		opt  Options
		want []string
	}{
		{"Content-Length too short", ok1 + warcRec("conversion", []string{"Content-Length: 3", "WARC-Target-URI: http://a/x"}, "longer text") + ok2, Options{},
			[]string{"1:http://a/1:first",
				"ERR:corpus: x.warc record 2: no end-of-record marker after Content-Length bytes (wrong Content-Length?); skipping to the next record",
				"3:http://a/2:second"}},
		{"Content-Length too long", ok1 + warcRec("conversion", []string{"Content-Length: 60", "WARC-Target-URI: http://a/x"}, "short") + ok2 + ok3, Options{},
			[]string{"1:http://a/1:first", "ERR:corpus: x.warc record 2: no end-of-record marker", "3:http://a/3:third"}},
		{"Content-Length past the end", ok1 + warcRec("conversion", []string{"Content-Length: 600", "WARC-Target-URI: http://a/x"}, "short"), Options{},
			[]string{"1:http://a/1:first", "ERR:corpus: x.warc: record 2: input ends in the block (truncated file?)"}},
		{"Content-Length not a number", ok1 + warcRec("conversion", []string{"Content-Length: 12x"}, "text") + ok2, Options{},
			[]string{"1:http://a/1:first", "ERR:corpus: x.warc record 2: Content-Length is not a non-negative integer", "3:http://a/2:second"}},
		{"Content-Length negative", warcRec("conversion", []string{"Content-Length: -5"}, "text") + ok2, Options{},
			[]string{"ERR:corpus: x.warc record 1: Content-Length is not a non-negative integer", "2:http://a/2:second"}},
		{"no Content-Length", ok1 + strings.Replace(warcRec("conversion", nil, "text"), "Content-Length: 4\r\n", "", 1) + ok2, Options{},
			[]string{"1:http://a/1:first", "ERR:corpus: x.warc record 2: no Content-Length", "3:http://a/2:second"}},
		{"payload over the limit", ok1 + big + ok2, Options{MaxRecordBytes: 200},
			[]string{"1:http://a/1:first", "ERR:corpus: x.warc record 2: line too long: payload of 300 bytes exceeds the limit of 200 bytes", "3:http://a/2:second"}},
		{"HTML over the limit", bigHTML + ok2, Options{MaxRecordBytes: 200},
			[]string{"ERR:corpus: x.warc record 1: line too long: payload of 307 bytes exceeds", "2:http://a/2:second"}},
		{"big image skipped", bigImage + ok2, Options{MaxRecordBytes: 200}, []string{"2:http://a/2:second"}},
		{"garbage between records", ok1 + "garbage\r\n" + ok2, Options{},
			[]string{"1:http://a/1:first", `ERR:corpus: x.warc record 2: not at a WARC record: found "garbage" where a WARC/1.x version line should be`, "2:http://a/2:second"}},
		{"not WARC", "hello\nworld\n", Options{}, []string{`ERR:corpus: x.warc: not a WARC file: it starts with "hello"`}},
		{"truncated header", ok1 + "WARC/1.1\r\nWARC-Type: conversion\r\nContent-Le", Options{},
			[]string{"1:http://a/1:first", "ERR:corpus: x.warc: record 2: input ends in the header (truncated file?)"}},
		{"header line too long", ok1 + "WARC/1.1\r\nWARC-Type: conversion\r\nX-Long: " + strings.Repeat("x", 70000) + "\r\nContent-Length: 4\r\n\r\ntext\r\n\r\n" + ok2, Options{},
			[]string{"1:http://a/1:first", "ERR:corpus: x.warc record 2: header line longer than 65536 bytes", "3:http://a/2:second"}},
		{"malformed header", ok1 + "WARC/1.1\r\nno colon here\r\nContent-Length: 4\r\n\r\ntext\r\n\r\n" + ok2, Options{},
			[]string{"1:http://a/1:first", `ERR:corpus: x.warc record 2: malformed header line "no colon here"`, "3:http://a/2:second"}},
		{"malformed HTTP", warcRec("response", []string{"Content-Type: application/http; msgtype=response"}, "NOT HTTP\r\n\r\nbody") + ok2, Options{},
			[]string{`ERR:corpus: x.warc record 1: malformed HTTP status line "NOT HTTP"`, "2:http://a/2:second"}},
		{"undeclared legacy charset", warcRec("resource", []string{"Content-Type: text/plain"}, eucKR(t, "한글")) + ok2, Options{},
			[]string{"ERR:corpus: x.warc record 1: invalid UTF-8 at byte offset 0 (and no charset declared)", "2:http://a/2:second"}},
		{"bad gzip content", warcRec("response", []string{"Content-Type: application/http; msgtype=response"},
			httpResponse("200 OK", "text/html", []string{"Content-Encoding: gzip"}, "not gzip at all")) + ok2, Options{},
			[]string{"ERR:corpus: x.warc record 1: undoing Content-Encoding gzip", "2:http://a/2:second"}},
		{"empty", "", Options{}, nil},
		{"blank lines only", "\r\n\r\n\n", Options{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(strings.NewReader(tc.data), "x.warc", tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got := drainIDs(t, r); !match(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", shorten(got), shorten(tc.want))
			}
		})
	}
}

// TestWARCTruncated cuts a crawl, plain and gzipped per record, at every
// length: the records before the cut come out, then at most one error,
// which names the file and a record and is sticky.
func TestWARCTruncated(t *testing.T) {
	recs, want := warcSample(t)
	plain := []byte(strings.Join(recs, ""))
	for _, data := range [][]byte{plain, gzipEach(t, recs)} {
		for cut := range len(data) {
			r, err := NewReader(bytes.NewReader(data[:cut]), "t.warc", Options{})
			if err != nil {
				if !strings.Contains(err.Error(), "t.warc") {
					t.Fatalf("cut %d: %v", cut, err)
				}
				continue
			}
			n := 0
			for {
				rec, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					// A cut inside the gzip magic leaves a stray
					// byte that is not WARC.
					named := strings.Contains(err.Error(), "record ") || cut < 2 && strings.Contains(err.Error(), "not a WARC file")
					if !strings.HasPrefix(err.Error(), "corpus: t.warc") || !named {
						t.Fatalf("cut %d: error does not name the file and record: %v", cut, err)
					}
					var re *RecordError
					if errors.As(err, &re) {
						continue // a cut HTML payload may be cut inside a multi-byte character
					}
					if _, again := r.Next(); again != err {
						t.Fatalf("cut %d: error not sticky", cut)
					}
					break
				}
				if n >= len(want) || !strings.HasPrefix(want[n], fmt.Sprintf("%d:%s:", rec.Line, rec.ID)) {
					// A cut in the last gzip member's trailer or a
					// record's end marker still yields the record.
					t.Fatalf("cut %d: unexpected record %d %q", cut, rec.Line, rec.ID)
				}
				n++
			}
			r.Close()
		}
	}
}

// TestWARCGzipMembers checks that a .warc.gz file whose members each hold
// one record reads through gzip's multistream support.
func TestWARCGzipMembers(t *testing.T) {
	var b bytes.Buffer
	for i := range 3 {
		zw := gzip.NewWriter(&b)
		io.WriteString(zw, warcRec("conversion", []string{fmt.Sprintf("WARC-Record-ID: <urn:uuid:%d>", i)}, fmt.Sprint("text ", i)))
		zw.Close()
	}
	r, err := NewReader(&b, "m.warc.gz", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := drainIDs(t, r), []string{"1:urn:uuid:0:text 0", "2:urn:uuid:1:text 1", "3:urn:uuid:2:text 2"}; !match(got, want) {
		t.Errorf("got %q", got)
	}
}
