package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes the parser panic, that it returns
// either a Config or errors (never both, never neither), and that every
// error and warning carries a position.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(fixtureDir, "*.conf"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(instanceSrc("    track_script {\n chk weight -2 reverse\n }\n    unicast_peer { 10.0.0.2 min_ttl 1 }\n")))
	f.Add([]byte("include x*.conf\ninclude t.conf\n}\n{\n\"unterminated\nvirtual_server_group g { 10.0.0.1-3 80 fwmark 2 }\n"))
	f.Add([]byte("arbiter { etcd { endpoints http://a:1 } gateway { 10.0.0.1 interval 1 } }\n"))
	f.Add([]byte("@a $P=1\n@^a $P=2\n$M= \\\nvrrp_script s${N} { \\\n script /bin/${_HASH} \\\n}\n~SEQx(N, 0x1, 2, 0xa) $M\n${_RANDOM 1 2} ${P}\n"))
	f.Add([]byte("SSL { key k certificate c }\nvirtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 {\n UDP_CHECK {\n connect_port 53\n payload Ab1 x\n require_reply 1X 2\n }\n" +
		" SSL_GET {\n sni_name s\n url {\n path /\n regex '\\x41\\\\d$' \"b\"\n regex_options caseless firstline\n regex_max_offset 3\n }\n }\n }\n}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		files := mapFS{"x1.conf": "vrrp_script s {\n script /bin/true\n}\n", "t.conf": string(src)}
		cfg, warns, err := parse("t.conf", src, files)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("cfg=%v err=%v: want exactly one", cfg != nil, err)
		}
		for _, w := range warns {
			if w.Pos.Line < 1 || !strings.HasSuffix(w.Pos.File, ".conf") {
				t.Errorf("warning without a position: %q", w)
			}
		}
		if err != nil {
			for _, e := range err.(ErrorList) {
				if e.Pos.Line < 1 || !strings.HasSuffix(e.Pos.File, ".conf") {
					t.Errorf("error without a position: %q", e)
				}
			}
		}
	})
}
