package corpus

import (
	"errors"
	"fmt"
)

// A small validator for Thrift's compact protocol, the encoding of Parquet
// footers and page headers.
//
// parquet-go decodes these structures trusting the sizes they claim: a list
// or string length read from a corrupt file becomes an allocation of up to
// 2^31 elements before a single element is read, and unknown fields are
// skipped recursively to any depth. An allocation that large or a stack
// that deep kills the process, which recover cannot prevent. So before
// parquet-go sees a footer or a page header, validateThrift walks the same
// bytes and rejects lengths larger than the bytes that remain, nesting
// deeper than maxThriftDepth, and structures whose decoded size could
// exceed maxThriftDecoded. It reads each byte once, so it costs linear time.

const (
	// maxThriftDepth bounds struct and container nesting. Parquet's own
	// structures nest less than ten deep.
	maxThriftDepth = 32
	// maxThriftDecoded bounds the estimated memory of a decoded footer:
	// thriftStructCost per struct in a list, thriftItemCost per other list
	// item. Real footers of files with thousands of columns and row groups
	// stay far below.
	maxThriftDecoded = 1 << 29
	thriftStructCost = 512
	thriftItemCost   = 32
)

var errThriftTruncated = errors.New("truncated")

// thriftScan walks one compact-protocol struct.
type thriftScan struct {
	data    []byte
	pos     int
	decoded int64
	// field, when set, receives every integer field with the path of
	// field ids that leads to it (path[0] is a top-level field) and the
	// offsets of its encoding in data.
	field func(path []int16, v int64, start, end int)
	path  []int16
}

// validateThrift checks the struct at the start of data and returns its
// length in bytes. field, when not nil, is called for its integer fields.
func validateThrift(data []byte, field func(path []int16, v int64, start, end int)) (int, error) {
	s := &thriftScan{data: data, field: field}
	if err := s.structure(0); err != nil {
		return 0, err
	}
	return s.pos, nil
}

func (s *thriftScan) byte() (byte, error) {
	if s.pos >= len(s.data) {
		return 0, errThriftTruncated
	}
	b := s.data[s.pos]
	s.pos++
	return b, nil
}

func (s *thriftScan) uvarint() (uint64, error) {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		b, err := s.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("varint overflows 64 bits")
}

func (s *thriftScan) skip(n uint64) error {
	if n > uint64(len(s.data)-s.pos) {
		return errThriftTruncated
	}
	s.pos += int(n)
	return nil
}

func (s *thriftScan) structure(depth int) error {
	if depth > maxThriftDepth {
		return fmt.Errorf("nested deeper than %d", maxThriftDepth)
	}
	var id int16
	for {
		b, err := s.byte()
		if err != nil {
			return err
		}
		if b == 0 { // stop
			return nil
		}
		typ := b & 0x0f
		if delta := b >> 4; delta != 0 {
			id += int16(delta)
		} else {
			u, err := s.uvarint()
			if err != nil {
				return err
			}
			id = int16(int64(u>>1) ^ -int64(u&1))
		}
		s.path = append(s.path, id)
		err = s.value(typ, depth, false)
		s.path = s.path[:len(s.path)-1]
		if err != nil {
			return err
		}
	}
}

// value skips one value of type typ. In a list a boolean takes a byte; as
// a struct field it lives in the field header.
func (s *thriftScan) value(typ byte, depth int, inList bool) error {
	switch typ {
	case 1, 2: // boolean true, false
		if inList {
			_, err := s.byte()
			return err
		}
		return nil
	case 3: // byte
		_, err := s.byte()
		return err
	case 4, 5, 6: // i16, i32, i64
		start := s.pos
		u, err := s.uvarint()
		if err == nil && s.field != nil && !inList {
			s.field(s.path, int64(u>>1)^-int64(u&1), start, s.pos)
		}
		return err
	case 7: // double
		return s.skip(8)
	case 8: // binary
		n, err := s.uvarint()
		if err != nil {
			return err
		}
		return s.skip(n)
	case 9, 10: // list, set
		b, err := s.byte()
		if err != nil {
			return err
		}
		n, elem := uint64(b>>4), b&0x0f
		if n == 15 {
			if n, err = s.uvarint(); err != nil {
				return err
			}
		}
		return s.items(n, []byte{elem}, depth)
	case 11: // map
		n, err := s.uvarint()
		if err != nil || n == 0 {
			return err
		}
		b, err := s.byte()
		if err != nil {
			return err
		}
		return s.items(n, []byte{b >> 4, b & 0x0f}, depth)
	case 12: // struct
		return s.structure(depth + 1)
	case 13: // uuid
		return s.skip(16)
	}
	return fmt.Errorf("unknown thrift type %d", typ)
}

// items skips n list items (or map entries) whose types are given.
func (s *thriftScan) items(n uint64, types []byte, depth int) error {
	// Every item takes at least one byte.
	if n > uint64(len(s.data)-s.pos) {
		return errThriftTruncated
	}
	for _, t := range types {
		cost := int64(thriftItemCost)
		if t == 12 {
			cost = thriftStructCost
		}
		s.decoded += int64(n) * cost
	}
	if s.decoded > maxThriftDecoded {
		return fmt.Errorf("lists would take more than %d bytes of memory", maxThriftDecoded)
	}
	for range n {
		for _, t := range types {
			if err := s.value(t, depth+1, true); err != nil {
				return err
			}
		}
	}
	return nil
}
