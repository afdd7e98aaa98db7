package corpus

import (
	"bytes"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/transform"
)

// Main-text extraction
//
// HTMLText keeps a page's main content and drops its boilerplate in three
// steps, a simplified relative of jusText (Pomikálek 2011) that needs no
// stop-word lists, so it treats Korean and English alike:
//
//  1. The page is parsed into a tree (golang.org/x/net/html, as a browser
//     would; pages nested deeper than its limit of 512 elements are walked
//     token by token instead) and cut into blocks: the text between two
//     block-level tags, one output line each. Code, metadata and form
//     controls are dropped outright, and so are the HTML5 page furniture
//     elements nav and aside, and header and footer outside an article or
//     main element (where they hold a title or a byline); where furniture
//     was, a boilerplate marker is left for step 3.
//  2. Each block is classified. Bad (boilerplate): an enclosing block
//     element's class or id names page furniture (nav, menu, footer,
//     sidebar, breadcrumb, cookie, banner, ad, related, share, ...; see
//     boilerWords) or its ARIA role does (navigation, banner, ...); or the
//     block is a link list: more than half of its text is link text and
//     what is not is under minProse (so "Opens the <a>Database Wizard</a>
//     to create a <a>database file</a>." stays). Good: at least goodWeight
//     long, counting Hangul and other CJK characters double, with at most
//     goodLinkDensity of link text. Short: the rest. Headings are judged
//     in step 3 (a heading that is a link is common and fine).
//  3. Context decides the rest. A run of short blocks that has boilerplate
//     on both sides and is shorter than goodWeight in all is boilerplate
//     too (the "|" between two link lists, a "Follow us"), but only on
//     pages with at least one good block, so that short pages are not
//     emptied. A heading is kept when the block after it is kept.
//
// A hinted element is not boilerplate when it holds more than half of the
// page's text: the hint then names a wrapper (a container "with-sidebar",
// "nav-open"), not furniture. Visibility is not judged (hidden elements
// are kept, with spaces around them): scripts reveal hidden text, and
// LibreOffice's help pages, for one, hide every platform variant of a
// menu path until a script shows one.
//
// Pages that are nothing but links (tables of contents, sitemaps) come out
// empty. On the Korean LibreOffice help pages 99.5% of pages yield text
// (see TestLibreOfficeHelpCoverage), at about 15 MB of HTML a second on one
// core.

// skipped elements hold no main text: code, metadata, embedded objects and
// form controls. Their content is dropped without a trace.
var skipped = map[atom.Atom]bool{
	atom.Head: true, atom.Script: true, atom.Style: true, atom.Noscript: true,
	atom.Template: true, atom.Svg: true, atom.Math: true, atom.Iframe: true,
	atom.Button: true, atom.Select: true, atom.Textarea: true, atom.Object: true,
	atom.Embed: true, atom.Canvas: true, atom.Audio: true, atom.Video: true,
	atom.Datalist: true, atom.Dialog: true,
}

// furniture elements are page furniture by HTML5 semantics: dropped, and
// remembered as boilerplate for context. Header and footer count only
// outside article and main, where they hold a site's banner and footer
// rather than an article's title or byline.
var furniture = map[atom.Atom]bool{
	atom.Nav: true, atom.Aside: true, atom.Header: true, atom.Footer: true,
}

// breaks end a block: block-level elements and line breaks.
var breaks = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Br: true, atom.Li: true, atom.Tr: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true,
	atom.Table: true, atom.Ul: true, atom.Ol: true, atom.Dl: true, atom.Dt: true, atom.Dd: true,
	atom.Pre: true, atom.Listing: true, atom.Xmp: true, atom.Blockquote: true, atom.Section: true, atom.Article: true, atom.Main: true,
	atom.Hr: true, atom.Figure: true, atom.Figcaption: true, atom.Td: true, atom.Th: true,
	atom.Caption: true, atom.Body: true, atom.Form: true, atom.Fieldset: true, atom.Details: true,
	atom.Summary: true, atom.Header: true, atom.Footer: true, atom.Address: true, atom.Legend: true,
	atom.Center: true, atom.Option: true, atom.Menu: true, atom.Hgroup: true,
	atom.Label: true,
}

// separators are inline elements that separate words: a browser shows them
// as something other than text running on.
var separators = map[atom.Atom]bool{
	atom.Img: true, atom.Input: true,
}

// Hints in class and id values. A value is split into words at anything
// but letters and digits and at lower-to-upper case changes ("mainNav" is
// "main" and "nav"); a word is a hint when it equals one of boilerWords or
// starts with one of boilerPrefixes ("relatedtopics", "cookiebar").
var (
	boilerWords = map[string]bool{
		"nav": true, "navbar": true, "navigation": true, "menu": true, "menubar": true,
		"submenu": true, "megamenu": true, "footer": true, "sidebar": true, "breadcrumb": true,
		"breadcrumbs": true, "crumbs": true, "cookie": true, "cookies": true, "consent": true,
		"gdpr": true, "banner": true, "ad": true, "ads": true, "adv": true, "advert": true,
		"advertisement": true, "sponsor": true, "sponsored": true, "promo": true, "share": true,
		"sharing": true, "social": true, "related": true, "pagination": true, "pager": true,
		"toolbar": true, "topbar": true, "masthead": true, "newsletter": true, "subscribe": true,
		"popup": true, "modal": true, "comment": true, "comments": true, "disqus": true,
		"skiplink": true, "skip": true, "sitemap": true, "copyright": true, "widget": true,
		"recommend": true, "recommended": true, "outbrain": true, "taboola": true, "gnb": true,
		"lnb": true, "snb": true, "tnb": true, // Korean portals' navigation bars
	}
	boilerPrefixes = []string{
		"breadcrumb", "cookie", "related", "sidebar", "navbar", "footer", "newsletter",
		"advert", "sponsor", "pagination", "social", "share",
	}
	// boilerRoles are ARIA landmark roles of page furniture.
	boilerRoles = map[string]bool{
		"navigation": true, "banner": true, "contentinfo": true, "complementary": true,
		"menu": true, "menubar": true, "search": true, "dialog": true, "alertdialog": true,
	}
)

const (
	// goodWeight is the weight from which a block counts as long.
	goodWeight = 50
	// maxLinkDensity is the share of link text above which a block is
	// boilerplate.
	maxLinkDensity = 0.5
	// goodLinkDensity is the share of link text up to which a long block
	// is good.
	goodLinkDensity = 0.3
	// minProse is the weight of text outside links from which a link-dense
	// block counts as prose rather than a link list.
	minProse = 15
	// maxHintDepth bounds how many nested hinted elements are tracked, so
	// that adversarial nesting costs linear time.
	maxHintDepth = 16
)

// HTMLText extracts the main text of an HTML page: one line per block, runs
// of spaces collapsed (but <pre> keeps its lines and indentation), with
// navigation, menus, link lists, footers, banners and similar boilerplate
// removed (see the comment at the top of html.go for how). The bytes are
// decoded as UTF-8 when they are valid UTF-8, else by the charset that a
// byte order mark or a <meta> tag declares (EUC-KR, CP949, Shift_JIS,
// ...); undeclared bytes that are not UTF-8 are passed through unchanged,
// so the text may then be invalid UTF-8. It reads at most limit bytes and
// reports whether the page was longer.
func HTMLText(r io.Reader, limit int) (text string, truncated bool, err error) {
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return "", false, err
	}
	if len(data) > limit {
		return "", true, nil
	}
	return mainText(decodeHTML(data, "")), false, nil
}

// decodeHTML returns data as UTF-8 (see HTMLText) given the Content-Type
// that came with it ("" when none). A declaration never overrides valid
// UTF-8: pages often declare a charset they are not in, while text in a
// legacy encoding such as EUC-KR is practically never valid UTF-8 by
// chance.
func decodeHTML(data []byte, contentType string) []byte {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if utf8.Valid(data) {
		return data
	}
	enc, name, certain := charset.DetermineEncoding(data, contentType)
	if !certain && !declaresCharset(data) {
		// DetermineEncoding's last resort is windows-1252, a guess
		// that would turn undeclared Korean into mojibake.
		return data
	}
	return transcode(data, enc, name)
}

// declaresCharset reports whether the start of a page holds a charset
// declaration (which charset.DetermineEncoding then honours).
func declaresCharset(data []byte) bool {
	if len(data) > 1024 {
		data = data[:1024]
	}
	return bytes.Contains(bytes.ToLower(data), []byte("charset"))
}

// transcode converts data from enc to UTF-8. Bytes that are invalid in
// enc become U+FFFD. UTF-8 itself is returned unchanged.
func transcode(data []byte, enc encoding.Encoding, name string) []byte {
	if enc == nil || name == "utf-8" || enc == encoding.Nop {
		return data
	}
	out, _, err := transform.Bytes(enc.NewDecoder(), data)
	if err != nil {
		return data
	}
	return out
}

// block is one line of a page's text.
type block struct {
	text    string
	weight  int  // length, Hangul and other CJK characters counting 2
	link    int  // weight of the text inside links
	heading bool // inside h1-h6
	hint    int  // innermost hinted element enclosing the block, or -1
	marker  bool // stands for dropped furniture; no text
	class   blockClass
}

type blockClass uint8

const (
	short blockClass = iota
	good
	bad
)

// hinted is an element whose class, id or role names page furniture.
type hinted struct {
	parent int // enclosing hinted element, or -1
	weight int // text weight of the blocks inside
	active bool
}

// extractor walks a parsed page and cuts it into blocks.
type extractor struct {
	blocks  []block
	hints   []hinted
	line    strings.Builder
	weight  int
	link    int
	space   bool // a space is pending before the next word
	pre     bool // the line holds preformatted text
	inPre   int  // depth inside pre, listing, xmp
	inLink  int
	inHead  int
	inMain  int // depth inside article or main
	hint    int // innermost hinted element, or -1
	hintDep int
	stack   []frame
}

// frame records what entering an element changed, for undoing on exit.
type frame struct {
	link, head, main bool
	pre              bool
	brk, sep         bool // the element breaks the line, separates words
	hint             int  // the hint to restore, or -2 for none
}

// mainText returns the main text of a UTF-8 page.
func mainText(data []byte) string {
	blocks, keep := classify(data)
	var out strings.Builder
	for i, b := range blocks {
		if keep[i] {
			out.WriteString(b.text)
			out.WriteByte('\n')
		}
	}
	return strings.TrimRight(out.String(), "\n")
}

// classify cuts a UTF-8 page into blocks and decides which to keep.
func classify(data []byte) ([]block, []bool) {
	x := &extractor{hint: -1}
	if doc, err := html.Parse(bytes.NewReader(data)); err == nil {
		x.walk(doc)
	} else {
		x.walkTokens(data)
	}
	x.flush()
	return x.blocks, x.keep()
}

// walk visits the tree in document order without recursion, so that deeply
// nested input cannot exhaust the stack.
func (x *extractor) walk(doc *html.Node) {
	n := doc.FirstChild
	for n != nil {
		if x.enter(n) {
			if n.FirstChild != nil {
				n = n.FirstChild
				continue
			}
			x.leave(n)
		}
		for n.NextSibling == nil {
			n = n.Parent
			if n == doc || n == nil {
				return
			}
			x.leave(n)
		}
		n = n.NextSibling
	}
}

// enter handles the start of a node and reports whether its children are
// to be visited; leave is called for exactly those nodes.
func (x *extractor) enter(n *html.Node) bool {
	switch n.Type {
	case html.TextNode:
		x.text(n.Data)
		return false
	case html.ElementNode:
		return x.start(n.DataAtom, n.Attr)
	case html.DocumentNode:
		return true
	}
	return false
}

func (x *extractor) leave(n *html.Node) {
	if n.Type == html.ElementNode {
		x.end()
	}
}

// start handles an element's start tag and reports whether its content is
// to be visited; end is called for exactly those elements.
func (x *extractor) start(a atom.Atom, attrs []html.Attribute) bool {
	if skipped[a] {
		return false
	}
	if furniture[a] && (x.inMain == 0 || a == atom.Nav || a == atom.Aside) {
		x.flush()
		x.blocks = append(x.blocks, block{marker: true, class: bad, hint: -1})
		return false
	}
	f := frame{hint: -2, brk: breaks[a], sep: separators[a] || hasAttr(attrs, "hidden")}
	if f.brk {
		x.flush()
	} else if f.sep {
		x.space = true
	}
	switch a {
	case atom.A:
		if hasAttr(attrs, "href") {
			x.inLink++
			f.link = true
		}
	case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
		x.inHead++
		f.head = true
	case atom.Article, atom.Main:
		x.inMain++
		f.main = true
	case atom.Pre, atom.Listing, atom.Xmp:
		x.inPre++
		f.pre = true
	}
	if f.brk && a != atom.Body && x.hintDep < maxHintDepth && isBoilerplate(attrs) {
		f.hint = x.hint
		x.hints = append(x.hints, hinted{parent: x.hint})
		x.hint = len(x.hints) - 1
		x.hintDep++
	}
	x.stack = append(x.stack, f)
	return true
}

// end handles the end of the element that start last entered.
func (x *extractor) end() {
	if len(x.stack) == 0 {
		return
	}
	f := x.stack[len(x.stack)-1]
	x.stack = x.stack[:len(x.stack)-1]
	if f.brk {
		x.flush()
	} else if f.sep {
		x.space = true
	}
	if f.link {
		x.inLink--
	}
	if f.head {
		x.inHead--
	}
	if f.main {
		x.inMain--
	}
	if f.pre {
		x.inPre--
	}
	if f.hint != -2 {
		x.hint = f.hint
		x.hintDep--
	}
}

// voids are the elements without content or end tag.
var voids = map[atom.Atom]bool{
	atom.Area: true, atom.Base: true, atom.Br: true, atom.Col: true, atom.Embed: true,
	atom.Hr: true, atom.Img: true, atom.Input: true, atom.Link: true, atom.Meta: true,
	atom.Source: true, atom.Track: true, atom.Wbr: true, atom.Param: true,
}

// maxEndTagSearch bounds how far down the stack of open elements an end
// tag looks for its start tag in walkTokens.
const maxEndTagSearch = 64

// walkTokens feeds the extractor from the tokenizer instead of a tree: the
// fallback for pages that html.Parse rejects (nested deeper than 512
// elements, as pages full of unclosed tags can be). Open elements are
// tracked by name; an end tag closes the nearest open element of its name
// and those above it, and is ignored when there is none nearby.
func (x *extractor) walkTokens(data []byte) {
	z := html.NewTokenizer(bytes.NewReader(data))
	var open []string // names of the elements start entered
	skip := 0         // depth inside a skipped element named skipName
	skipName := ""
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return
		case html.TextToken:
			if skip == 0 {
				x.text(string(z.Text()))
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, more := z.TagName()
			if skip > 0 {
				if string(name) == skipName && tt == html.StartTagToken {
					skip++
				}
				continue
			}
			a := atom.Lookup(name)
			var attrs []html.Attribute
			for more {
				var k, v []byte
				k, v, more = z.TagAttr()
				attrs = append(attrs, html.Attribute{Key: string(k), Val: string(v)})
			}
			entered := x.start(a, attrs)
			switch {
			case entered && (voids[a] || tt == html.SelfClosingTagToken):
				x.end()
			case entered:
				open = append(open, string(name))
			case !voids[a] && tt == html.StartTagToken:
				skip, skipName = 1, string(name)
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if skip > 0 {
				if string(name) == skipName {
					skip--
				}
				continue
			}
			for i := len(open) - 1; i >= 0 && i >= len(open)-maxEndTagSearch; i-- {
				if open[i] == string(name) {
					for len(open) > i {
						x.end()
						open = open[:len(open)-1]
					}
					break
				}
			}
		}
	}
}

// text appends the words of s to the current line.
func (x *extractor) text(s string) {
	if s == "" {
		return
	}
	if x.inPre > 0 {
		// Preformatted text keeps its lines and indentation.
		x.line.WriteString(s)
		x.pre = true
		wt := 0
		for _, w := range strings.Fields(s) {
			wt += textWeight(w)
		}
		x.weight += wt
		if x.inLink > 0 {
			x.link += wt
		}
		return
	}
	if startsWithSpace(s) {
		x.space = true
	}
	words := strings.Fields(s)
	for i, w := range words {
		if (i > 0 || x.space) && x.line.Len() > 0 {
			x.line.WriteByte(' ')
		}
		x.space = false
		x.line.WriteString(w)
		wt := textWeight(w)
		x.weight += wt
		if x.inLink > 0 {
			x.link += wt
		}
	}
	if len(words) > 0 && endsWithSpace(s) {
		x.space = true
	}
}

func startsWithSpace(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsSpace(r)
}

func endsWithSpace(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return unicode.IsSpace(r)
}

// textWeight is the length of s in characters, with Hangul, Han and Kana
// counting 2: such a character carries about as much as two Latin letters.
func textWeight(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x1100 && (unicode.Is(unicode.Hangul, r) || unicode.Is(unicode.Han, r) ||
			unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r)) {
			n++
		}
	}
	return n
}

// flush ends the current line as a block.
func (x *extractor) flush() {
	x.space = false
	if x.line.Len() == 0 {
		return
	}
	text := x.line.String()
	if x.pre {
		text = cleanPre(text)
		x.pre = false
	}
	if text == "" {
		x.line.Reset()
		x.weight, x.link = 0, 0
		return
	}
	x.blocks = append(x.blocks, block{
		text:    text,
		weight:  x.weight,
		link:    x.link,
		heading: x.inHead > 0,
		hint:    x.hint,
	})
	for h := x.hint; h >= 0; h = x.hints[h].parent {
		x.hints[h].weight += x.weight
	}
	x.line.Reset()
	x.weight, x.link = 0, 0
}

// cleanPre tidies preformatted text: line ends normalised, trailing
// spaces and blank lines at either end removed, tabs and indentation kept.
func cleanPre(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRightFunc(l, unicode.IsSpace)
	}
	for len(lines) > 0 && lines[0] == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	// Remove the indentation that all lines share.
	prefix, first := "", true
	for _, l := range lines {
		if l == "" {
			continue
		}
		indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if first {
			prefix, first = indent, false
		}
		for !strings.HasPrefix(indent, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	if prefix != "" {
		for i, l := range lines {
			lines[i] = strings.TrimPrefix(l, prefix)
		}
	}
	return strings.Join(lines, "\n")
}

// keep classifies the blocks and reports which hold main text.
func (x *extractor) keep() []bool {
	total := 0
	for _, b := range x.blocks {
		total += b.weight
	}
	for i := range x.hints {
		x.hints[i].active = 2*x.hints[i].weight <= total
	}
	anyGood := false
	for i := range x.blocks {
		b := &x.blocks[i]
		if b.marker {
			continue
		}
		b.class = short
		if x.boilerHinted(b) || !b.heading && linkList(b) {
			b.class = bad
		} else if !b.heading && b.weight >= goodWeight && float64(b.link) <= goodLinkDensity*float64(b.weight) {
			b.class = good
			anyGood = true
		}
	}
	keep := make([]bool, len(x.blocks))
	// Short blocks: bad on both sides means boilerplate. Headings do not
	// count as sides; they are settled afterwards.
	for i := 0; i < len(x.blocks); {
		b := x.blocks[i]
		if b.class != short || b.heading {
			keep[i] = b.class == good
			i++
			continue
		}
		j := i
		for j < len(x.blocks) && x.blocks[j].class == short {
			j++
		}
		weight := 0
		for k := i; k < j; k++ {
			weight += x.blocks[k].weight
		}
		before, after := neighbour(x.blocks, i-1, -1), neighbour(x.blocks, j, 1)
		drop := anyGood && before == bad && after == bad && weight < goodWeight
		for k := i; k < j; k++ {
			keep[k] = !drop && !x.blocks[k].heading
		}
		i = j
	}
	// Headings: kept when the next non-heading block is kept.
	next := false
	for i := len(x.blocks) - 1; i >= 0; i-- {
		b := x.blocks[i]
		if b.marker {
			next = false
			continue
		}
		if b.heading {
			keep[i] = b.class != bad && next
			continue
		}
		next = keep[i]
	}
	return keep
}

// linkList reports whether a block is mostly links: more than half of its
// text is link text, and what is not is too little to make a sentence (a
// separator, a bullet, "More:") rather than prose around a link.
func linkList(b *block) bool {
	return float64(b.link) > maxLinkDensity*float64(b.weight) && b.weight-b.link < minProse
}

// neighbour returns the class of the first non-heading block from i in
// direction dir, or short at either end of the page.
func neighbour(blocks []block, i, dir int) blockClass {
	for ; i >= 0 && i < len(blocks); i += dir {
		if !blocks[i].heading {
			return blocks[i].class
		}
	}
	return short
}

// boilerHinted reports whether an active hinted element encloses b.
func (x *extractor) boilerHinted(b *block) bool {
	for h := b.hint; h >= 0; h = x.hints[h].parent {
		if x.hints[h].active {
			return true
		}
	}
	return false
}

func hasAttr(attrs []html.Attribute, key string) bool {
	for _, a := range attrs {
		if a.Key == key && a.Namespace == "" {
			return true
		}
	}
	return false
}

// isBoilerplate reports whether an element's class, id or role names page
// furniture.
func isBoilerplate(attrs []html.Attribute) bool {
	for _, a := range attrs {
		if a.Namespace != "" {
			continue
		}
		switch a.Key {
		case "class", "id":
			if hintedValue(a.Val) {
				return true
			}
		case "role":
			if boilerRoles[strings.ToLower(strings.TrimSpace(a.Val))] {
				return true
			}
		}
	}
	return false
}

// hintedValue splits a class or id value into words and looks them up.
func hintedValue(v string) bool {
	if len(v) > 1024 {
		v = v[:1024]
	}
	start := -1
	var prev rune
	for i, r := range v + " " {
		letter := unicode.IsLetter(r) || unicode.IsDigit(r)
		split := !letter || start >= 0 && unicode.IsUpper(r) && unicode.IsLower(prev)
		if split && start >= 0 {
			if hintWord(strings.ToLower(v[start:i])) {
				return true
			}
			start = -1
		}
		if letter && start < 0 {
			start = i
		}
		prev = r
	}
	return false
}

func hintWord(w string) bool {
	if boilerWords[w] {
		return true
	}
	for _, p := range boilerPrefixes {
		if strings.HasPrefix(w, p) {
			return true
		}
	}
	return false
}
