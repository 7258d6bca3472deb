package config

import (
	"flag"
	"fmt"
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

var updateKeywords = flag.Bool("update-keywords", false, "rewrite docs/keywords.md")

// keywordStatus is what vipd does with one keepalived keyword.
func keywordStatus(k string, parsed map[string]bool, ignored map[string]bool) string {
	switch {
	case ignored[k] && harmless[k]:
		return "ignored with a warning; it cannot change where VIPs or traffic go"
	case ignored[k]:
		return "**ignored** with a warning; keepalived would move VIPs or traffic with it, so `vipd -t` fails"
	case parsed[k]:
		return "implemented (see config.md)"
	case harmless[k]:
		return "ignored with a warning; it cannot change where VIPs or traffic go"
	}
	return "**ignored** with a warning; keepalived would move VIPs or traffic with it, so `vipd -t` fails"
}

// ignoredKeywords are the keys of the parser's unsupported tables.
func ignoredKeywords(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, m := range []map[string]bool{unsupportedTop, unsupportedGlobal, unsupportedInstance, unsupportedLB} {
		for k := range m {
			out[k] = true
		}
	}
	return out
}

// docs/keywords.md lists every keyword of keepalived 2.2.7 (the list in
// testdata, taken from its install_keyword calls) with what vipd does
// with it, computed from the parser itself: it cannot drift. Regenerate
// with go test ./config -run TestKeywordStatusDoc -update-keywords.
func TestKeywordStatusDoc(t *testing.T) {
	b, err := os.ReadFile("testdata/keepalived-2.2.7-keywords.txt")
	if err != nil {
		t.Fatal(err)
	}
	parsed := map[string]bool{}
	for _, k := range parserKeywords(t) {
		parsed[k] = true
	}
	// Keywords vipd reads in places the dispatch scan does not see.
	for _, k := range []string{"include", "global_defs", "vrrp_instance", "virtual_server", "virtual_server_group", "real_server", "sorry_server", "url",
		CheckTCP, CheckHTTP, CheckSSL, CheckMisc, CheckDNS, CheckSMTP, CheckUDP, CheckPing, CheckFile} {
		parsed[k] = true
	}
	ignored := ignoredKeywords(t)
	var sb strings.Builder
	sb.WriteString("# keepalived's keywords in vipd\n\n")
	sb.WriteString("Every keyword keepalived 2.2.7's parser knows (its `install_keyword` calls), with what vipd does with it. ")
	sb.WriteString("This page is generated from vipd's parser by `go test ./config -run TestKeywordStatusDoc -update-keywords`, and that test fails when the page and the parser disagree. ")
	sb.WriteString("A keyword name can mean different things in different blocks; docs/config.md has the details.\n\n")
	counts := map[string]int{}
	var rows []string
	for _, line := range strings.Split(string(b), "\n") {
		k := strings.TrimSpace(line)
		if k == "" || strings.HasPrefix(k, "#") {
			continue
		}
		s := keywordStatus(k, parsed, ignored)
		counts[strings.SplitN(s, " ", 2)[0]]++
		rows = append(rows, fmt.Sprintf("| `%s` | %s |", k, s))
	}
	fmt.Fprintf(&sb, "In all: %d implemented, %d ignored (%d of them fail `vipd -t`), %d unknown.\n\n",
		counts["implemented"], counts["ignored"]+counts["**ignored**"], counts["**ignored**"], counts["unknown"])
	sb.WriteString("| keyword | in vipd |\n|---|---|\n")
	sb.WriteString(strings.Join(rows, "\n") + "\n")
	const path = "../docs/keywords.md"
	if *updateKeywords {
		if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./config -run TestKeywordStatusDoc -update-keywords)", err)
	}
	if string(doc) != sb.String() {
		t.Errorf("docs/keywords.md is out of date with the parser: run go test ./config -run TestKeywordStatusDoc -update-keywords")
	}
}
