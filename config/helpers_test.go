package config

import (
	"io/fs"
	"path"
	"slices"
	"strings"
	"testing"
)

// mapFS is an in-memory fileSystem so tests and the fuzz target never read
// the disk.
type mapFS map[string]string

func (m mapFS) ReadFile(name string) ([]byte, error) {
	s, ok := m[name]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return []byte(s), nil
}

func (m mapFS) Glob(pattern string) ([]string, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, err
	}
	var out []string
	for name := range m {
		if ok, _ := path.Match(pattern, name); ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// parseString parses src as "t.conf" with extra files available to include.
func parseString(t *testing.T, src string, files mapFS) (*Config, []Warning, error) {
	t.Helper()
	if files == nil {
		files = mapFS{}
	}
	return parse("t.conf", []byte(src), files)
}

// mustParse fails the test on any error and returns the warnings as text.
func mustParse(t *testing.T, src string) (*Config, []string) {
	t.Helper()
	cfg, warns, err := parseString(t, src, nil)
	if err != nil {
		t.Fatalf("parse: unexpected error:\n%v", err)
	}
	return cfg, warnStrings(warns)
}

func warnStrings(ws []Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.String())
	}
	return out
}

func errStrings(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// instanceSrc wraps body in a vrrp_instance with the required keywords
// first, so line numbers in tests are: 1 header, 2 interface, 3 vrid, 4 VIP
// block start, 5 VIP, 6 VIP block end, 7 onward body.
func instanceSrc(body string) string {
	return "vrrp_instance VI_1 {\n" +
		"    interface eth0\n" +
		"    virtual_router_id 51\n" +
		"    virtual_ipaddress {\n" +
		"        192.168.1.100/24\n" +
		"    }\n" +
		body +
		"}\n"
}
