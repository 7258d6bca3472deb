package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// fileSystem is what the lexer needs to follow includes; tests and the fuzz
// target pass one that never touches the disk.
type fileSystem interface {
	ReadFile(name string) ([]byte, error)
	Glob(pattern string) ([]string, error)
}

type osFS struct{}

func (osFS) ReadFile(name string) ([]byte, error)  { return os.ReadFile(name) }
func (osFS) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

type tokKind uint8

const (
	tokWord tokKind = iota
	tokLBrace
	tokRBrace
	tokEOL
	tokEOF
)

type token struct {
	kind   tokKind
	text   string
	quoted bool   // a quoted "{" is a word, and a quoted "include" is not a directive
	raw    string // a word as written, quotes and escapes included
	pos    Pos
}

// maxIncludeDepth bounds include nesting; keepalived has no limit, but a
// self-including glob would otherwise recurse until the stack runs out.
const maxIncludeDepth = 32

// lexer turns files into one token stream with includes spliced in where
// they appear, so an include may sit at any level, as in keepalived (it
// expands includes while reading lines). Lines pass through keepalived's
// preprocessor first (preproc.go): conditional lines, $NAME definitions
// and ~SEQ blocks.
type lexer struct {
	fs    fileSystem
	toks  []token
	errs  ErrorList
	warns []Warning
	reads int  // files included so far, bounded by maxIncludes
	full  bool // maxIncludes was reached and reported

	// frames is the include stack: the last one is being read. A frame
	// holds the files one include directive matched, read in turn.
	frames []*frame

	pre preproc
}

// frame is one include directive (or the main file) being read.
type frame struct {
	pending []includeMatch // matched files not read yet
	name    string         // the file being read
	abs     string         // its absolute path, for cycle detection
	lines   []string
	next    int // index of the next line to read
}

type includeMatch struct {
	path    string
	pattern string // as written, for messages
	glob    bool
	pos     Pos // the include line
}

// maxIncludes bounds the files one configuration may include, so globs
// that include each other cannot blow up combinatorially.
const maxIncludes = 1000

func (l *lexer) errorf(pos Pos, format string, args ...any) {
	l.errs = append(l.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (l *lexer) warnf(pos Pos, format string, args ...any) {
	l.warns = append(l.warns, Warning{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// run reads the configuration name (whose contents are src) with every
// file it includes.
func (l *lexer) run(name string, src []byte) {
	l.frames = []*frame{{name: name, abs: absPath(name), lines: strings.Split(string(src), "\n")}}
	for {
		s, pos, ok := l.nextLine()
		if !ok {
			return
		}
		toks := l.line(s, pos)
		if len(toks) > 0 && toks[0].kind == tokWord && !toks[0].quoted && toks[0].text == "include" {
			l.include(toks[1:], pos)
			continue
		}
		l.toks = append(l.toks, toks...)
		l.toks = append(l.toks, token{kind: tokEOL, pos: pos})
	}
}

// readFile returns the next physical line of the file being read, moving
// on to the next included file, or back to the including one, at the end
// of a file.
func (l *lexer) readFile() (string, Pos, bool) {
	for len(l.frames) > 0 {
		f := l.frames[len(l.frames)-1]
		if f.next < len(f.lines) {
			f.next++
			return f.lines[f.next-1], Pos{File: f.name, Line: f.next}, true
		}
		if !l.openNext(f) {
			l.frames = l.frames[:len(l.frames)-1]
		}
	}
	return "", Pos{}, false
}

// openNext makes the next readable file f matched the one being read.
func (l *lexer) openNext(f *frame) bool {
	f.name, f.abs, f.lines, f.next = "", "", nil, 0
	for len(f.pending) > 0 && !l.full {
		m := f.pending[0]
		f.pending = f.pending[1:]
		abs := absPath(m.path)
		if slices.ContainsFunc(l.frames, func(o *frame) bool { return o.abs == abs }) {
			// "include *.conf" naturally matches the including file
			// itself: skip it; naming an ancestor outright is a loop.
			if !m.glob {
				l.errorf(m.pos, "include %q: %s includes itself", m.pattern, m.path)
			}
			continue
		}
		if l.reads++; l.reads > maxIncludes {
			l.errorf(m.pos, "include %q: more than %d files included", m.pattern, maxIncludes)
			l.full = true
			return false
		}
		data, err := l.fs.ReadFile(m.path)
		if errors.Is(err, syscall.EISDIR) {
			continue // keepalived's glob uses GLOB_MARK and skips directories
		}
		if err != nil {
			l.errorf(m.pos, "include %q: %v", m.pattern, err)
			continue
		}
		f.name, f.abs, f.lines = m.path, abs, strings.Split(string(data), "\n")
		return true
	}
	return false
}

// line splits one line into tokens. A comment ('!' or '#') starts only at
// the beginning of a token, as in keepalived, so "auth_pass a#b" keeps its
// '#'; inside quotes nothing is special except \" and \\.
func (l *lexer) line(s string, pos Pos) []token {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case isSpace(c):
			i++
		case c == '!' || c == '#':
			return toks
		case c == '{':
			toks = append(toks, token{kind: tokLBrace, text: "{", pos: pos})
			i++
		case c == '}':
			toks = append(toks, token{kind: tokRBrace, text: "}", pos: pos})
			i++
		default:
			var b strings.Builder
			quoted := false
			start := i
		word:
			for i < len(s) {
				c := s[i]
				switch {
				case c == '"':
					quoted = true
					i = l.quoted(s, i+1, &b, pos)
				case isSpace(c) || c == '{' || c == '}':
					break word
				default:
					b.WriteByte(c)
					i++
				}
			}
			toks = append(toks, token{kind: tokWord, text: b.String(), quoted: quoted, raw: s[start:i], pos: pos})
		}
	}
	return toks
}

// quoted copies a quoted section starting after its opening quote and
// returns the index after the closing quote.
func (l *lexer) quoted(s string, i int, b *strings.Builder, pos Pos) int {
	for i < len(s) {
		switch {
		case s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\'):
			b.WriteByte(s[i+1])
			i += 2
		case s[i] == '"':
			return i + 1
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	l.errorf(pos, "unterminated quoted string")
	return i
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

// include expands each pattern relative to the including file's directory
// and queues the matches, which are read next, in order. A pattern with
// glob characters that matches nothing is a warning (an empty conf.d is
// normal); a plain file name that does not exist is an error, because
// keepalived reports it as a config error (CONFIG_FILE_NOT_FOUND) and
// `keepalived -t` fails on it.
func (l *lexer) include(args []token, pos Pos) {
	if len(args) == 0 {
		l.errorf(pos, "include needs a file name or pattern")
		return
	}
	if l.full {
		return
	}
	if len(l.frames) > maxIncludeDepth {
		l.errorf(pos, "includes nested more than %d deep", maxIncludeDepth)
		return
	}
	var queue []includeMatch
	for _, a := range args {
		if a.kind != tokWord {
			l.errorf(pos, "unexpected %q after include", a.text)
			continue
		}
		pat := a.text
		if !filepath.IsAbs(pat) {
			pat = filepath.Join(filepath.Dir(pos.File), pat)
		}
		matches, err := l.fs.Glob(pat)
		if err != nil {
			l.errorf(pos, "include %q: %v", a.text, err)
			continue
		}
		glob := strings.ContainsAny(a.text, "*?[")
		if len(matches) == 0 {
			if glob {
				l.warnf(pos, "include %q matched no files", a.text)
			} else {
				l.errorf(pos, "include %q: no such file", a.text)
			}
			continue
		}
		for _, m := range matches {
			queue = append(queue, includeMatch{path: m, pattern: a.text, glob: glob, pos: pos})
		}
	}
	if len(queue) > 0 {
		l.frames = append(l.frames, &frame{pending: queue})
	}
}

// absPath names a file the same way however it was reached ("./a.conf",
// "a.conf", "/etc/keepalived/a.conf"), for cycle detection.
func absPath(name string) string {
	if abs, err := filepath.Abs(name); err == nil {
		return abs
	}
	return filepath.Clean(name)
}
