// Package pii finds and redacts personal information in Korean and English
// web text: resident registration numbers, phone numbers, e-mail addresses,
// card numbers, bank account numbers, IP addresses and street addresses.
//
// Every kind is found by a hand-written scanner followed by validation
// (dates and checksums for RRNs, Luhn and card scheme prefixes, area codes,
// octet ranges, address structure), because on a training corpus a false
// positive destroys text as surely as a false negative leaks it. Scanners
// look at each byte a bounded number of times, so the cost is linear in the
// input, and they work on bytes: invalid UTF-8 passes through untouched.
//
// Numbers are read as people type them: groups joined by "-", or by any
// dash a word processor or phone puts there (en dash, full-width hyphen,
// ...), with or without a space on either side ("900101 - 1234567"), or by
// spaces. A dash between two digits glues them into one token; a spaced
// dash or a space separates tokens, so a number may be followed by
// another.
//
// Kinds are searched in [Precedence] order, each in the text as it will be
// once the kinds before it are redacted, so a match never overlaps one of
// an earlier kind: an e-mail address keeps the phone number that forms its
// local part, an RRN wins over a card number made of the same 13 digits.
//
// Redact is idempotent with the default placeholder. Scanners treat its
// "<" and ">" as hard boundaries, and every rule that looks at neighbouring
// text (digits glued by "-" or ".", cue words, IPv6 runs, e-mail domains)
// is written so that redacting the neighbour cannot change the answer. The
// fuzz target and TestRandomPieces check this.
package pii

import (
	"fmt"
	"strings"
)

// Kind names a type of personal information. Its string value is the short
// lower-case name used in the default placeholder.
type Kind string

// The kinds of personal information a Redactor finds.
const (
	// RRN is a Korean resident registration number (주민등록번호) or
	// foreigner registration number (외국인등록번호), YYMMDD-GXXXXXX.
	RRN Kind = "rrn"
	// Phone is a Korean mobile, landline or VoIP (070) number, in domestic
	// or +82 form. Representative numbers (1588-xxxx) are not personal and
	// are left alone.
	Phone Kind = "phone"
	// Email is an e-mail address.
	Email Kind = "email"
	// Card is a payment card number: Luhn-valid with a known scheme prefix.
	Card Kind = "card"
	// Account is a Korean bank account number in a known bank layout, next
	// to a word about banks or transfers.
	Account Kind = "account"
	// IP is an IPv4 or IPv6 address.
	IP Kind = "ip"
	// Address is the detailed part of a Korean road-name (도로명) or
	// lot-number (지번) address: the road or dong name and the numbers.
	Address Kind = "address"
)

// Precedence lists every kind, highest precedence first: when candidates
// overlap, the one whose kind comes first wins and the other is dropped.
// Self-delimiting and checksummed kinds come first (e-mail, RRN, card),
// then those validated by shape and context (account, phone, IP), and the
// street address, the loosest, last.
func Precedence() []Kind {
	return []Kind{Email, RRN, Card, Account, Phone, IP, Address}
}

// DefaultPlaceholder returns "<|pii:KIND|>", e.g. "<|pii:rrn|>" or
// "<|pii:phone|>". The special-token shape cannot occur in ordinary text, a
// tokenizer can reserve it as one token, and it contains no digits, so
// redacting twice changes nothing.
func DefaultPlaceholder(k Kind) string { return "<|pii:" + string(k) + "|>" }

// Options configures a Redactor.
type Options struct {
	// Kinds selects what to find; empty means all kinds.
	Kinds []Kind
	// Placeholder gives the replacement text for a kind; nil means
	// DefaultPlaceholder. It is called once per kind by New, so it need not
	// be safe for concurrent use. Redact stays idempotent with placeholders
	// that, like the default, begin with "<", end with ">" and hold no
	// digits, "@" or Hangul; others may be partly found again.
	Placeholder func(Kind) string
}

// Match is one piece of personal information: text[Start:End] in bytes.
type Match struct {
	Kind       Kind
	Start, End int
}

// Counts holds the number of redactions per kind.
type Counts map[Kind]int

// Total returns the number of redactions of all kinds.
func (c Counts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// Redactor finds and replaces personal information. It is immutable after
// New and safe for concurrent use.
type Redactor struct {
	detectors    []detector
	placeholders map[Kind]string
}

// detector is one scanner: it appends its matches to dst in order and
// without overlaps among themselves. IP has two (IPv6, then IPv4).
type detector struct {
	kind Kind
	find func(s string, dst []Match) []Match
	// digits is set when every match holds an ASCII digit, so text
	// without digits (most of it) need not be scanned.
	digits bool
}

// allDetectors is in precedence order, which Find relies on.
var allDetectors = []detector{
	{Email, findEmails, false},
	{RRN, findRRNs, true},
	{Card, findCards, true},
	{Account, findAccounts, true},
	{Phone, findPhones, true},
	{IP, findIPv6, true},
	{IP, findIPv4, true},
	{Address, findAddresses, true},
}

// New returns a Redactor for opt. It panics on a Kind that is not one of
// the constants above, as that is a programming error.
func New(opt Options) *Redactor {
	want := map[Kind]bool{}
	for _, k := range opt.Kinds {
		if !isKind(k) {
			panic(fmt.Sprintf("pii: unknown kind %q", k))
		}
		want[k] = true
	}
	ph := opt.Placeholder
	if ph == nil {
		ph = DefaultPlaceholder
	}
	r := &Redactor{placeholders: map[Kind]string{}}
	for _, d := range allDetectors {
		if len(want) == 0 || want[d.kind] {
			r.detectors = append(r.detectors, d)
			if _, ok := r.placeholders[d.kind]; !ok {
				r.placeholders[d.kind] = ph(d.kind)
			}
		}
	}
	return r
}

func isKind(k Kind) bool {
	for _, p := range Precedence() {
		if k == p {
			return true
		}
	}
	return false
}

// sentinel stands in for an accepted match while lower-precedence kinds are
// searched. Like the default placeholder, it begins with "<" and ends with
// ">", which every scanner treats as a hard boundary.
const sentinel = "<>"

// Find returns the personal information in text, in order and without
// overlaps; offsets are in bytes.
//
// Kinds are searched in precedence order, each in the text as it would be
// with the matches of the kinds before it already redacted. So a
// lower-precedence scanner never sees, and never half-uses, text that a
// higher one took: what it finds here is what it would find in the output
// of Redact, which keeps Redact idempotent.
func (r *Redactor) Find(text string) []Match {
	var acc []Match // accepted, in text's offsets
	view := text    // text with each accepted match replaced by sentinel
	var buf []Match
	digits := indexDigit(text, 0) >= 0
	for k, d := range r.detectors {
		if d.digits && !digits {
			continue
		}
		buf = d.find(view, buf[:0])
		if len(buf) == 0 {
			continue
		}
		acc = mergeView(acc, buf)
		if k+1 < len(r.detectors) {
			view = buildView(text, acc)
		}
	}
	return acc
}

// mergeView adds matches found in the view of acc (which never cover a
// sentinel) to acc, translating their offsets back to the text's.
func mergeView(acc, found []Match) []Match {
	out := make([]Match, 0, len(acc)+len(found))
	i := 0
	shift := 0 // text offset minus view offset at the current point
	viewPos := func(k int) int { return acc[k].Start - shift }
	for _, m := range found {
		for i < len(acc) && viewPos(i) < m.Start {
			out = append(out, acc[i])
			shift += acc[i].End - acc[i].Start - len(sentinel)
			i++
		}
		m.Start += shift
		m.End += shift
		out = append(out, m)
	}
	return append(out, acc[i:]...)
}

// buildView returns text with each match in acc replaced by sentinel.
func buildView(text string, acc []Match) string {
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for _, m := range acc {
		b.WriteString(text[last:m.Start])
		b.WriteString(sentinel)
		last = m.End
	}
	b.WriteString(text[last:])
	return b.String()
}

// Redact returns text with each match replaced by its kind's placeholder,
// and the number of replacements per kind. Counts is never nil.
func (r *Redactor) Redact(text string) (string, Counts) {
	counts := Counts{}
	ms := r.Find(text)
	if len(ms) == 0 {
		return text, counts
	}
	var b strings.Builder
	b.Grow(len(text) + 8*len(ms))
	last := 0
	for _, m := range ms {
		b.WriteString(text[last:m.Start])
		b.WriteString(r.placeholders[m.Kind])
		last = m.End
		counts[m.Kind]++
	}
	b.WriteString(text[last:])
	return b.String(), counts
}
