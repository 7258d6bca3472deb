package config

import (
	"fmt"
	"strings"
)

// node is one statement: a keyword, its arguments and an optional block.
// Every block keyword shares this shape, so unknown keywords (and their
// blocks) are skipped without knowing their grammar.
type node struct {
	pos      Pos
	args     []string // args[0] is the keyword
	raw      []string // args as written (quotes and escapes kept)
	hasBlock bool
	block    []*node
}

func (n *node) key() string {
	if len(n.args) == 0 {
		return ""
	}
	return n.args[0]
}

// arg returns argument i (1 is the first after the keyword) or "".
func (n *node) arg(i int) string {
	if i < len(n.args) {
		return n.args[i]
	}
	return ""
}

// rest joins the arguments after the keyword, which is how keepalived
// reads an unquoted script command line.
func (n *node) rest() string {
	if len(n.args) < 2 {
		return ""
	}
	return strings.Join(n.args[1:], " ")
}

// builder turns tokens into a statement tree. A statement ends at the end
// of its line, at '{' (same or next line) or at '}' (so "group { A B }"
// fits on one line).
type builder struct {
	toks  []token
	i     int
	depth int
	errs  ErrorList
}

// maxDepth bounds block nesting (keepalived needs 4) so hostile input
// cannot recurse without limit.
const maxDepth = 50

func (b *builder) peek() token {
	if b.i < len(b.toks) {
		return b.toks[b.i]
	}
	pos := Pos{}
	if len(b.toks) > 0 {
		pos = b.toks[len(b.toks)-1].pos
	}
	return token{kind: tokEOF, pos: pos}
}

func (b *builder) errorf(pos Pos, msg string) {
	b.errs = append(b.errs, &Error{Pos: pos, Msg: msg})
}

// list reads statements until the '}' closing owner (nil at top level).
func (b *builder) list(owner *node) []*node {
	var out []*node
	for {
		t := b.peek()
		switch t.kind {
		case tokEOF:
			if owner != nil {
				b.errorf(owner.pos, "missing \"}\" for block \""+owner.key()+"\" opened here")
			}
			return out
		case tokEOL:
			b.i++
			continue
		case tokRBrace:
			b.i++
			if owner == nil {
				b.errorf(t.pos, "unexpected \"}\"")
				continue
			}
			return out
		case tokLBrace:
			b.i++
			b.errorf(t.pos, "unexpected \"{\"")
			b.block(&node{pos: t.pos, args: []string{"{"}})
			continue
		}
		n := &node{pos: t.pos}
		for b.peek().kind == tokWord {
			n.args = append(n.args, b.peek().text)
			n.raw = append(n.raw, b.peek().raw)
			b.i++
		}
		if b.peek().kind == tokEOL {
			j := b.i
			for j < len(b.toks) && b.toks[j].kind == tokEOL {
				j++
			}
			if j < len(b.toks) && b.toks[j].kind == tokLBrace {
				b.i = j
			}
		}
		if b.peek().kind == tokLBrace {
			b.i++
			n.hasBlock = true
			n.block = b.block(n)
		}
		out = append(out, n)
	}
}

// block reads the body of owner, whose '{' was just consumed.
func (b *builder) block(owner *node) []*node {
	if b.depth >= maxDepth {
		b.errorf(owner.pos, fmt.Sprintf("blocks nested more than %d deep", maxDepth))
		b.skip(owner)
		return nil
	}
	b.depth++
	defer func() { b.depth-- }()
	return b.list(owner)
}

// skip passes over the rest of owner's block without recursing.
func (b *builder) skip(owner *node) {
	for open := 1; open > 0; b.i++ {
		switch b.peek().kind {
		case tokEOF:
			b.errorf(owner.pos, "missing \"}\" for block \""+owner.key()+"\" opened here")
			return
		case tokLBrace:
			open++
		case tokRBrace:
			open--
		}
	}
}
