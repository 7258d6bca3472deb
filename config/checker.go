package config

import (
	"strconv"
	"strings"
	"time"
)

// needsPort are the checkers that connect to a port.
var needsPort = map[string]bool{CheckTCP: true, CheckHTTP: true, CheckSSL: true, CheckDNS: true}

func (p *parser) checker(vs *VirtualServer, rs *RealServer, n *node, h inherit) *Checker {
	ck := &Checker{Pos: n.pos, Kind: n.key(), ConnectIP: rs.Addr, ConnectPort: rs.Port}
	if !n.hasBlock {
		p.errorf(n.pos, "%s needs a { } block", n.key())
		return nil
	}
	var checkerVhost string
	var urls []*node
	for _, c := range n.block {
		p.mark(ck, c)
		if p.inheritKeyword(&h, c) {
			continue
		}
		switch c.key() {
		case "connect_ip":
			ck.ConnectIP, _ = p.addrArg(c)
		case "connect_port":
			if v, ok := p.needArg(c); ok {
				ck.ConnectPort, _ = p.portVal(c, v)
			}
		case "bindto":
			ck.BindTo, _ = p.addrArg(c)
		case "url":
			urls = append(urls, c)
		case "virtualhost":
			checkerVhost, _ = p.needArg(c)
		case "misc_path":
			ck.MiscPath = p.strArg(c)
		case "misc_timeout":
			ck.MiscTimeout, _ = p.secArg(c, time.Millisecond, maxDelayLoop, time.Millisecond)
		case "misc_dynamic":
			ck.MiscDynamic = true
		case "user":
			p.unsupported(c)
		case "type":
			ck.DNSType, _ = p.needArg(c)
			ck.DNSType = strings.ToUpper(ck.DNSType)
		case "name":
			ck.DNSName, _ = p.needArg(c)
		case "track_file":
			ck.FileName, _ = p.needArg(c)
		case "weight":
			ck.FileWeight, _ = p.intArg(c, -254, 254)
		default:
			if unsupportedLB[c.key()] || c.key() == "regex" || c.key() == "regex_no_match" {
				p.unsupported(c)
				continue
			}
			p.unknown(c, ck.Kind)
		}
	}
	p.checkerDefaults(ck, h)
	if checkerVhost == "" {
		checkerVhost = vs.Virtualhost
	}
	for _, u := range urls {
		if url, ok := p.url(u, checkerVhost); ok {
			ck.URLs = append(ck.URLs, url)
		}
	}
	if ck.ConnectPort == 0 && needsPort[ck.Kind] {
		// keepalived copies the real server's address, as written, into
		// the checker when it parses it (check_api.c queue_checker): a
		// port-less server's checker would connect to port 0 and never
		// succeed.
		p.errorf(n.pos, "%s: real_server %s has no port: set connect_port", ck.Kind, rs.Addr)
	}
	switch ck.Kind {
	case CheckHTTP, CheckSSL:
		if len(urls) == 0 {
			p.errorf(n.pos, "%s needs at least one url block", ck.Kind)
		}
	case CheckMisc:
		if ck.MiscPath == "" {
			p.errorf(n.pos, "MISC_CHECK needs misc_path")
		}
	case CheckFile:
		if ck.FileName == "" {
			p.errorf(n.pos, "FILE_CHECK needs track_file")
		}
	}
	return ck
}

// checkerDefaults fills timing values: the checker's own, else inherited,
// else keepalived's per-kind default (check_api.c, check_http.c, check_dns.c).
func (p *parser) checkerDefaults(ck *Checker, h inherit) {
	ck.DelayLoop = *h.delayLoop
	ck.ConnectTimeout = 5 * time.Second
	if h.connectTimeout != nil {
		ck.ConnectTimeout = *h.connectTimeout
	}
	switch ck.Kind {
	case CheckMisc:
		ck.Retry = 0
	case CheckDNS:
		ck.Retry = 3
	default:
		ck.Retry = 1
	}
	if h.retry != nil {
		ck.Retry = *h.retry
	}
	switch ck.Kind {
	case CheckHTTP, CheckSSL:
		ck.DelayBeforeRetry = 3 * time.Second
	case CheckDNS:
		ck.DelayBeforeRetry = ck.DelayLoop
	default:
		ck.DelayBeforeRetry = time.Second
	}
	if h.delayBeforeRetry != nil {
		ck.DelayBeforeRetry = *h.delayBeforeRetry
	}
	ck.Warmup = ck.DelayLoop
	if h.warmup != nil {
		ck.Warmup = *h.warmup
	}
	if ck.MiscTimeout == 0 && ck.Kind == CheckMisc {
		ck.MiscTimeout = ck.DelayLoop
	}
	if ck.Kind == CheckDNS {
		if ck.DNSType == "" {
			ck.DNSType = "SOA"
		}
		if ck.DNSName == "" {
			ck.DNSName = "."
		}
	}
	if ck.Kind == CheckFile && !p.isSet(ck, "weight") {
		ck.FileWeight = 1
	}
}

func (p *parser) url(n *node, vhost string) (URL, bool) {
	u := URL{Pos: n.pos, Virtualhost: vhost}
	body, ok := p.body(n)
	if !ok {
		return u, false
	}
	for _, c := range body {
		switch c.key() {
		case "path":
			u.Path, _ = p.needArg(c)
		case "digest":
			u.Digest, _ = p.needArg(c)
		case "status_code":
			for _, s := range c.args[1:] {
				r, ok := statusRange(s)
				if !ok {
					p.errorf(c.pos, "status_code: invalid code or range %q", s)
					continue
				}
				u.StatusCodes = append(u.StatusCodes, r)
			}
		case "virtualhost":
			u.Virtualhost, _ = p.needArg(c)
		case "regex", "regex_no_match", "regex_options", "regex_stack", "regex_min_offset", "regex_max_offset":
			p.unsupported(c)
		default:
			p.unknown(c, "url")
		}
	}
	if u.Path == "" {
		p.errorf(n.pos, "url needs a path")
		return u, false
	}
	if len(u.StatusCodes) == 0 {
		u.StatusCodes = []CodeRange{{200, 299}}
	}
	return u, true
}

func statusRange(s string) (CodeRange, bool) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.Atoi(lo)
	if err != nil || a < 100 || a > 599 {
		return CodeRange{}, false
	}
	if !isRange {
		return CodeRange{a, a}, true
	}
	b, err := strconv.Atoi(hi)
	if err != nil || b < a || b > 599 {
		return CodeRange{}, false
	}
	return CodeRange{a, b}, true
}
