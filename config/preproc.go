package config

import (
	"math"
	"path/filepath"
	"strconv"
	"strings"
)

// This file is keepalived's line preprocessor (lib/parser.c read_line and
// the keepalived.conf(5) sections "Conditional configuration", "Parameter
// substitution" and "Sequence blocks"), applied to each line before it is
// split into tokens:
//
//   - "@ID line" keeps line only when the config id is ID, "@^ID line"
//     only when it is not;
//   - "$NAME=value" defines NAME; a value ending in '\' continues on the
//     next lines (a multiline definition), until a line without '\' or
//     an empty line;
//   - "$NAME" (followed by a blank, ',', ')' or the end of the line) and
//     "${NAME}" anywhere are replaced by NAME's value, again and again
//     while the replacement holds definitions; undefined names stay;
//   - "~SEQ(var, start, step, end) text" (or ~SEQx, hexadecimal) repeats
//     text with $var set to each value in turn.
//
// Lines made by an expansion are preprocessed in turn, so they may hold
// conditions, definitions and sequences. They carry the position of the
// line whose expansion made them.

// Limits keepalived does not have (it loops or runs out of memory); they
// only stop configurations that could not load anyway.
const (
	// maxLineLen is keepalived's line buffer (MAXBUF 1024, less the NUL).
	maxLineLen = 1023
	// maxSubstitutions bounds the replacements in one line, so a
	// definition that refers to itself ends with an error.
	maxSubstitutions = 10000
	// maxMultilineDepth bounds nested multiline expansions.
	maxMultilineDepth = 100
	// maxLines bounds the lines a configuration expands to (the ~SEQ
	// example of keepalived.conf(5) makes about 975,000).
	maxLines = 1 << 20
	// maxSeqArgs is keepalived's buffer for a ~SEQ's numbers.
	maxSeqArgs = 3*20 + 3
)

// definition is a $NAME: written in the configuration, or predefined
// (then fn computes the value from the reference's parameters).
type definition struct {
	value     string
	multiline bool // value holds lines separated by '\n'
	fn        func(params []string, pos Pos) (string, bool)
	minParams int
	maxParams int
	numeric   bool // parameters must be numbers
}

// sequence is a pending ~SEQ: text is read once per value.
type sequence struct {
	name             string
	next, step, last int64
	hex              bool
	text             string
	pos              Pos
}

// expansion is the rest of a multiline definition being read.
type expansion struct {
	rest string
	pos  Pos
	// seqDepth is the preproc's seqDepth to restore when this expansion,
	// interrupted by a nested one, resumes.
	seqDepth int
}

// preproc is the preprocessor's state; definitions and sequences are
// global, across includes, as in keepalived.
type preproc struct {
	configID string
	defs     map[string]*definition
	seqs     []*sequence // the last one runs first
	// seqDepth: sequences at or below it wait for the multiline
	// expansion being read to end.
	seqDepth int
	ml       *expansion   // multiline expansion being read
	mlStack  []*expansion // expansions interrupted by a nested one
	lines    int          // lines produced, bounded by maxLines
	maxLines int
	tooMany  bool
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isNameChar(c byte) bool {
	return isAlpha(c) || isDigit(c) || c == '_'
}
func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// setupPreproc installs keepalived's predefined definitions. getenv and
// random are injected so tests are deterministic.
func (l *lexer) setupPreproc(configID string, getenv func(string) string, random func(lo, hi uint64) uint64) {
	l.pre = preproc{configID: configID, defs: map[string]*definition{}, maxLines: maxLines}
	d := l.pre.defs
	d["_PWD"] = &definition{fn: func(_ []string, pos Pos) (string, bool) {
		// keepalived changes to the directory of the file it reads.
		return absPath(filepath.Dir(pos.File)), true
	}}
	d["_INSTANCE"] = &definition{fn: func([]string, Pos) (string, bool) { return configID, true }}
	d["_RANDOM"] = &definition{maxParams: 2, numeric: true, fn: func(params []string, pos Pos) (string, bool) {
		lo, hi := uint64(0), uint64(32767)
		if len(params) > 0 {
			lo = parseULong(params[0])
		}
		if len(params) > 1 {
			hi = parseULong(params[1])
		}
		if lo > hi {
			l.errorf(pos, "${_RANDOM}: min %d exceeds max %d, using %d", lo, hi, lo)
			hi = lo
		}
		return strconv.FormatUint(random(lo, hi), 10), true
	}}
	d["_ENV"] = &definition{minParams: 1, maxParams: 1, fn: func(params []string, _ Pos) (string, bool) {
		return getenv(params[0]), true
	}}
	d["_HASH"] = &definition{value: "#"}
	d["_BANG"] = &definition{value: "!"}
}

// parseULong reads a decimal as strtoul does, saturating on overflow.
func parseULong(s string) uint64 {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return math.MaxUint64
	}
	return v
}

// nextLine returns the next line to tokenize, after preprocessing, with
// its position; false at the end of the configuration.
func (l *lexer) nextLine() (string, Pos, bool) {
	p := &l.pre
	var def *definition // the multiline definition being written
	for {
		var s string
		var pos Pos
		switch {
		case len(p.seqs) > p.seqDepth:
			q := p.seqs[len(p.seqs)-1]
			val := strconv.FormatInt(q.next, 10)
			if q.hex {
				val = strconv.FormatUint(uint64(q.next), 16)
			}
			l.setDefinition(q.name, val)
			s, pos = q.text, q.pos
			next, overflow := addInt64(q.next, q.step)
			if overflow || q.step > 0 && next > q.last || q.step < 0 && next < q.last {
				p.seqs = p.seqs[:len(p.seqs)-1]
			}
			q.next = next
		case p.ml != nil:
			pos = p.ml.pos
			if i := strings.IndexByte(p.ml.rest, '\n'); i >= 0 {
				s, p.ml.rest = p.ml.rest[:i], p.ml.rest[i+1:]
				break
			}
			s = p.ml.rest
			if n := len(p.mlStack); n > 0 {
				p.ml, p.mlStack = p.mlStack[n-1], p.mlStack[:n-1]
				p.seqDepth = p.ml.seqDepth
			} else {
				p.ml, p.seqDepth = nil, 0
			}
		default:
			raw, rpos, ok := l.readFile()
			if !ok {
				return "", Pos{}, false
			}
			pos = rpos
			raw = strings.TrimRight(raw, "\r")
			if raw == "" {
				// An empty line ends a multiline definition.
				if def != nil {
					if def.value == "" {
						def.multiline = false
					}
					def = nil
				}
				continue
			}
			if s = decomment(raw); s == "" {
				continue // a comment line does not end a definition
			}
		}
		if p.lines++; p.lines > p.maxLines {
			if !p.tooMany {
				l.errorf(pos, "the configuration expands to more than %d lines", p.maxLines)
				p.tooMany = true
			}
			p.seqs, p.ml, p.mlStack, p.seqDepth = nil, nil, nil, 0
			continue
		}
		if def != nil {
			def = appendDefinition(def, s)
			continue
		}
		if s == "" {
			continue
		}
		out, d := l.preprocess(s, pos)
		if d != nil {
			def = d
			continue
		}
		if out != "" {
			return out, pos, true
		}
	}
}

// appendDefinition adds line s to the multiline definition def and returns
// def while the definition goes on, nil when s was its last line.
func appendDefinition(def *definition, s string) *definition {
	more := strings.HasSuffix(s, `\`)
	if more {
		s = strings.TrimRight(s[:len(s)-1], " \t") + "\n"
	} else if def.value == "" {
		def.multiline = false
	}
	// A continuation line holding nothing but '\' adds nothing.
	if len(s) >= 2 || s != "" && !more {
		def.value += s
	}
	if more {
		return def
	}
	return nil
}

// preprocess applies conditions, definitions, sequences and substitution
// to one line. It returns the line to tokenize ("" for none), or the
// definition a multiline "$NAME=...\" starts.
func (l *lexer) preprocess(s string, pos Pos) (string, *definition) {
	if s == "" {
		return "", nil
	}
	if s[0] == '@' {
		ofs := 1
		neg := len(s) > 1 && s[1] == '^'
		if neg {
			ofs = 2
		}
		// The id must be followed by something: "@id" alone is dropped.
		i := strings.IndexAny(s[ofs:], " \t")
		if i < 0 {
			return "", nil
		}
		match := l.pre.configID != "" && s[ofs:ofs+i] == l.pre.configID
		if match == neg {
			return "", nil
		}
		s = strings.TrimLeft(s[ofs+i:], " \t")
	}
	if s == "" {
		return "", nil
	}
	if s[0] == '$' {
		if d, ok := l.checkDefinition(s); ok {
			if d.multiline {
				return "", d
			}
			return "", nil
		}
	}
	if strings.HasPrefix(s, "~SEQ") {
		l.addSeq(s, pos)
		return "", nil
	}
	if strings.HasPrefix(s, "~LST") {
		l.errorf(pos, "~LST is not supported by vipd: write the lines out or use ~SEQ")
		return "", nil
	}
	if s[0] == '~' || !strings.Contains(s, "$") {
		return s, nil
	}
	out, found, rests, ok := l.replace(s, pos, maxLineLen)
	if !ok {
		return "", nil
	}
	for _, r := range rests {
		l.startMultiline(r, pos)
	}
	if !found {
		return s, nil
	}
	return decomment(out), nil
}

// checkDefinition reads "$NAME=value": NAME is letters, digits and '_',
// not starting with a digit, with no blank before '='. A value ending in
// '\' starts a multiline definition.
func (l *lexer) checkDefinition(s string) (*definition, bool) {
	if len(s) < 2 || !(isAlpha(s[1]) || s[1] == '_') {
		return nil, false
	}
	eq := 2
	for eq < len(s) && s[eq] != '=' {
		if !isNameChar(s[eq]) {
			return nil, false
		}
		eq++
	}
	if eq == len(s) {
		return nil, false
	}
	value := strings.TrimLeft(s[eq+1:], " \t")
	multiline := strings.HasSuffix(value, `\`)
	if multiline {
		value = strings.TrimRight(value[:len(value)-1], " \t")
		if value != "" {
			value += "\n"
		}
	}
	d := l.setDefinition(s[1:eq], value)
	d.multiline = multiline
	return d, true
}

// setDefinition gives name a value; a predefined name is overridden.
func (l *lexer) setDefinition(name, value string) *definition {
	d := l.pre.defs[name]
	if d == nil {
		d = &definition{}
		l.pre.defs[name] = d
	}
	d.value, d.fn = value, nil
	return d
}

// startMultiline reads rest, the lines after the first of a multiline
// definition just substituted, before anything else; an expansion it
// interrupts resumes after it.
func (l *lexer) startMultiline(rest string, pos Pos) {
	p := &l.pre
	if p.ml != nil {
		if len(p.mlStack) >= maxMultilineDepth {
			l.errorf(pos, "multiline definitions nested more than %d deep", maxMultilineDepth)
			return
		}
		p.ml.seqDepth = p.seqDepth // restored when p.ml resumes
		p.mlStack = append(p.mlStack, p.ml)
	}
	p.ml = &expansion{rest: rest, pos: pos}
	p.seqDepth = len(p.seqs)
}

// replace substitutes the definitions in s. found says whether any was;
// rests are the lines after the first of each multiline definition
// substituted (only at the end of s), in order. ok is false when s cannot
// be expanded (the error is reported).
func (l *lexer) replace(s string, pos Pos, max int) (out string, found bool, rests []string, ok bool) {
	n := 0
	for cur := 0; ; {
		i := strings.IndexByte(s[cur:], '$')
		if i < 0 || cur+i+1 >= len(s) {
			break
		}
		cur += i
		d, name, params, refLen, hit := l.findReference(s[cur+1:], pos)
		if !hit {
			cur++
			continue
		}
		found = true
		if n++; n > maxSubstitutions {
			l.errorf(pos, "substituting $%s does not end: a definition refers to itself", name)
			return "", false, nil, false
		}
		val := d.value
		if d.fn != nil {
			if val, ok = d.fn(params, pos); !ok {
				return "", false, nil, false
			}
		}
		if d.multiline {
			first, after, _ := strings.Cut(val, "\n")
			val, rests = first, append(rests, after)
		}
		s = s[:cur] + val + s[cur+1+refLen:]
		if len(s) > max {
			l.errorf(pos, "substituting $%s makes the line longer than %d characters", name, max)
			return "", false, nil, false
		}
		// A value starting with '~' (a sequence) is not expanded further.
		if strings.HasPrefix(strings.TrimLeft(val, " \t"), "~") {
			break
		}
	}
	return s, found, rests, true
}

// findReference recognises a reference at t, the text after a '$': NAME
// followed by a blank, ',', ')' or the end, or {NAME} or {NAME PARAMS}
// anywhere. A multiline definition is only substituted at the end of the
// line. refLen is the length of the reference after the '$'.
func (l *lexer) findReference(t string, pos Pos) (d *definition, name string, params []string, refLen int, ok bool) {
	braces := t[0] == '{'
	start := 0
	if braces {
		start = 1
	}
	if start >= len(t) || !(isAlpha(t[start]) || t[start] == '_') {
		return nil, "", nil, 0, false
	}
	end := start + 1
	for end < len(t) && isNameChar(t[end]) {
		end++
	}
	name = t[start:end]
	numeric := true
	if braces {
		p := end
		for p < len(t) && (isBlank(t[p]) || isNameChar(t[p])) {
			p++
		}
		params = strings.Fields(t[end:p])
		for _, prm := range params {
			for i := range len(prm) {
				numeric = numeric && isDigit(prm[i])
			}
		}
		// Parameters must not be followed by blanks, and '}' must close.
		if len(params) > 0 && isBlank(t[p-1]) || p >= len(t) || t[p] != '}' {
			return nil, "", nil, 0, false
		}
		if len(params) > 0 {
			refLen = p + 1
		} else {
			// keepalived replaces "${NAME" and one more character, so
			// "${NAME }" leaves its "}".
			refLen = len(name) + 2
		}
	} else {
		if end < len(t) && !strings.ContainsRune(" \t,)", rune(t[end])) {
			return nil, "", nil, 0, false
		}
		refLen = len(name)
	}
	atEnd := refLen == len(t)
	d = l.pre.defs[name]
	if d == nil || d.multiline && !atEnd {
		return nil, "", nil, 0, false
	}
	if len(params) > 0 {
		if d.maxParams == 0 {
			return nil, "", nil, 0, false
		}
		if d.numeric && !numeric {
			l.errorf(pos, "definition %s requires numeric parameters only", name)
			return nil, "", nil, 0, false
		}
	}
	if len(params) > d.maxParams || len(params) < d.minParams {
		l.errorf(pos, "definition %s requires between %d and %d parameters, %d specified", name, d.minParams, d.maxParams, len(params))
		return nil, "", nil, 0, false
	}
	return d, name, params, refLen, true
}

// addSeq reads "~SEQ(var, start, step, end) text" (or ~SEQx): step may be
// left out (1 or -1 towards end), and start too (1, or -1 when end is
// negative). The numbers are C integers (0x hexadecimal, 0 octal) and may
// be definitions.
func (l *lexer) addSeq(s string, pos Pos) {
	p := 4
	hex := p < len(s) && s[p] == 'x'
	if hex {
		p++
	}
	p = skipBlanks(s, p)
	if p >= len(s) || s[p] != '(' {
		l.errorf(pos, "invalid ~SEQ specification %q", s)
		return
	}
	p = skipBlanks(s, p+1)
	v := p
	for p < len(s) && !strings.ContainsRune(" \t,)", rune(s[p])) {
		p++
	}
	name := s[v:p]
	p = skipBlanks(s, p)
	if p >= len(s) || s[p] == ')' || name == "" || name[0] == '{' {
		l.errorf(pos, "invalid ~SEQ definition %q", s)
		return
	}
	p = skipBlanks(s, p+1)
	closing := strings.IndexByte(s[p:], ')')
	if closing < 0 {
		l.errorf(pos, "~SEQ missing terminating ')' %q", s)
		return
	}
	closing += p
	args := s[p : closing+1]
	if len(args) > maxSeqArgs {
		l.errorf(pos, "~SEQ parameter strings too long %q", s)
		return
	}
	args, _, rests, ok := l.replace(args, pos, maxSeqArgs)
	if !ok {
		return
	}
	if len(rests) > 0 {
		l.errorf(pos, "~SEQ parameter is multiline definition %q", s)
		return
	}
	start, step, end, ok := seqNumbers(args)
	if !ok {
		l.errorf(pos, "invalid ~SEQ definition %q", s)
		return
	}
	if step == 0 || start < end && step < 0 || start > end && step > 0 {
		l.errorf(pos, "invalid ~SEQ values %q", s)
		return
	}
	if hex && (start < 0 || end < 0) {
		l.errorf(pos, "~SEQx is only valid for positive numbers %q", s)
		return
	}
	l.pre.seqs = append(l.pre.seqs, &sequence{name: name, next: start, step: step, last: end, hex: hex,
		text: strings.TrimLeft(s[closing+1:], " \t"), pos: pos})
}

// seqNumbers reads "a)", "a, b)" or "a, b, c)" as keepalived does.
func seqNumbers(args string) (start, step, end int64, ok bool) {
	var nums []int64
	p := 0
	for {
		n, q := strtol(args, p)
		nums = append(nums, n)
		p = skipBlanks(args, q)
		if p < len(args) && args[p] == ')' {
			break
		}
		if len(nums) == 3 || p >= len(args) || args[p] != ',' {
			return 0, 0, 0, false
		}
		p++
	}
	switch len(nums) {
	case 1:
		end = nums[0]
		step, start = 1, 1
		if end < 1 {
			step = -1
		}
		if end < 0 {
			start = -1
		}
	case 2:
		start, end, step = nums[0], nums[1], 1
		if start > end {
			step = -1
		}
	default:
		start, step, end = nums[0], nums[1], nums[2]
	}
	return start, step, end, true
}

// strtol reads a C long at s[p:] with base 0: blanks, a sign, then 0x
// for hexadecimal or 0 for octal. Without digits it reads nothing.
// Overflow saturates.
func strtol(s string, p int) (int64, int) {
	i := p
	for i < len(s) && (isBlank(s[i]) || s[i] == '\n' || s[i] == '\r' || s[i] == '\v' || s[i] == '\f') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	base := uint64(10)
	switch {
	case i+2 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && digitVal(s[i+2]) < 16:
		base = 16
		i += 2
	case i < len(s) && s[i] == '0':
		base = 8
	}
	var v uint64
	digits, over := 0, false
	for ; i < len(s) && digitVal(s[i]) < base; i++ {
		digits++
		d := digitVal(s[i])
		if v > (math.MaxUint64-d)/base {
			over = true
		} else {
			v = v*base + d
		}
	}
	if digits == 0 {
		return 0, p
	}
	switch {
	case neg && (over || v > 1<<63):
		return math.MinInt64, i
	case neg:
		return -int64(v), i
	case over || v > math.MaxInt64:
		return math.MaxInt64, i
	}
	return int64(v), i
}

func digitVal(c byte) uint64 {
	switch {
	case isDigit(c):
		return uint64(c - '0')
	case c >= 'a' && c <= 'z':
		return uint64(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return uint64(c-'A') + 10
	}
	return 99
}

func skipBlanks(s string, p int) int {
	for p < len(s) && isBlank(s[p]) {
		p++
	}
	return p
}

// addInt64 adds, reporting overflow.
func addInt64(a, b int64) (int64, bool) {
	c := a + b
	return c, (b > 0 && c < a) || (b < 0 && c > a)
}

// decomment removes a comment and the blanks around the line: a '!' or
// '#' starting a token outside quotes starts a comment, as the tokenizer
// reads them (see lexer.line). A final '\' (a definition going on) stays.
func decomment(s string) string {
	s = strings.TrimLeft(s, " \t")
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\'):
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && (c == '!' || c == '#') && (i == 0 || isSpace(s[i-1]) || s[i-1] == '{' || s[i-1] == '}'):
			s = s[:i]
		}
	}
	return strings.TrimRight(s, " \t")
}
