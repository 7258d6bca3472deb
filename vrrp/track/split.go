package track

import (
	"errors"
	"fmt"
	"strings"
)

// ErrEmptyCommand is returned by SplitCommand for a command with no words.
var ErrEmptyCommand = errors.New("empty command")

// whiteSpace is keepalived's WHITE_SPACE set.
const whiteSpace = " \t\f\n\r\v"

// SplitCommand splits a script command as written in keepalived.conf into
// argv the way keepalived does (alloc_strvec_quoted_escaped in
// core/parser.c): words are separated by white space; "..." and '...' quote
// (the quotes are removed and may start or end mid-word); a backslash
// escapes the next character everywhere, including inside single quotes,
// and understands \a \b \E \f \n \r \t \v, \xHH, \cX and octal \NNN. No
// shell is involved: no globbing, variables or redirections.
func SplitCommand(cmd string) ([]string, error) {
	var (
		words  []string
		word   []byte
		quote  byte
		inWord bool
	)
	for i := 0; i < len(cmd); {
		c := cmd[i]
		switch {
		case c == '\\':
			i++
			if i >= len(cmd) {
				return nil, fmt.Errorf("command %q: missing escaped character at end", cmd)
			}
			b, n := unescape(cmd[i:])
			word = append(word, b)
			i += n
			inWord = true
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				word = append(word, c)
			}
			i++
		case c == '"' || c == '\'':
			quote = c
			inWord = true
			i++
		case strings.IndexByte(whiteSpace, c) >= 0:
			if inWord {
				words = append(words, string(word))
				word, inWord = word[:0], false
			}
			i++
		default:
			word = append(word, c)
			inWord = true
			i++
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("command %q: missing terminating %c", cmd, quote)
	}
	if inWord {
		words = append(words, string(word))
	}
	if len(words) == 0 {
		return nil, ErrEmptyCommand
	}
	return words, nil
}

// unescape decodes the escape whose text (after the backslash) starts s,
// returning the byte and how many bytes of s it used. Like keepalived it
// accumulates hex digits into a single char, keeping the low 8 bits.
func unescape(s string) (byte, int) {
	switch c := s[0]; {
	case c == 'x' && len(s) > 1 && isHex(s[1]):
		var b byte
		n := 1
		for n < len(s) && isHex(s[n]) {
			b = b<<4 | hexVal(s[n])
			n++
		}
		return b, n
	case c == 'c' && len(s) > 1:
		return s[1] & 0x1f, 2
	case c >= '0' && c <= '7':
		b := c - '0'
		n := 1
		for n < 3 && n < len(s) && s[n] >= '0' && s[n] <= '7' {
			b = b<<3 + (s[n] - '0')
			n++
		}
		return b, n
	}
	switch s[0] {
	case 'a':
		return '\a', 1
	case 'b':
		return '\b', 1
	case 'E':
		return 0x1b, 1
	case 'f':
		return '\f', 1
	case 'n':
		return '\n', 1
	case 'r':
		return '\r', 1
	case 't':
		return '\t', 1
	case 'v':
		return '\v', 1
	}
	return s[0], 1
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
