package data

import (
	"testing"

	"golang.org/x/text/unicode/norm"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, in, want string
		form           norm.Form
		invisible      bool
		spaces         bool
	}{
		{"conjoining jamo compose", "\u1112\u1161\u11ab\u1100\u1173\u11af", "한글", norm.NFC, true, true},
		{"nfc keeps compatibility jamo", "ㅋㅋ 좋아요", "ㅋㅋ 좋아요", norm.NFC, true, true},
		{"nfkc folds full width", "ＡＢＣ１２３", "ABC123", norm.NFKC, true, true},
		{"nfc keeps full width", "ＡＢＣ", "ＡＢＣ", norm.NFC, true, true},
		{"zero width space and bom", "\ufeff영화\u200b가 좋다", "영화가 좋다", norm.NFC, true, true},
		{"soft hyphen and bidi", "co\u00adop\u202eerate", "cooperate", norm.NFC, true, true},
		{"zwj kept for emoji", "👩\u200d💻 개발", "👩\u200d💻 개발", norm.NFC, true, true},
		{"invisible off", "a\u200bb", "a\u200bb", norm.NFC, false, true},
		{"crlf and cr", "하나\r\n둘\r셋", "하나\n둘\n셋", norm.NFC, true, true},
		{"space runs and odd spaces", "a \u00a0\u3000 b\t\tc", "a b c", norm.NFC, true, true},
		{"trim lines", "  첫 줄  \n\t둘째 줄 \n", "첫 줄\n둘째 줄", norm.NFC, true, true},
		{"at most one blank line", "a\n\n\n\n\nb", "a\n\nb", norm.NFC, true, true},
		{"blank lines of spaces", "a\n  \n \t \nb", "a\n\nb", norm.NFC, true, true},
		{"controls become spaces", "a\x00b\x07c\u0085d", "a b c d", norm.NFC, true, true},
		{"spaces off keeps layout", "  a  b\n\n\n", "  a  b\n\n\n", norm.NFC, true, false},
		{"invalid utf-8", "a\xffb", "a\ufffdb", norm.NFC, true, true},
		{"only spaces", " \n\t\u3000 ", "", norm.NFC, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Normalize(tt.in, tt.form, tt.invisible, tt.spaces); got != tt.want {
				t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if tt.spaces {
				// Normalising twice changes nothing.
				once := Normalize(tt.in, tt.form, tt.invisible, tt.spaces)
				if twice := Normalize(once, tt.form, tt.invisible, tt.spaces); twice != once {
					t.Errorf("not idempotent: %q then %q", once, twice)
				}
			}
		})
	}
}
