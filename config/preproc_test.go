package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// expand runs the lexer over src ("t.conf") with config id "main" and a
// fixed environment and random source, and returns each line it would
// parse as "file:line: words" plus the errors.
func expand(t *testing.T, src string, files mapFS) (lines, errs []string) {
	t.Helper()
	if files == nil {
		files = mapFS{}
	}
	l := &lexer{fs: files}
	l.setupPreproc("main", func(k string) string { return map[string]string{"HOME": "/root"}[k] },
		func(lo, hi uint64) uint64 { return hi })
	l.pre.maxLines = 1000
	l.run("t.conf", []byte(src))
	var cur []string
	for _, tok := range l.toks {
		if tok.kind == tokEOL {
			lines = append(lines, tok.pos.String()+": "+strings.Join(cur, " "))
			cur = nil
			continue
		}
		cur = append(cur, tok.text)
	}
	for _, e := range l.errs {
		errs = append(errs, e.Error())
	}
	return lines, errs
}

func TestPreprocessor(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		files mapFS
		want  []string
		errs  []string
	}{
		// Conditional configuration.
		{name: "matching id keeps the line", src: "@main priority 240\n@backup priority 200\n",
			want: []string{"t.conf:1: priority 240"}},
		{name: "negated id", src: "@^main 1.2.3.4\n@^backup 1.2.3.5\n\t@^backup2\t1.2.3.6\n",
			want: []string{"t.conf:2: 1.2.3.5", "t.conf:3: 1.2.3.6"}},
		{name: "an id alone is dropped even when it matches", src: "@main\n@main   ! only a comment\npriority 1\n",
			want: []string{"t.conf:3: priority 1"}},
		{name: "id is compared whole", src: "@mai x\n@main2 y\n@MAIN z\n", want: nil},
		{name: "@ inside a line is a word", src: "notify_master /bin/x @main\n",
			want: []string{"t.conf:1: notify_master /bin/x @main"}},

		// Definitions and substitution.
		{name: "definition and both reference forms",
			src:  "$PRIO=240\n$IF=eth0 ! comment\npriority $PRIO\ninterface ${IF}.10\nx $PRIO,$PRIO)\n",
			want: []string{"t.conf:3: priority 240", "t.conf:4: interface eth0.10", "t.conf:5: x 240,240)"}},
		{name: "a bare reference needs a blank, ',', ')' or the end after it",
			src:  "$A=1\nx $A/24 $AB ${A}/24\n",
			want: []string{"t.conf:2: x $A/24 $AB 1/24"}},
		{name: "undefined names and other dollars stay",
			src:  "$A=1\nscript \"kill -0 $(cat /run/x.pid) $UNDEF ${UNDEF} $1\"\n",
			want: []string{"t.conf:2: script kill -0 $(cat /run/x.pid) $UNDEF ${UNDEF} $1"}},
		{name: "substitution is recursive and done at use",
			src: "$ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}\n$ADDRESS_BASE_SUB=0\n${ADDRESS_BASE}.100/32\n" +
				"$ADDRESS_BASE_SUB=10\n${ADDRESS_BASE}.100/32\n",
			want: []string{"t.conf:3: 10.2.0.100/32", "t.conf:5: 10.2.10.100/32"}},
		{name: "a blank before = is not a definition", src: "$A =1\n", want: []string{"t.conf:1: $A =1"}},
		{name: "a name starting with a digit is not a definition", src: "$1A=1\n", want: []string{"t.conf:1: $1A=1"}},
		{name: "empty value", src: "$E=\nx${E}y\n", want: []string{"t.conf:2: xy"}},
		{name: "a line that expands to nothing is skipped", src: "$E=\n$E\nz\n", want: []string{"t.conf:3: z"}},
		{name: "conditional definition", src: "@main $P=240\n@backup $P=200\npriority $P\n",
			want: []string{"t.conf:3: priority 240"}},
		{name: "a substituted @ is not a condition (keepalived's read_line)", src: "$IF_MAIN=@main\n$IF_MAIN priority 240\n",
			want: []string{"t.conf:2: @main priority 240"}},
		{name: "definitions persist across includes", src: "$P=7\ninclude a.conf\nx $P $Q\n",
			files: mapFS{"a.conf": "y $P\n$Q=8\n"},
			want:  []string{"a.conf:1: y 7", "t.conf:3: x 7 8"}},
		{name: "include named by a definition", src: "$F=a.conf\ninclude $F\n",
			files: mapFS{"a.conf": "y\n"}, want: []string{"a.conf:1: y"}},
		{name: "${NAME } leaves its brace as keepalived does", src: "$A=1\nx ${A }\n",
			want: []string{"t.conf:2: x 1 }"}},

		// Predefined definitions.
		{name: "predefined", src: "a ${_INSTANCE} \"${_HASH}x ${_BANG}y\" ${_ENV HOME} ${_ENV NOPE}. ${_RANDOM} ${_RANDOM 5 9}\n",
			want: []string{"t.conf:1: a main #x !y /root . 32767 9"}},
		{name: "predefined can be overridden", src: "$_INSTANCE=x\na $_INSTANCE\n", want: []string{"t.conf:2: a x"}},
		{name: "_RANDOM wants numbers", src: "a ${_RANDOM x}\n", want: []string{"t.conf:1: a $ { _RANDOM x }"},
			errs: []string{"t.conf:1: definition _RANDOM requires numeric parameters only"}},
		{name: "_RANDOM min above max", src: "a ${_RANDOM 9 5}\n", want: []string{"t.conf:1: a 9"},
			errs: []string{"t.conf:1: ${_RANDOM}: min 9 exceeds max 5, using 9"}},
		{name: "_ENV wants one parameter", src: "a ${_ENV A B}\n", want: []string{"t.conf:1: a $ { _ENV A B }"},
			errs: []string{"t.conf:1: definition _ENV requires between 1 and 1 parameters, 2 specified"}},
		{name: "a user definition takes no parameters", src: "$A=1\na ${A x}\n", want: []string{"t.conf:2: a $ { A x }"}},

		// Multiline definitions.
		{name: "multiline definition",
			src: "$INSTANCE= \\\nvrrp_instance VI_${NUM} { \\\n   interface eth0.${NUM} \\\n" +
				"   @main priority 130 \\\n   @backup priority 120 \\\n}\n\n$NUM=0\n$INSTANCE\n$NUM=1\n$INSTANCE\n",
			want: []string{
				"t.conf:9: vrrp_instance VI_0 {", "t.conf:9: interface eth0.0", "t.conf:9: priority 130", "t.conf:9: }",
				"t.conf:11: vrrp_instance VI_1 {", "t.conf:11: interface eth0.1", "t.conf:11: priority 130", "t.conf:11: }",
			}},
		{name: "multiline value on the first line, comments skipped, an empty line ends it",
			src:  "$M=a \\\n! comment\nb \\\n\nc\n$M\n",
			want: []string{"t.conf:5: c", "t.conf:6: a", "t.conf:6: b"}},
		{name: "nested multiline definitions with definitions inside",
			src: "$RS= \\\nreal_server 10.0.${VS}.${RS_NUM} 80 { \\\n}\n" +
				"$VS_DEF= \\\nvirtual_server 10.0.${VS}.4 80 { \\\n$RS_NUM=1 \\\n$RS \\\n$RS_NUM=2 \\\n$RS \\\n}\n" +
				"$VS=0\n$VS_DEF\n",
			want: []string{"t.conf:12: virtual_server 10.0.0.4 80 {",
				"t.conf:12: real_server 10.0.0.1 80 {", "t.conf:12: }",
				"t.conf:12: real_server 10.0.0.2 80 {", "t.conf:12: }",
				"t.conf:12: }"}},
		{name: "a multiline definition is substituted only at the end of a line",
			src:  "$M=a \\\nb\n$M x\nx $M\n",
			want: []string{"t.conf:3: $M x", "t.conf:4: x a", "t.conf:4: b"}},
		{name: "a one-line continuation is an ordinary definition", src: "$M= \\\nvalue\nx $M y\n",
			want: []string{"t.conf:3: x value y"}},

		// Sequences.
		{name: "~SEQ three arguments", src: "~SEQ(SUBNET, 0, 1, 3) ip_address 10.0.${SUBNET}.1\n",
			want: []string{"t.conf:1: ip_address 10.0.0.1", "t.conf:1: ip_address 10.0.1.1",
				"t.conf:1: ip_address 10.0.2.1", "t.conf:1: ip_address 10.0.3.1"}},
		{name: "~SEQ two arguments counts down", src: "~SEQ(N, 3, 1) x$N\n",
			want: []string{"t.conf:1: x3", "t.conf:1: x2", "t.conf:1: x1"}},
		{name: "~SEQ one argument", src: "~SEQ(N,2) a$N\n~SEQ(N2,-2) b$N2\n~SEQ(N3,0) c$N3\n",
			want: []string{"t.conf:1: a1", "t.conf:1: a2", "t.conf:2: b-1", "t.conf:2: b-2", "t.conf:3: c1", "t.conf:3: c0"}},
		{name: "~SEQx and C numbers", src: "~SEQx(S, 0x90, 0x10, 0xc0) fe80::20:${S}:1\n~SEQ(O, 010, 011) o$O\n",
			want: []string{"t.conf:1: fe80::20:90:1", "t.conf:1: fe80::20:a0:1", "t.conf:1: fe80::20:b0:1",
				"t.conf:1: fe80::20:c0:1", "t.conf:2: o8", "t.conf:2: o9"}},
		{name: "nested ~SEQ, the inner one fastest", src: "~SEQ(A,1,2) ~SEQ(B,5,6) ${A}.${B}\n",
			want: []string{"t.conf:1: 1.5", "t.conf:1: 1.6", "t.conf:1: 2.5", "t.conf:1: 2.6"}},
		{name: "~SEQ parameters may be definitions", src: "$MAX=2\n~SEQ(N, 1, $MAX) n$N\n",
			want: []string{"t.conf:2: n1", "t.conf:2: n2"}},
		{name: "~SEQ over a multiline definition", src: "$B= \\\nb${N} { \\\n}\n~SEQ(N,1,2) $B\nend\n",
			want: []string{"t.conf:4: b1 {", "t.conf:4: }", "t.conf:4: b2 {", "t.conf:4: }", "t.conf:5: end"}},
		{name: "~SEQ inside a multiline definition", src: "$B= \\\na \\\n~SEQ(N,1,2) v$N \\\nz\n$B\n",
			want: []string{"t.conf:5: a", "t.conf:5: v1", "t.conf:5: v2", "t.conf:5: z"}},
		{name: "conditional ~SEQ", src: "@backup ~SEQ(N,1,2) no$N\n@main ~SEQ(N,1,2) yes$N\n",
			want: []string{"t.conf:2: yes1", "t.conf:2: yes2"}},
		{name: "the ~SEQ variable stays defined", src: "~SEQ(N,1,2) x\ny $N\n",
			want: []string{"t.conf:1: x", "t.conf:1: x", "t.conf:2: y 2"}},

		// ~SEQ errors: the line is dropped.
		{name: "~SEQ without (", src: "~SEQ N,1,2 x\n", errs: []string{`t.conf:1: invalid ~SEQ specification "~SEQ N,1,2 x"`}},
		{name: "~SEQ without numbers", src: "~SEQ(N) x\n", errs: []string{`t.conf:1: invalid ~SEQ definition "~SEQ(N) x"`}},
		{name: "~SEQ without )", src: "~SEQ(N, 1, 2 x\n", errs: []string{`t.conf:1: ~SEQ missing terminating ')' "~SEQ(N, 1, 2 x"`}},
		{name: "~SEQ with a word for a number", src: "~SEQ(N, 1, two) x\n", errs: []string{`t.conf:1: invalid ~SEQ definition "~SEQ(N, 1, two) x"`}},
		{name: "~SEQ with four numbers", src: "~SEQ(N, 1, 1, 2, 3) x\n", errs: []string{`t.conf:1: invalid ~SEQ definition "~SEQ(N, 1, 1, 2, 3) x"`}},
		{name: "~SEQ stepping away", src: "~SEQ(N, 1, -1, 3) x\n", errs: []string{`t.conf:1: invalid ~SEQ values "~SEQ(N, 1, -1, 3) x"`}},
		{name: "~SEQ step 0", src: "~SEQ(N, 1, 0, 3) x\n", errs: []string{`t.conf:1: invalid ~SEQ values "~SEQ(N, 1, 0, 3) x"`}},
		{name: "~SEQx negative", src: "~SEQx(N, -1, 1, 3) x\n", errs: []string{`t.conf:1: ~SEQx is only valid for positive numbers "~SEQx(N, -1, 1, 3) x"`}},
		{name: "~SEQ numbers too long", src: "~SEQ(N, 1, 1, " + strings.Repeat("0", 70) + "3) x\n",
			errs: []string{`t.conf:1: ~SEQ parameter strings too long "~SEQ(N, 1, 1, ` + strings.Repeat("0", 70) + `3) x"`}},
		{name: "~LST is refused", src: "~LST(A, 1, 2) x$A\n", errs: []string{"t.conf:1: ~LST is not supported by vipd: write the lines out or use ~SEQ"}},
		{name: "other ~ lines are kept as they are", src: "$A=1\n~x $A\n", want: []string{"t.conf:2: ~x $A"}},

		// Runaway expansions end with an error.
		{name: "a definition that refers to itself", src: "$A=$A\nx $A\n",
			errs: []string{"t.conf:2: substituting $A does not end: a definition refers to itself"}},
		{name: "a definition that grows", src: "$A=xx${A}\ny $A\n",
			errs: []string{"t.conf:2: substituting $A makes the line longer than 1023 characters"}},
		{name: "a multiline definition that nests itself", src: "$M=a \\\n$M \\\nb\n$M\n",
			want: []string{"t.conf:4: a"},
			errs: []string{"t.conf:4: multiline definitions nested more than 100 deep"}},
		{name: "a multiline definition that repeats itself", src: "$M=a \\\n$M\n$M\n",
			want: []string{"t.conf:3: a"},
			errs: []string{"t.conf:3: the configuration expands to more than 1000 lines"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, errs := expand(t, tt.src, tt.files)
			if strings.HasPrefix(tt.name, "a multiline definition that") {
				lines = lines[:1]
			}
			if diff := cmp.Diff(tt.want, lines); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.errs, errs); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPreprocessorPositionsAcrossIncludes(t *testing.T) {
	files := mapFS{
		"defs.conf": "$M= \\\nvrrp_script s${N} { \\\n  script /bin/s${N} \\\n}\n",
		"use.conf":  "\n~SEQ(N,1,2) $M\nbogus ${N}\n",
	}
	lines, errs := expand(t, "include defs.conf\n\ninclude use.conf\nafter\n", files)
	want := []string{
		"use.conf:2: vrrp_script s1 {", "use.conf:2: script /bin/s1", "use.conf:2: }",
		"use.conf:2: vrrp_script s2 {", "use.conf:2: script /bin/s2", "use.conf:2: }",
		"use.conf:3: bogus 2", "t.conf:4: after",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	if len(errs) > 0 {
		t.Errorf("errors: %q", errs)
	}
}

func TestConfigID(t *testing.T) {
	src := "@a $P=200\n@b $P=100\n" + instanceSrc("    priority $P\n@^a    nopreempt\n")
	for _, tt := range []struct {
		id       string
		prio     int
		preempts bool
	}{{"a", 200, true}, {"b", 100, false}, {"c", 100, false}} {
		t.Run(tt.id, func(t *testing.T) {
			cfg, _, err := parse("t.conf", []byte(src), mapFS{}, WithConfigID(tt.id))
			if tt.id == "c" {
				// $P is undefined: "priority $P" is an error at its line.
				want := []string{`t.conf:9: priority: invalid number "$P"`}
				if diff := cmp.Diff(want, errStrings(err)); diff != "" {
					t.Errorf("errors (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			in := cfg.Instance("VI_1")
			if in.Priority != tt.prio || in.Nopreempt == tt.preempts {
				t.Errorf("priority %d nopreempt %v, want %d %v", in.Priority, in.Nopreempt, tt.prio, !tt.preempts)
			}
		})
	}
	t.Run("default is the host name's first label", func(t *testing.T) {
		h, err := os.Hostname()
		if err != nil {
			t.Skip("no host name:", err)
		}
		want, _, _ := strings.Cut(h, ".")
		if got := DefaultConfigID(); got != want {
			t.Errorf("DefaultConfigID() = %q, want %q", got, want)
		}
		cfg, _, err := parse("t.conf", []byte("@"+want+" global_defs {\n@"+want+" router_id ${_INSTANCE}\n}\n"), mapFS{})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Global.RouterID != want {
			t.Errorf("router_id = %q, want %q", cfg.Global.RouterID, want)
		}
	})
	t.Run("_PWD is the directory of the file being read", func(t *testing.T) {
		dir := t.TempDir()
		sub := filepath.Join(dir, "sub")
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, "s.conf"), []byte("vrrp_script s {\n script ${_PWD}/check.sh\n}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		main := filepath.Join(dir, "keepalived.conf")
		if err := os.WriteFile(main, []byte("include sub/s.conf\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, _, err := Load(main, WithConfigID("x"))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cfg.Script("s").Script, filepath.Join(sub, "check.sh"); got != want {
			t.Errorf("script = %q, want %q", got, want)
		}
	})
}
