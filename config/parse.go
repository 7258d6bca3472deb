package config

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Load reads the configuration at path, following includes.
func Load(path string, opts ...Option) (*Config, []Warning, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, src, opts...)
}

// Parse parses src as the file name; includes are resolved relative to
// name's directory and read from disk. On error the Config is nil and the
// error is an ErrorList holding every problem found.
func Parse(name string, src []byte, opts ...Option) (*Config, []Warning, error) {
	return parse(name, src, osFS{}, opts...)
}

// Option changes how a configuration is read.
type Option func(*readOptions)

type readOptions struct {
	configID    string
	configIDSet bool
	getenv      func(string) string
	random      func(lo, hi uint64) uint64
}

// WithConfigID sets the config id that "@ID" conditional lines and
// ${_INSTANCE} compare with (keepalived -i/--config-id). Without it, the
// id is DefaultConfigID().
func WithConfigID(id string) Option {
	return func(o *readOptions) { o.configID, o.configIDSet = id, true }
}

// DefaultConfigID is keepalived's default config id: the host name up to
// its first dot, or "" when it cannot be read.
func DefaultConfigID() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	id, _, _ := strings.Cut(h, ".")
	return id
}

func parse(name string, src []byte, fs fileSystem, opts ...Option) (*Config, []Warning, error) {
	o := readOptions{getenv: os.Getenv, random: func(lo, hi uint64) uint64 {
		if hi-lo == math.MaxUint64 {
			return rand.Uint64()
		}
		return lo + rand.Uint64N(hi-lo+1)
	}}
	for _, opt := range opts {
		opt(&o)
	}
	if !o.configIDSet {
		o.configID = DefaultConfigID()
	}
	lx := &lexer{fs: fs}
	lx.setupPreproc(o.configID, o.getenv, o.random)
	lx.run(name, src)
	b := &builder{toks: lx.toks}
	nodes := b.list(nil)
	p := &parser{cfg: &Config{}, seen: map[any]map[string]Pos{}}
	p.errs = append(lx.errs, b.errs...)
	p.warns = lx.warns
	p.top(nodes)
	if len(p.errs) > 0 {
		return nil, p.warns, p.errs
	}
	return p.cfg, p.warns, nil
}

// parser fills the model from the statement tree.
type parser struct {
	cfg   *Config
	errs  ErrorList
	warns []Warning
	// seen records, per model object, where each keyword was written: it
	// tells defaults from explicit values and places validation messages.
	seen map[any]map[string]Pos
}

func (p *parser) errorf(pos Pos, format string, args ...any) {
	p.errs = append(p.errs, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) warnf(pos Pos, format string, args ...any) {
	p.warns = append(p.warns, Warning{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) unknown(n *node, where string) {
	if keepalivedKeywords[n.key()] {
		// A keepalived feature vipd does not have (or keepalived's keyword
		// in a block where it means nothing): never silently dropped.
		w := Warning{Pos: n.pos, Msg: fmt.Sprintf("%q in %s: a keepalived keyword vipd does not implement here; ignored", n.key(), where), Kind: WarnIgnored}
		if !harmless[n.key()] {
			w.Msg += " (keepalived would change where VIPs or traffic go with it: vipd -t fails)"
			w.Kind = WarnIgnoredAffecting
		}
		p.warns = append(p.warns, w)
		return
	}
	p.warns = append(p.warns, Warning{Pos: n.pos, Msg: fmt.Sprintf("unknown keyword %q in %s", n.key(), where), Kind: WarnUnknown})
}

// unsupported ignores a keepalived keyword vipd does not implement, and
// says whether keepalived would move VIPs or traffic with it (harmless
// lists those that cannot).
func (p *parser) unsupported(n *node) {
	w := Warning{Pos: n.pos, Msg: fmt.Sprintf("%q is not supported by vipd; ignored", n.key()), Kind: WarnIgnored}
	if !harmless[n.key()] {
		w.Msg += " (keepalived would change where VIPs or traffic go with it: vipd -t fails)"
		w.Kind = WarnIgnoredAffecting
	}
	p.warns = append(p.warns, w)
}

func (p *parser) mark(obj any, n *node) {
	m := p.seen[obj]
	if m == nil {
		m = map[string]Pos{}
		p.seen[obj] = m
	}
	m[n.key()] = n.pos
}

func (p *parser) isSet(obj any, kw string) bool {
	_, ok := p.seen[obj][kw]
	return ok
}

// posOf is where kw was written in obj, or def.
func (p *parser) posOf(obj any, kw string, def Pos) Pos {
	if pos, ok := p.seen[obj][kw]; ok {
		return pos
	}
	return def
}

// body returns the block of a statement that must have one.
func (p *parser) body(n *node) ([]*node, bool) {
	if !n.hasBlock {
		p.errorf(n.pos, "%s needs a { } block", n.key())
		return nil, false
	}
	return n.block, true
}

// name returns the name argument of a named block such as vrrp_instance.
func (p *parser) name(n *node) (string, bool) {
	if len(n.args) < 2 {
		p.errorf(n.pos, "%s needs a name", n.key())
		return "", false
	}
	return n.args[1], true
}

func (p *parser) needArg(n *node) (string, bool) {
	if len(n.args) < 2 {
		p.errorf(n.pos, "%s needs a value", n.key())
		return "", false
	}
	return n.args[1], true
}

func (p *parser) intArg(n *node, lo, hi int) (int, bool) {
	s, ok := p.needArg(n)
	if !ok {
		return 0, false
	}
	return p.intVal(n, s, lo, hi)
}

func (p *parser) intVal(n *node, s string, lo, hi int) (int, bool) {
	v, err := strconv.Atoi(s)
	if err != nil {
		p.errorf(n.pos, "%s: invalid number %q", n.key(), s)
		return 0, false
	}
	if v < lo || v > hi {
		p.errorf(n.pos, "%s %d out of range %d..%d", n.key(), v, lo, hi)
		return 0, false
	}
	return v, true
}

// secArg reads a number of seconds (fractions allowed) rounded to res.
func (p *parser) secArg(n *node, lo, hi, res time.Duration) (time.Duration, bool) {
	s, ok := p.needArg(n)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		p.errorf(n.pos, "%s: invalid number of seconds %q", n.key(), s)
		return 0, false
	}
	if f < lo.Seconds() || f > hi.Seconds() {
		p.errorf(n.pos, "%s %s out of range %s..%s", n.key(), s, fmtSec(lo), fmtSec(hi))
		return 0, false
	}
	d := time.Duration(math.Round(f*float64(time.Second)/float64(res))) * res
	return min(max(d, lo), hi), true
}

func fmtSec(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// boolArg reads a flag keyword: bare means on, or an explicit on/off.
func (p *parser) boolArg(n *node) bool {
	switch strings.ToLower(n.arg(1)) {
	case "", "on", "true", "yes", "1":
		return true
	case "off", "false", "no", "0":
		return false
	}
	p.errorf(n.pos, "%s: invalid value %q, want on or off", n.key(), n.arg(1))
	return false
}

func (p *parser) addrVal(n *node, s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		p.errorf(n.pos, "%s: invalid IP address %q", n.key(), s)
		return netip.Addr{}, false
	}
	return a, true
}

func (p *parser) addrArg(n *node) (netip.Addr, bool) {
	s, ok := p.needArg(n)
	if !ok {
		return netip.Addr{}, false
	}
	return p.addrVal(n, s)
}

func (p *parser) portVal(n *node, s string) (uint16, bool) {
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		p.errorf(n.pos, "%s: invalid port %q", n.key(), s)
		return 0, false
	}
	return uint16(v), true
}

// strArg reads a command or string: the rest of the line, so unquoted
// "notify_master /bin/x arg" and quoted "\"/bin/x arg\"" mean the same.
func (p *parser) strArg(n *node) string {
	if len(n.args) < 2 {
		p.errorf(n.pos, "%s needs a value", n.key())
	}
	return n.rest()
}

// listItems flattens a list block ("group { A B }" or one entry a line).
func listItems(n *node) []string {
	var out []string
	for _, c := range n.block {
		out = append(out, c.args...)
	}
	return out
}

// unsupportedTop are keepalived blocks vipd does not implement; they are
// skipped with a warning rather than reported as unknown.
var unsupportedTop = map[string]bool{
	"bfd_instance": true, "garp_group": true,
	"linkbeat_use_polling": true, "net_namespace": true, "net_namespace_ipvs": true,
	"instance": true, "use_pid_dir": true,
}

func (p *parser) top(nodes []*node) {
	g := &p.cfg.Global
	for _, n := range nodes {
		if n.key() == "global_defs" {
			if g.Pos == (Pos{}) {
				g.Pos = n.pos
			}
			if body, ok := p.body(n); ok {
				p.globalDefs(body)
			}
		}
	}
	p.globalDefaults()
	for _, n := range nodes {
		switch n.key() {
		case "global_defs":
		case "vrrp_script":
			p.script(n)
		case "vrrp_track_file", "track_file": // track_file: keepalived's current name
			p.trackFile(n)
		case "vrrp_track_process":
			p.trackProcess(n)
		case "static_ipaddress":
			p.cfg.StaticAddresses = append(p.cfg.StaticAddresses, p.vips(n)...)
		case "static_routes":
			p.cfg.StaticRoutes = append(p.cfg.StaticRoutes, p.routes(n)...)
		case "static_rules":
			p.cfg.StaticRules = append(p.cfg.StaticRules, p.rules(n)...)
		case "vrrp_sync_group":
			p.syncGroup(n)
		case "vrrp_instance":
			p.instance(n)
		case "virtual_server_group":
			p.vsGroup(n)
		case "virtual_server":
			p.virtualServer(n)
		case "arbiter":
			p.arbiter(n)
		case "SSL":
			p.sslBlock(n)
		default:
			if unsupportedTop[n.key()] {
				p.unsupported(n)
				continue
			}
			p.warnf(n.pos, "unknown keyword %q at top level", n.key())
		}
	}
	p.validate()
}
