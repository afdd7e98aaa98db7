package corpus

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// MaxParquetStreamBytes bounds a Parquet file that NewReader has to read
// into memory because its source is compressed or offers no random access
// (see NewReader). Open reads files in place and has no such bound.
const MaxParquetStreamBytes = 1 << 30

const (
	// maxParquetFooter bounds a Parquet footer (the file's metadata).
	maxParquetFooter = 64 << 20
	// maxParquetPageHeader bounds one page header.
	maxParquetPageHeader = 16 << 20
	// maxParquetPageBytes bounds the uncompressed size of one page, and
	// maxParquetPageValues the values it holds, so that a corrupt header
	// cannot make the decoder allocate without limit. Writers cut pages
	// at about 1 MiB and rarely put more than a few tens of thousands of
	// values in one.
	maxParquetPageBytes  = 1 << 30
	maxParquetPageValues = 1 << 24
	// parquetBatch is how many values are decoded at a time.
	parquetBatch = 256
)

// parquetReader holds the state of a Parquet Reader.
//
// parquet-go (github.com/parquet-go/parquet-go) decodes the file. Two
// defences surround it, because it trusts the file more than untrusted
// input allows. First, checkParquetFooter and checkParquetChunk validate
// the footer and every page header of the columns read before parquet-go
// decodes them (see thrift.go): without that, an 18-byte file whose footer
// claims 4 million row groups makes parquet.OpenFile allocate 352 MB, and
// a claim of 2^31 exhausts memory, which no recover can catch. Second,
// every call into parquet-go runs under recover and a panic becomes an
// error that names the file: parquet-go is known to panic on some
// malformed files (parquet-go/parquet-go issue #537: bad footer lengths,
// page headers, negative row counts), and one bad file must not take down
// a curation pipeline reading thousands. Fuzzing FuzzParquet behind the
// checks has not produced such a panic so far; recover is the backstop.
type parquetReader struct {
	file   *parquet.File
	ra     io.ReaderAt
	size   int64
	text   *pqColumn
	id     *pqColumn // nil without Options.IDField
	group  int       // next row group to open
	inRG   bool      // a row group is open
	rgRows int64     // rows left in the open row group
}

// pqColumn reads the values of one leaf column, row group by row group.
type pqColumn struct {
	name  string // dotted path, for messages
	index int    // leaf column index
	kind  parquet.Kind
	pages parquet.Pages
	page  parquet.Page
	vals  parquet.ValueReader
	buf   []parquet.Value
	pos   int
	n     int
}

// protect runs f, turning a panic inside parquet-go into an error.
func (r *Reader) protect(what string, f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("corpus: %s: parquet decoder failed %s (corrupt file?): %v", r.name, what, p)
		}
	}()
	return f()
}

// openParquet prepares reading src as Parquet.
func (r *Reader) openParquet(src io.Reader) error {
	ra, size, err := r.parquetSource(src)
	if err != nil {
		return err
	}
	if err := checkParquetFooter(ra, size); err != nil {
		return fmt.Errorf("corpus: %s: not a valid Parquet file: %w", r.name, err)
	}
	var f *parquet.File
	err = r.protect("opening the file", func() error {
		var err error
		f, err = parquet.OpenFile(ra, size,
			parquet.SkipPageIndex(true),
			parquet.SkipBloomFilters(true),
			parquet.ReadBufferSize(64<<10),
		)
		return err
	})
	if err != nil {
		if strings.HasPrefix(err.Error(), "corpus: ") {
			return err
		}
		return fmt.Errorf("corpus: %s: not a valid Parquet file: %w", r.name, err)
	}
	pq := &parquetReader{file: f, ra: ra, size: size}
	if pq.text, err = r.parquetColumn(f, r.field, r.path, false); err != nil {
		return err
	}
	if r.idField != "" {
		if pq.id, err = r.parquetColumn(f, r.idField, r.idPath, true); err != nil {
			return err
		}
	}
	r.pq = pq
	r.closers = append(r.closers, func() error { pq.closeGroup(); return nil })
	return nil
}

// parquetSource returns random access to the Parquet bytes of src: src
// itself when it allows that and is not compressed, else a copy in memory.
func (r *Reader) parquetSource(src io.Reader) (io.ReaderAt, int64, error) {
	if ra, ok := src.(interface {
		io.ReaderAt
		io.Seeker
	}); ok {
		var magic [4]byte
		n, _ := ra.ReadAt(magic[:], 0)
		if string(magic[:n]) == "PAR1" {
			size, err := ra.Seek(0, io.SeekEnd)
			if err != nil {
				return nil, 0, fmt.Errorf("corpus: %s: %w", r.name, err)
			}
			return ra, size, nil
		}
		if _, err := ra.Seek(0, io.SeekStart); err != nil {
			return nil, 0, fmt.Errorf("corpus: %s: %w", r.name, err)
		}
	}
	br := bufio.NewReader(src)
	magic, _ := br.Peek(4)
	var dec io.Reader = br
	codec := ""
	switch {
	case bytes.HasPrefix(magic, []byte(gzipMagic)):
		codec = "gzip"
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, 0, fmt.Errorf("corpus: %s: reading gzip header: %w", r.name, err)
		}
		dec = zr
	case bytes.HasPrefix(magic, []byte(zstdMagic)):
		codec = "zstd"
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, 0, fmt.Errorf("corpus: %s: starting zstd decoder: %w", r.name, err)
		}
		defer zr.Close()
		dec = zr
	}
	data, err := io.ReadAll(io.LimitReader(dec, MaxParquetStreamBytes+1))
	if err != nil {
		if codec != "" {
			return nil, 0, fmt.Errorf("corpus: %s: decompressing %s data: %w", r.name, codec, err)
		}
		return nil, 0, fmt.Errorf("corpus: %s: %w", r.name, err)
	}
	if len(data) > MaxParquetStreamBytes {
		return nil, 0, fmt.Errorf("corpus: %s: Parquet stream larger than %d bytes; open the file by path to read it in place", r.name, MaxParquetStreamBytes)
	}
	return bytes.NewReader(data), int64(len(data)), nil
}

// checkParquetFooter checks the magic bytes and the footer before
// parquet-go decodes it (see thrift.go).
func checkParquetFooter(ra io.ReaderAt, size int64) error {
	if size < 12 {
		return fmt.Errorf("%d bytes is too short", size)
	}
	var head [4]byte
	if _, err := ra.ReadAt(head[:], 0); err != nil {
		return err
	}
	var tail [8]byte
	if _, err := ra.ReadAt(tail[:], size-8); err != nil {
		return err
	}
	if string(head[:]) != "PAR1" || string(tail[4:]) != "PAR1" {
		if string(tail[4:]) == "PARE" {
			return errors.New("encrypted Parquet files are not supported")
		}
		return errors.New("no PAR1 magic bytes at both ends (truncated?)")
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n > size-12 || n > maxParquetFooter {
		return fmt.Errorf("footer length %d does not fit the file (truncated?)", n)
	}
	footer := make([]byte, n)
	if _, err := ra.ReadAt(footer, size-8-n); err != nil {
		return err
	}
	used, err := validateThrift(footer, nil)
	if err != nil {
		return fmt.Errorf("corrupt footer: %w", err)
	}
	if used != len(footer) {
		return fmt.Errorf("corrupt footer: %d unexpected bytes after the metadata", len(footer)-used)
	}
	return nil
}

// parquetColumn finds the leaf column for field (its dotted path split in
// path) and checks its type: a string for the text, a string or an
// integer for an ID.
func (r *Reader) parquetColumn(f *parquet.File, field string, path []string, id bool) (*pqColumn, error) {
	root := f.Root()
	col := root.Column(field)
	if col == nil && len(path) > 1 {
		col = root
		for _, step := range path {
			if col = col.Column(step); col == nil {
				break
			}
		}
	}
	if col == nil {
		return nil, fmt.Errorf("corpus: %s: no column %q; the file has %s", r.name, field, parquetColumns(root))
	}
	if !col.Leaf() {
		return nil, fmt.Errorf("corpus: %s: column %q is a group, not a string column; the file has %s", r.name, field, parquetColumns(root))
	}
	if col.MaxRepetitionLevel() > 0 {
		return nil, fmt.Errorf("corpus: %s: column %q is repeated (a list); only one value per row can be read", r.name, field)
	}
	typ := col.Type()
	kind := typ.Kind()
	ok := kind == parquet.ByteArray && isTextType(typ.LogicalType())
	if id {
		ok = ok || kind == parquet.Int32 || kind == parquet.Int64
	}
	if !ok {
		want := "a string (BYTE_ARRAY, UTF8) column"
		if id {
			want = "a string or integer column"
		}
		return nil, fmt.Errorf("corpus: %s: column %q holds %s, not %s", r.name, field, typeName(typ), want)
	}
	return &pqColumn{name: field, index: col.Index(), kind: kind}, nil
}

// isTextType accepts byte arrays that are strings, enums, JSON, or carry
// no annotation at all (many writers store text so; the values are checked
// for UTF-8 one by one).
func isTextType(lt *format.LogicalType) bool {
	if lt == nil || lt.Value == nil {
		return true
	}
	switch lt.Value.(type) {
	case *format.StringType, *format.EnumType, *format.JsonType:
		return true
	}
	return false
}

func typeName(t parquet.Type) string {
	name := t.Kind().String()
	if lt := t.LogicalType(); lt != nil && lt.Value != nil {
		name += " (" + lt.String() + ")"
	}
	return name
}

// parquetColumns lists the leaf columns of a schema for error messages.
func parquetColumns(root *parquet.Column) string {
	var names []string
	var walk func(c *parquet.Column)
	walk = func(c *parquet.Column) {
		if c.Leaf() {
			names = append(names, strings.ToValidUTF8(strings.Join(c.Path(), "."), "\uFFFD"))
			return
		}
		for _, child := range c.Columns() {
			walk(child)
		}
	}
	walk(root)
	const show = 50
	if len(names) == 0 {
		return "no columns"
	}
	more := ""
	if len(names) > show {
		more = fmt.Sprintf(" and %d more", len(names)-show)
		names = names[:show]
	}
	return "columns " + strings.Join(names, ", ") + more
}

// nextParquet returns the next row's text.
func (r *Reader) nextParquet() (Record, error) {
	pq := r.pq
	for {
		if r.err != nil {
			return Record{}, r.err
		}
		if !pq.inRG {
			if pq.group >= len(pq.file.RowGroups()) {
				return Record{}, io.EOF
			}
			if err := r.openGroup(); err != nil {
				r.err = err
				return Record{}, err
			}
			continue
		}
		if pq.rgRows == 0 {
			pq.closeGroup()
			continue
		}
		text, err := r.parquetValue(pq.text)
		var id parquet.Value
		if err == nil && pq.id != nil {
			id, err = r.parquetValue(pq.id)
		}
		if err != nil {
			if err == io.EOF {
				err = fmt.Errorf("corpus: %s: row group %d ends after row %d, before the %d rows its metadata promises (corrupt file?)",
					r.name, pq.group, r.line, pq.file.RowGroups()[pq.group-1].NumRows())
			}
			r.err = err
			return Record{}, err
		}
		pq.rgRows--
		r.line++
		rec, err := r.parquetRecord(text, id)
		if err != nil {
			return Record{}, err
		}
		if rec.Text == "" {
			continue
		}
		return rec, nil
	}
}

// parquetRecord turns one row's values into a record.
func (r *Reader) parquetRecord(text, id parquet.Value) (Record, error) {
	if text.IsNull() {
		if r.skip {
			return Record{}, nil
		}
		return Record{}, r.recordErr(fmt.Errorf("column %q: %w (null)", r.field, ErrMissingField))
	}
	b := text.ByteArray()
	if len(b) == 0 {
		return Record{}, nil
	}
	if len(b) > r.max {
		return Record{}, r.recordErr(fmt.Errorf("%w: column %q holds %d bytes, beyond the limit of %d (Options.MaxRecordBytes)", ErrLineTooLong, r.field, len(b), r.max))
	}
	if !utf8.Valid(b) {
		return Record{}, r.recordErr(fmt.Errorf("column %q: %w at byte offset %d", r.field, ErrInvalidUTF8, invalidOffset(b)))
	}
	rec := Record{Text: string(b), Line: r.line}
	if r.pq.id != nil && !id.IsNull() {
		switch r.pq.id.kind {
		case parquet.Int32:
			rec.ID = strconv.FormatInt(int64(id.Int32()), 10)
		case parquet.Int64:
			rec.ID = strconv.FormatInt(id.Int64(), 10)
		default:
			b := id.ByteArray()
			if !utf8.Valid(b) {
				return Record{}, r.recordErr(fmt.Errorf("column %q: %w at byte offset %d", r.idField, ErrInvalidUTF8, invalidOffset(b)))
			}
			rec.ID = string(b)
		}
	}
	return rec, nil
}

// openGroup checks the next row group's chunks of the columns read and
// starts reading their pages.
func (r *Reader) openGroup() error {
	pq := r.pq
	g := pq.group
	pq.group++
	meta := pq.file.Metadata()
	if g >= len(meta.RowGroups) {
		return fmt.Errorf("corpus: %s: row group %d missing from the metadata", r.name, g)
	}
	rows := meta.RowGroups[g].NumRows
	if rows < 0 {
		return fmt.Errorf("corpus: %s: row group %d claims %d rows (corrupt file?)", r.name, g, rows)
	}
	group := pq.file.RowGroups()[g]
	chunks := group.ColumnChunks()
	for _, c := range []*pqColumn{pq.text, pq.id} {
		if c == nil {
			continue
		}
		if c.index >= len(chunks) || c.index >= len(meta.RowGroups[g].Columns) {
			return fmt.Errorf("corpus: %s: row group %d has no chunk for column %q (corrupt file?)", r.name, g, c.name)
		}
		if err := checkParquetChunk(pq.ra, pq.size, &meta.RowGroups[g].Columns[c.index], rows); err != nil {
			return fmt.Errorf("corpus: %s: row group %d, column %q, after row %d: %w", r.name, g, c.name, r.line, err)
		}
		chunk := chunks[c.index]
		if err := r.protect("opening a column chunk", func() error { c.pages = chunk.Pages(); return nil }); err != nil {
			return err
		}
	}
	pq.inRG = true
	pq.rgRows = rows
	return nil
}

// closeGroup releases the open row group's pages.
func (pq *parquetReader) closeGroup() {
	for _, c := range []*pqColumn{pq.text, pq.id} {
		if c == nil {
			continue
		}
		func() {
			defer func() { recover() }()
			if c.page != nil {
				parquet.Release(c.page)
			}
			if c.pages != nil {
				c.pages.Close()
			}
		}()
		c.page, c.pages, c.vals = nil, nil, nil
		c.pos, c.n = 0, 0
	}
	pq.inRG = false
}

// checkParquetChunk checks a column chunk's place in the file and walks its
// page headers (see thrift.go), so that parquet-go never reads a size or a
// count beyond the bounds above.
func checkParquetChunk(ra io.ReaderAt, size int64, cc *format.ColumnChunk, rows int64) error {
	md := &cc.MetaData
	base := md.DataPageOffset
	if md.DictionaryPageOffset != 0 {
		base = md.DictionaryPageOffset
	}
	end := base + md.TotalCompressedSize
	if base < 4 || md.TotalCompressedSize < 0 || end < base || end > size-8 {
		return fmt.Errorf("column chunk at offset %d, %d bytes, lies outside the file (corrupt or truncated file?)", base, md.TotalCompressedSize)
	}
	buf := make([]byte, 256)
	for pos := base; pos < end; {
		var hdr []byte
		var used int
		var fields [4]int64 // uncompressed, compressed, values, type
		for {
			n := min(int64(len(buf)), end-pos)
			hdr = buf[:n]
			if _, err := ra.ReadAt(hdr, pos); err != nil && err != io.EOF {
				return err
			}
			var err error
			fields = [4]int64{}
			used, err = validateThrift(hdr, func(path []int16, v int64, _, _ int) {
				switch {
				case len(path) == 1 && path[0] == 1:
					fields[3] = v
				case len(path) == 1 && path[0] == 2:
					fields[0] = v
				case len(path) == 1 && path[0] == 3:
					fields[1] = v
				case len(path) == 2 && path[1] == 1 && (path[0] == 5 || path[0] == 7 || path[0] == 8):
					fields[2] = v
				}
			})
			if err == nil {
				break
			}
			if err == errThriftTruncated && n < end-pos && len(buf) < maxParquetPageHeader {
				buf = make([]byte, 2*len(buf))
				continue
			}
			return fmt.Errorf("corrupt page header at offset %d: %w", pos, err)
		}
		uncompressed, compressed, values := fields[0], fields[1], fields[2]
		switch {
		case compressed < 0 || compressed > end-pos-int64(used):
			return fmt.Errorf("page at offset %d claims %d bytes, beyond its column chunk (corrupt or truncated file?)", pos, compressed)
		case uncompressed < 0 || uncompressed > maxParquetPageBytes:
			return fmt.Errorf("page at offset %d claims %d uncompressed bytes (the limit is %d)", pos, uncompressed, maxParquetPageBytes)
		case values < 0 || values > maxParquetPageValues || fields[3] != 2 && values > rows:
			return fmt.Errorf("page at offset %d claims %d values in a row group of %d rows", pos, values, rows)
		}
		pos += int64(used) + compressed
	}
	return nil
}

// parquetValue returns the next value of c in the open row group, or io.EOF
// when its pages are exhausted.
func (r *Reader) parquetValue(c *pqColumn) (parquet.Value, error) {
	for c.pos >= c.n {
		err := r.protect("reading a page", func() error {
			if c.vals != nil {
				n, err := c.vals.ReadValues(c.buf)
				c.pos, c.n = 0, n
				if n > 0 {
					return nil
				}
				if err != nil && err != io.EOF {
					return err
				}
				// The page is exhausted (a reader returning neither
				// values nor an error counts as exhausted too, so
				// that a corrupt page cannot loop forever).
				parquet.Release(c.page)
				c.page, c.vals = nil, nil
			}
			page, err := c.pages.ReadPage()
			if err != nil {
				return err
			}
			c.page = page
			c.vals = page.Values()
			if c.buf == nil {
				c.buf = make([]parquet.Value, parquetBatch)
			}
			return nil
		})
		if err == io.EOF {
			return parquet.Value{}, io.EOF
		}
		if err != nil {
			if strings.HasPrefix(err.Error(), "corpus: ") {
				return parquet.Value{}, err
			}
			return parquet.Value{}, fmt.Errorf("corpus: %s: column %q, after row %d: %w", r.name, c.name, r.line, err)
		}
	}
	v := c.buf[c.pos]
	c.pos++
	return v, nil
}
