package config

import (
	"go/ast"
	goparser "go/parser"
	gotoken "go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// parserKeywords lists every keyword the parser dispatches on: the string
// cases of each `switch x.key()`, and the keys of the tables it looks
// keywords up in (the unsupported lists and the GARP table).
func parserKeywords(t *testing.T) []string {
	t.Helper()
	fset := gotoken.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	add := func(lit *ast.BasicLit) {
		if lit.Kind != gotoken.STRING {
			return
		}
		if s, err := strconv.Unquote(lit.Value); err == nil && s != "" {
			seen[s] = true
		}
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := goparser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SwitchStmt:
				call, ok := n.Tag.(*ast.CallExpr)
				if !ok {
					return true
				}
				if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "key" {
					return true
				}
				for _, st := range n.Body.List {
					for _, e := range st.(*ast.CaseClause).List {
						if lit, ok := e.(*ast.BasicLit); ok {
							add(lit)
						}
					}
				}
			case *ast.ValueSpec:
				for i, id := range n.Names {
					if !strings.HasPrefix(id.Name, "unsupported") || i >= len(n.Values) {
						continue
					}
					if cl, ok := n.Values[i].(*ast.CompositeLit); ok {
						for _, el := range cl.Elts {
							if kv, ok := el.(*ast.KeyValueExpr); ok {
								if lit, ok := kv.Key.(*ast.BasicLit); ok {
									add(lit)
								}
							}
						}
					}
				}
			}
			return true
		})
	}
	for _, g := range garpKeywords {
		seen[g.key] = true
		seen[globalGARPPrefix+g.key] = true
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Every keyword the parser knows is in docs/config.md, so the reference
// cannot drift from the code: a keyword added without its documentation
// fails here.
func TestConfigDocCoversEveryKeyword(t *testing.T) {
	doc, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	kws := parserKeywords(t)
	if len(kws) < 100 {
		t.Fatalf("found only %d keywords in the parser: the scan is broken", len(kws))
	}
	var missing []string
	for _, k := range kws {
		if !regexp.MustCompile(`(^|[^a-z0-9_-])` + regexp.QuoteMeta(k) + `([^a-z0-9_-]|$)`).Match(doc) {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		t.Errorf("docs/config.md does not mention %d keywords the parser handles: %s", len(missing), strings.Join(missing, " "))
	}
}
