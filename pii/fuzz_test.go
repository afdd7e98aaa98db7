package pii

import (
	"strings"
	"testing"
)

// FuzzRedact checks, for any input: no panic, valid UTF-8 out of valid
// UTF-8 in, Find's matches in bounds, ordered and disjoint, Redact agreeing
// with Find, and Redact(Redact(x)) == Redact(x).
func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		"", mixed, "010-1234-5678", "주민번호 900101-1234568", "+82 (0)10-1234-5678",
		"4111 1111 1111 1111", "국민은행 123456-12-123456", "fe80::1 192.168.0.1",
		"서울특별시 중구 세종대로 110, 101동 1202호", "a@b.co.kr으로", "\xff\xfe@\x80",
		"1.2.3.4.5 12:30:45 std::map 2024-01-15 1,234,567원 1588-1234",
		"900101 – 1234568, 9410 - 1234 - 5678 - 9010, 010 - 1234 - 5678", "2019 – 2020 - 2021",
	} {
		f.Add(s)
	}
	f.Add(strings.Join(hostilePieces, ""))
	r := New(Options{})
	f.Fuzz(func(t *testing.T, s string) {
		checkInvariants(t, r, s)
	})
}
