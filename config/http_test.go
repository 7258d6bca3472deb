package config

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHTTPCheckerKeywords(t *testing.T) {
	cfg, warns := mustParse(t, `SSL {
    password pw
    ca /etc/ca.pem
    certificate /etc/lb.pem
    key /etc/lb.key
}
virtual_server 10.0.0.1 443 {
    virtualhost vs.example
    real_server 10.0.0.2 443 {
        SSL_GET {
            http_protocol 1.0c
            enable_sni
            url {
                path /
            }
        }
        SSL_GET {
            http_protocol 1.1
            sni_name sni.example
            url {
                path /
            }
        }
        HTTP_GET {
            url {
                path /
            }
        }
    }
}`)
	if len(warns) > 0 {
		t.Errorf("warnings: %q", warns)
	}
	ssl := &SSLClient{Pos: Pos{"t.conf", 1}, Password: "pw", CA: "/etc/ca.pem", Certificate: "/etc/lb.pem", Key: "/etc/lb.key"}
	type h struct {
		Proto, SNIName string
		SNI            bool
		SSL            *SSLClient
	}
	var got []h
	for _, ck := range cfg.VirtualServers[0].RealServers[0].Checkers {
		got = append(got, h{ck.HTTPProtocol, ck.SNIName, ck.SNI, ck.SSL})
	}
	want := []h{{HTTP10Close, "", true, ssl}, {HTTP11, "sni.example", true, ssl}, {HTTP10, "", false, nil}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestURLRegex: keepalived's regex keywords, its escapes
// (alloc_strvec_quoted_escaped) and the Go pattern they become.
func TestURLRegex(t *testing.T) {
	type re struct {
		Regex              string
		NoMatch, FirstLine bool
		Min, Max           int
		DollarNL           bool
	}
	tests := []struct {
		name, lines string
		want        re
	}{
		{"plain", `regex OK`, re{Regex: "OK"}},
		{"quoted with a space", `regex "status: OK"`, re{Regex: "status: OK"}},
		{"single quotes", `regex 'a\\d+'`, re{Regex: `a\d+`}},
		{"a lone backslash escapes (\\d is d)", `regex "\d+"`, re{Regex: "d+"}},
		{"escapes", `regex "\x41\101\t"`, re{Regex: "AA\t"}},
		{"options", "regex ok$\n regex_options caseless dotall multiline no_start_optimize", re{Regex: "(?ism)ok$"}},
		{"$ gets PCRE2's final newline", `regex "ok$"`, re{Regex: "ok$", DollarNL: true}},
		{"dollar_endonly", "regex ok$\n regex_options dollar_endonly", re{Regex: "ok$"}},
		{"no_match, offsets, stack, firstline", "regex OK\n regex_no_match\n regex_min_offset 3\n regex_max_offset 9\n regex_stack 1024 65536\n regex_options firstline",
			re{Regex: "OK", NoMatch: true, FirstLine: true, Min: 3, Max: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, warns := mustParse(t, "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n HTTP_GET {\n url {\n path /\n "+tt.lines+"\n }\n }\n }\n}\n")
			if len(warns) > 0 {
				t.Errorf("warnings: %q", warns)
			}
			u := cfg.VirtualServers[0].RealServers[0].Checkers[0].URLs[0]
			got := re{u.Regex, u.RegexNoMatch, u.RegexFirstLine, u.RegexMinOffset, u.RegexMaxOffset, u.RegexDollarNL}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if _, err := regexp.Compile(u.Regex); err != nil {
				t.Errorf("pattern does not compile: %v", err)
			}
		})
	}
}

func TestHTTPCheckerErrors(t *testing.T) {
	tests := []struct{ name, checker, lines, err string }{ // checker: its kind and any lines before url
		{"look-ahead", "HTTP_GET", `regex "a(?=b)"`, "t.conf:6: regex \"a(?=b)\": error parsing regexp: invalid or unsupported Perl syntax: `(?=` (Go's RE2 syntax: no back references, look-around, possessive or atomic groups, \\Z)"},
		{"extended", "HTTP_GET", "regex a\n regex_options extended", "t.conf:7: regex_options extended cannot be honoured: Go's regexp has no extended (x) mode"},
		{"unknown option", "HTTP_GET", "regex a\n regex_options fast", `t.conf:7: regex_options: unknown option "fast"`},
		{"no_match without regex", "HTTP_GET", "regex_no_match", "t.conf:6: regex_no_match without regex"},
		{"min > max", "HTTP_GET", "regex a\n regex_min_offset 5\n regex_max_offset 4", "t.conf:7: regex_min_offset 5 > regex_max_offset 4"},
		{"two words", "HTTP_GET", `regex a b`, "t.conf:6: regex: 2 words, want one (quote a pattern with spaces)"},
		{"$ and \\z", "HTTP_GET", `regex "a$|b\\z"`, `t.conf:6: regex "a$|b\\z": $ together with \z needs regex_options dollar_endonly in vipd`},
		{"sni on HTTP_GET", "HTTP_GET {\n enable_sni", "", "t.conf:4: enable_sni is for SSL_GET (HTTP_GET has no TLS)"},
		{"bad protocol", "HTTP_GET {\n http_protocol 2", "", `t.conf:4: http_protocol "2": want 1.0, 1.0C or 1.1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ck := tt.checker
			if !strings.Contains(ck, "{") {
				ck += " {"
			}
			src := "virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n " + ck + "\n url {\n path /\n " + tt.lines + "\n }\n }\n }\n}\n"
			_, _, err := parseString(t, src, nil)
			if err == nil || err.Error() != tt.err {
				t.Errorf("err = %v\nwant  %s", err, tt.err)
			}
		})
	}
}

func TestKeepalivedWords(t *testing.T) {
	for in, want := range map[string][]string{
		`a b`:         {"a", "b"},
		`"a b" 'c d'`: {"a b", "c d"},
		`x"y z"w`:     {"xy zw"},
		`\\d\.\n`:     {`\d.` + "\n"},
		`\cA\E`:       {"\x01\x1b"},
		`\x4g`:        {"\x04g"},
		``:            nil,
	} {
		got, err := keepalivedWords(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", in, diff)
		}
	}
	for _, bad := range []string{`"open`, `end\`} {
		if _, err := keepalivedWords(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
