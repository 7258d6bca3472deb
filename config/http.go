package config

import (
	"fmt"
	"regexp/syntax"
	"strconv"
	"strings"
)

// HTTP protocols for Checker.HTTPProtocol (check_http.c
// http_protocol_handler).
const (
	HTTP10      = "1.0"  // keepalived's default
	HTTP10Close = "1.0C" // 1.0 with "Connection: close"
	HTTP11      = "1.1"  // always with "Connection: close"
)

// SSLClient is keepalived's top-level SSL block: the client certificate
// SSL_GET presents (check_ssl.c build_ssl_ctx).
type SSLClient struct {
	Pos         Pos
	Password    string // of an encrypted key
	CA          string // loaded, but keepalived does not verify the server with it
	Certificate string // PEM chain
	Key         string // PEM
}

func (p *parser) sslBlock(n *node) {
	body, ok := p.body(n)
	if !ok {
		return
	}
	if p.cfg.SSL != nil {
		p.errorf(n.pos, "duplicate SSL block (first at %s)", p.cfg.SSL.Pos)
		return
	}
	s := &SSLClient{Pos: n.pos}
	for _, c := range body {
		switch c.key() {
		case "password":
			s.Password, _ = p.needArg(c)
		case "ca":
			s.CA, _ = p.needArg(c)
		case "certificate":
			s.Certificate, _ = p.needArg(c)
		case "key":
			s.Key, _ = p.needArg(c)
		default:
			p.unknown(c, "SSL")
		}
	}
	if (s.Certificate == "") != (s.Key == "") {
		// OpenSSL would fail to use a certificate without its key.
		p.errorf(n.pos, "SSL: certificate and key go together")
	}
	p.cfg.SSL = s
}

// httpKeyword handles the HTTP_GET/SSL_GET keywords of a checker; it
// reports whether it knew c.
func (p *parser) httpKeyword(ck *Checker, c *node) bool {
	switch c.key() {
	case "http_protocol":
		switch v, _ := p.needArg(c); v {
		case "1.0":
			ck.HTTPProtocol = HTTP10
		case "1.0C", "1.0c":
			ck.HTTPProtocol = HTTP10Close
		case "1.1":
			ck.HTTPProtocol = HTTP11
		case "":
		default:
			p.errorf(c.pos, "http_protocol %q: want 1.0, 1.0C or 1.1", v)
		}
	case "enable_sni":
		ck.SNI = len(c.args) < 2 || p.boolArg(c)
	case "sni_name":
		// check_http.c sni_name_handler: a name also enables SNI.
		ck.SNIName, _ = p.needArg(c)
		ck.SNI = true
	default:
		return false
	}
	if ck.Kind != CheckSSL && (c.key() == "enable_sni" || c.key() == "sni_name") {
		p.errorf(c.pos, "%s is for SSL_GET (HTTP_GET has no TLS)", c.key())
	}
	return true
}

// regexOptions maps keepalived's regex_options (PCRE2 names, check_http.c)
// to what Go's regexp can do: a flag, nothing (no effect on whether and
// where a match is found), or refusal (reason).
var regexOptions = map[string]struct{ flag, refuse string }{
	"caseless":            {flag: "i"},
	"multiline":           {flag: "m"},
	"dotall":              {flag: "s"},
	"ungreedy":            {flag: "U"},
	"dollar_endonly":      {},
	"firstline":           {}, // URL.RegexFirstLine
	"utf":                 {}, // Go reads patterns and bodies as UTF-8
	"never_ucp":           {}, // Go's \d, \w, \b are ASCII, as PCRE2 without ucp
	"no_auto_capture":     {},
	"no_auto_possess":     {},
	"no_dotstar_anchor":   {},
	"no_start_optimize":   {},
	"auto_callout":        {}, // keepalived sets no callout function
	"use_offset_limit":    {}, // regex_max_offset works without it
	"never_backslash_c":   {}, // Go has no \C
	"match_unset_backref": {refuse: "Go's regexp has no back references"},
	"dupnames":            {refuse: "Go's regexp does not allow duplicate group names"},
	"extended":            {refuse: "Go's regexp has no extended (x) mode"},
	"allow_empty_class":   {refuse: "Go's regexp has no empty class []"},
	"alt_bsux":            {refuse: "Go's regexp reads \\u, \\x and \\U its own way"},
	"alt_circumflex":      {refuse: "Go's regexp cannot change where ^ matches"},
	"alt_verbnames":       {refuse: "Go's regexp has no verbs"},
	"ucp":                 {refuse: "Go's regexp has no Unicode \\d, \\w, \\b"},
	"never_utf":           {refuse: "Go's regexp always reads UTF-8"},
}

// urlRegex collects a url block's regex keywords until the block ends.
type urlRegex struct {
	pattern       *node
	options       []string
	optionsPos    Pos
	min, max      int // max -1: unset
	others        []*node
	dollarEndOnly bool
	firstLine     bool
}

func (p *parser) regexKeyword(r *urlRegex, u *URL, c *node) bool {
	switch c.key() {
	case "regex":
		if r.pattern != nil {
			p.errorf(c.pos, "duplicate regex (first at %s)", r.pattern.pos)
		}
		r.pattern = c
	case "regex_no_match":
		u.RegexNoMatch = true
		r.others = append(r.others, c)
	case "regex_options":
		for _, o := range c.args[1:] {
			opt, ok := regexOptions[o]
			switch {
			case !ok:
				p.errorf(c.pos, "regex_options: unknown option %q", o)
			case opt.refuse != "":
				p.errorf(c.pos, "regex_options %s cannot be honoured: %s", o, opt.refuse)
			}
			r.dollarEndOnly = r.dollarEndOnly || o == "dollar_endonly"
			r.firstLine = r.firstLine || o == "firstline"
			if opt.flag != "" && !strings.Contains(strings.Join(r.options, ""), opt.flag) {
				r.options = append(r.options, opt.flag)
			}
		}
		r.others = append(r.others, c)
	case "regex_stack":
		// The PCRE2 JIT stack: Go's regexp needs none.
		if len(c.args) != 3 {
			p.errorf(c.pos, "regex_stack needs START MAX")
		} else {
			p.intVal(c, c.args[1], 0, 1<<30)
			p.intVal(c, c.args[2], 0, 1<<30)
		}
		r.others = append(r.others, c)
	case "regex_min_offset":
		r.min, _ = p.intArg(c, 0, 1<<30)
		r.others = append(r.others, c)
	case "regex_max_offset":
		r.max, _ = p.intArg(c, 0, 1<<30)
		r.others = append(r.others, c)
	default:
		return false
	}
	return true
}

// finish compiles the regex into u (check_http.c url_check: keepalived
// ignores the other regex keywords without a regex, and min > max; vipd
// refuses both).
func (p *parser) finishRegex(r *urlRegex, u *URL) {
	if r.pattern == nil {
		if len(r.others) > 0 {
			p.errorf(r.others[0].pos, "%s without regex", r.others[0].key())
		}
		return
	}
	if r.max >= 0 && r.min > r.max {
		p.errorf(r.others[0].pos, "regex_min_offset %d > regex_max_offset %d", r.min, r.max)
	}
	// keepalived reads the line again with quotes and escapes
	// (alloc_strvec_quoted_escaped): it must hold exactly one word.
	words, err := keepalivedWords(strings.Join(r.pattern.raw[1:], " "))
	if err != nil || len(words) != 1 {
		if err == nil {
			err = fmt.Errorf("%d words, want one (quote a pattern with spaces)", len(words))
		}
		p.errorf(r.pattern.pos, "regex: %v", err)
		return
	}
	pat := words[0]
	if len(r.options) > 0 {
		pat = "(?" + strings.Join(r.options, "") + ")" + pat
	}
	re, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		p.errorf(r.pattern.pos, "regex %q: %v (Go's RE2 syntax: no back references, look-around, possessive or atomic groups, \\Z)", words[0], err)
		return
	}
	dollar, endText := endAnchors(re)
	u.Regex, u.RegexMinOffset, u.RegexFirstLine = pat, r.min, r.firstLine
	if r.max >= 0 {
		u.RegexMaxOffset = r.max + 1
	}
	// PCRE2's $ (without multiline or dollar_endonly) also matches before
	// a final newline; Go's only at the end: the prober tries the body
	// without its final newline too. \z must then not be in the pattern,
	// as it would match there as well.
	u.RegexDollarNL = dollar && !r.dollarEndOnly
	if u.RegexDollarNL && endText {
		p.errorf(r.pattern.pos, "regex %q: $ together with \\z needs regex_options dollar_endonly in vipd", words[0])
	}
}

// endAnchors reports whether re has a non-multiline $ and a \z.
func endAnchors(re *syntax.Regexp) (dollar, endText bool) {
	if re.Op == syntax.OpEndText {
		if re.Flags&syntax.WasDollar != 0 {
			dollar = true
		} else {
			endText = true
		}
	}
	for _, s := range re.Sub {
		d, e := endAnchors(s)
		dollar, endText = dollar || d, endText || e
	}
	return dollar, endText
}

// keepalivedWords splits s as keepalived's alloc_strvec_quoted_escaped
// (lib/parser.c): words separated by white space; '…' and "…" quote;
// a backslash escapes: \xHH, \cX, \ooo, \a \b \E \f \n \r \t \v, and any
// other character stands for itself (so \d is d: write \\d for a digit).
func keepalivedWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case quote == 0 && (c == ' ' || c == '\t'):
			if inWord {
				words, inWord = append(words, w.String()), false
				w.Reset()
			}
			i++
			continue
		case c == '\\':
			i++
			if i >= len(s) {
				return nil, fmt.Errorf("missing escape character at the end")
			}
			var n int
			c, n = unescape(s[i:])
			i += n
			w.WriteByte(c)
		case quote != 0 && c == quote:
			quote = 0
			i++
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
			i++
		default:
			w.WriteByte(c)
			i++
		}
		inWord = true
	}
	if quote != 0 {
		return nil, fmt.Errorf("missing terminating %c", quote)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// unescape reads the escape after a backslash: its byte and length.
func unescape(s string) (byte, int) {
	isHex := func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
	switch c := s[0]; {
	case c == 'x' && len(s) > 1 && isHex(s[1]):
		n := 2
		if len(s) > 2 && isHex(s[2]) {
			n = 3
		}
		v, _ := strconv.ParseUint(s[1:n], 16, 8)
		return byte(v), n
	case c == 'c' && len(s) > 1:
		return s[1] & 0x1f, 2
	case c >= '0' && c <= '7':
		v, n := 0, 0
		for n < 3 && n < len(s) && s[n] >= '0' && s[n] <= '7' {
			v = v<<3 + int(s[n]-'0')
			n++
		}
		return byte(v), n
	default:
		if e, ok := map[byte]byte{'a': '\a', 'b': '\b', 'E': 0x1b, 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v'}[c]; ok {
			return e, 1
		}
		return c, 1
	}
}
