package config

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// needsPort are the checkers that connect to a port.
var needsPort = map[string]bool{CheckTCP: true, CheckHTTP: true, CheckSSL: true, CheckDNS: true, CheckSMTP: true, CheckUDP: true}

// kindKeywords are the keywords of one checker kind only.
var kindKeywords = map[string]string{
	"payload": CheckUDP, "require_reply": CheckUDP, "min_reply_length": CheckUDP, "max_reply_length": CheckUDP,
	"helo_name": CheckSMTP, "host": CheckSMTP,
}

// checker parses one checker block. An SMTP_CHECK with keepalived's
// deprecated host blocks becomes one checker per host (check_smtp.c).
func (p *parser) checker(vs *VirtualServer, rs *RealServer, n *node, h inherit) []*Checker {
	ck := &Checker{Pos: n.pos, Kind: n.key(), ConnectIP: rs.Addr, ConnectPort: rs.Port}
	if !n.hasBlock {
		p.errorf(n.pos, "%s needs a { } block", n.key())
		return nil
	}
	var checkerVhost string
	var urls, hosts []*node
	if ck.Kind == CheckUDP {
		ck.UDPMaxReply = 255 // check_udp.c udp_check_handler
	}
	for _, c := range n.block {
		p.mark(ck, c)
		if p.inheritKeyword(&h, c) {
			continue
		}
		if (ck.Kind == CheckHTTP || ck.Kind == CheckSSL) && p.httpKeyword(ck, c) {
			continue
		}
		if k, ok := kindKeywords[c.key()]; ok && k != ck.Kind {
			p.unknown(c, ck.Kind)
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
			// check_file.c: ±IPVS_WEIGHT_LIMIT, then reverse|noreverse.
			ck.FileWeight, _ = p.intArg(c, -math.MaxInt32, math.MaxInt32)
			switch c.arg(2) {
			case "", "noreverse":
			case "reverse":
				ck.FileReverse = true
			default:
				p.errorf(c.pos, "weight: %q: want reverse or noreverse", c.arg(2))
			}
		case "payload":
			ck.UDPPayload, _ = p.hexArg(c, false)
		case "require_reply":
			ck.UDPRequireReply = true
			if len(c.args) > 1 {
				ck.UDPReply, ck.UDPReplyMask = p.hexArg(c, true)
			}
		case "min_reply_length":
			ck.UDPMinReply, _ = p.intArg(c, 0, 65535)
		case "max_reply_length":
			ck.UDPMaxReply, _ = p.intArg(c, 0, 65535)
		case "helo_name":
			ck.SMTPHelo = p.strArg(c)
		case "host":
			hosts = append(hosts, c)
		default:
			if unsupportedLB[c.key()] {
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
		if ck.HTTPProtocol == "" {
			ck.HTTPProtocol = HTTP10
		}
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
	case CheckUDP:
		if ck.UDPMinReply > ck.UDPMaxReply {
			// keepalived only says it "will always fail" (check_udp.c).
			p.errorf(p.posOf(ck, "min_reply_length", n.pos), "UDP_CHECK min_reply_length %d > max_reply_length %d: the check would always fail", ck.UDPMinReply, ck.UDPMaxReply)
		}
	case CheckSMTP:
		if ck.SMTPHelo == "" {
			ck.SMTPHelo = DefaultSMTPHelo
		}
	}
	if len(hosts) > 0 {
		return p.smtpHosts(ck, rs, n, hosts)
	}
	return []*Checker{ck}
}

// smtpHosts applies keepalived's deprecated SMTP_CHECK host blocks: each
// host is a checker of its own with the block's settings and the host's
// connection options (connect_ip and connect_port default to the real
// server's). When the block sets no connection option itself, the first
// host replaces it instead of adding to it (check_smtp.c
// smtp_check_end_handler).
func (p *parser) smtpHosts(ck *Checker, rs *RealServer, n *node, hosts []*node) []*Checker {
	p.warnf(hosts[0].pos, "the SMTP_CHECK host block is deprecated (keepalived): each host is a checker of its own; define more SMTP_CHECKs instead")
	var out []*Checker
	for _, hn := range hosts {
		body, ok := p.body(hn)
		if !ok {
			continue
		}
		hc := *ck
		hc.Pos, hc.ConnectIP, hc.ConnectPort = hn.pos, rs.Addr, rs.Port
		for _, c := range body {
			switch c.key() {
			case "connect_ip":
				hc.ConnectIP, _ = p.addrArg(c)
			case "connect_port":
				if v, ok := p.needArg(c); ok {
					hc.ConnectPort, _ = p.portVal(c, v)
				}
			case "bindto":
				hc.BindTo, _ = p.addrArg(c)
			case "connect_timeout":
				hc.ConnectTimeout, _ = p.secArg(c, 0, maxDelayLoop, time.Millisecond)
			default:
				p.unknown(c, "SMTP_CHECK host")
			}
		}
		if hc.ConnectPort == 0 {
			p.errorf(hn.pos, "SMTP_CHECK host: real_server %s has no port: set connect_port", rs.Addr)
		}
		out = append(out, &hc)
	}
	if p.isSet(ck, "connect_ip") || p.isSet(ck, "connect_port") || p.isSet(ck, "bindto") || p.isSet(ck, "connect_timeout") {
		return append([]*Checker{ck}, out...)
	}
	return out
}

// hexArg reads keepalived's free-form hex string (lib/parser.c
// read_hex_str): the arguments joined by spaces; each space-separated
// run is read two digits an octet, a lone last digit being an octet of
// its own ("Ab12f 3" is AB 12 0F 03). With wild, X or x is a nibble
// that matches anything: mask has its bits set.
func (p *parser) hexArg(n *node, wild bool) (data, mask []byte) {
	if len(n.args) < 2 {
		p.errorf(n.pos, "%s needs a hex string", n.key())
		return nil, nil
	}
	data, mask, ok := parseHex(strings.Join(n.args[1:], " "), wild)
	if !ok {
		p.errorf(n.pos, "%s: invalid hex string %q", n.key(), strings.Join(n.args[1:], " "))
		return nil, nil
	}
	return data, mask
}

func parseHex(s string, wild bool) (data, mask []byte, ok bool) {
	nibble := func(c byte) (v, m byte, ok bool) {
		switch {
		case c >= '0' && c <= '9':
			return c - '0', 0, true
		case c >= 'a' && c <= 'f':
			return c - 'a' + 10, 0, true
		case c >= 'A' && c <= 'F':
			return c - 'A' + 10, 0, true
		case wild && (c == 'x' || c == 'X'):
			return 0, 0x0f, true
		}
		return 0, 0, false
	}
	masked := false
	for _, run := range strings.Fields(s) {
		for i := 0; i < len(run); i += 2 {
			v, m, ok := nibble(run[i])
			if !ok {
				return nil, nil, false
			}
			if i+1 < len(run) {
				v2, m2, ok := nibble(run[i+1])
				if !ok {
					return nil, nil, false
				}
				v, m = v<<4|v2, m<<4|m2
			}
			data, mask = append(data, v), append(mask, m)
			masked = masked || m != 0
		}
	}
	if len(data) == 0 {
		return nil, nil, false
	}
	if !masked {
		mask = nil
	}
	return data, mask, true
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
}

func (p *parser) url(n *node, vhost string) (URL, bool) {
	u := URL{Pos: n.pos, Virtualhost: vhost}
	re := urlRegex{max: -1}
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
		default:
			if !p.regexKeyword(&re, &u, c) {
				p.unknown(c, "url")
			}
		}
	}
	p.finishRegex(&re, &u)
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
