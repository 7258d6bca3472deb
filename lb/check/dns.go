package check

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsTypes are the DNS_CHECK types keepalived accepts (check_dns.c).
var dnsTypes = map[string]dnsmessage.Type{
	"A": dnsmessage.TypeA, "NS": dnsmessage.TypeNS, "CNAME": dnsmessage.TypeCNAME,
	"SOA": dnsmessage.TypeSOA, "MX": dnsmessage.TypeMX, "TXT": dnsmessage.TypeTXT,
	"AAAA": dnsmessage.TypeAAAA,
}

// DNSCheck is DNS_CHECK: one UDP query for Name/Type to the server; it
// succeeds when a reply with our ID, RCODE NOERROR and at least one answer
// record arrives within the timeout. net.Resolver is not used because it
// cannot ask for SOA, keepalived's default type.
type DNSCheck struct {
	Addr    netip.AddrPort
	BindTo  netip.Addr
	Timeout time.Duration
	query   dnsmessage.Question
}

var _ Prober = (*DNSCheck)(nil)

// NewDNSCheck returns a DNS_CHECK prober; typ "" means SOA and name ""
// means the root, keepalived's defaults.
func NewDNSCheck(addr netip.AddrPort, bind netip.Addr, timeout time.Duration, typ, name string) (*DNSCheck, error) {
	if typ == "" {
		typ = "SOA"
	}
	t, ok := dnsTypes[strings.ToUpper(typ)]
	if !ok {
		return nil, fmt.Errorf("DNS_CHECK type %q: unsupported", typ)
	}
	if name == "" {
		name = "."
	}
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	n, err := dnsmessage.NewName(name)
	if err != nil {
		return nil, fmt.Errorf("DNS_CHECK name %q: %w", name, err)
	}
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	return &DNSCheck{Addr: addr, BindTo: bind, Timeout: timeout,
		query: dnsmessage.Question{Name: n, Type: t, Class: dnsmessage.ClassINET}}, nil
}

// Probe implements Prober.
func (c *DNSCheck) Probe(ctx context.Context) Result {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	conn, err := dialer("udp", c.BindTo, c.Timeout).DialContext(ctx, "udp", c.Addr.String())
	if err != nil {
		return fail(start, errDetail(err))
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	id := uint16(rand.Uint32())
	msg := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{c.query},
	}
	pkt, err := msg.Pack()
	if err != nil {
		return fail(start, fmt.Sprintf("pack query: %v", err))
	}
	if _, err := conn.Write(pkt); err != nil {
		return fail(start, errDetail(err))
	}
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return fail(start, errDetail(err))
		}
		detail, mine := dnsReply(buf[:n], id)
		if !mine {
			continue // a stray or late datagram: keep waiting for ours
		}
		if detail != "" {
			return fail(start, detail)
		}
		return success(start, "answer")
	}
}

// dnsReply checks a reply to query id. mine is false for datagrams that are
// not a reply to it; detail is empty when the reply is a success.
func dnsReply(b []byte, id uint16) (detail string, mine bool) {
	var p dnsmessage.Parser
	h, err := p.Start(b)
	if err != nil || h.ID != id || !h.Response {
		return "", false
	}
	if h.RCode != dnsmessage.RCodeSuccess {
		return "rcode " + strings.TrimPrefix(h.RCode.String(), "RCode"), true
	}
	if err := p.SkipAllQuestions(); err != nil {
		return "bad reply: " + err.Error(), true
	}
	if _, err := p.AnswerHeader(); err != nil {
		if errors.Is(err, dnsmessage.ErrSectionDone) {
			return "no answer", true
		}
		return "bad reply: " + err.Error(), true
	}
	return "", true
}
