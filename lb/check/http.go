package check

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vipd/vipd/config"
)

// HTTPCheck is HTTP_GET, or SSL_GET when TLS is set. For every URL it
// sends keepalived's request (check_http.c request_template) on a new
// connection and reads the reply until the server closes it, as
// keepalived does: the body is what follows the headers, unframed (a
// chunked body is digested and matched with its chunk lines, as in
// keepalived). The status must be accepted and, when set, the body's MD5
// must match and the regex must (or with regex_no_match must not) be
// found; all must hold.
type HTTPCheck struct {
	Addr     netip.AddrPort
	BindTo   netip.Addr
	Timeout  time.Duration // connect_timeout, for the whole exchange of one URL
	Protocol string        // config.HTTP10 (default), HTTP10Close or HTTP11
	URLs     []config.URL

	tls     *tls.Config // nil for HTTP_GET
	sni     bool
	sniName string
	regexes []*regexp.Regexp // per URL; nil without regex
}

var _ Prober = (*HTTPCheck)(nil)

// regexBodyLimit bounds the body kept for a regex. keepalived matches
// while it streams; vipd matches the first regexBodyLimit bytes.
const regexBodyLimit = 4 << 20

// NewHTTPCheck returns the HTTP_GET or SSL_GET prober of ck towards addr.
// It loads the SSL block's certificate and key.
func NewHTTPCheck(addr netip.AddrPort, ck *config.Checker) (*HTTPCheck, error) {
	c := &HTTPCheck{Addr: addr, BindTo: ck.BindTo, Timeout: ck.ConnectTimeout, Protocol: ck.HTTPProtocol,
		URLs: ck.URLs, sni: ck.SNI, sniName: ck.SNIName}
	if c.Timeout <= 0 {
		c.Timeout = DefaultConnectTimeout
	}
	for _, u := range ck.URLs {
		var re *regexp.Regexp
		if u.Regex != "" {
			var err error
			if re, err = regexp.Compile(u.Regex); err != nil {
				return nil, fmt.Errorf("url %s regex: %w", u.Path, err)
			}
		}
		c.regexes = append(c.regexes, re)
	}
	if ck.Kind == config.CheckSSL {
		var err error
		if c.tls, err = clientTLS(ck.SSL); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// clientTLS is SSL_GET's TLS configuration. keepalived does not verify the
// server: it loads the CA file but sets no verify mode (check_ssl.c
// build_ssl_ctx), so neither does vipd.
func clientTLS(s *config.SSLClient) (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // keepalived compatible
	if s == nil {
		return cfg, nil
	}
	if s.CA != "" {
		b, err := os.ReadFile(s.CA)
		if err != nil {
			return nil, fmt.Errorf("SSL ca: %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("SSL ca %s: no PEM certificate", s.CA)
		}
	}
	if s.Certificate == "" {
		return cfg, nil
	}
	certPEM, err := os.ReadFile(s.Certificate)
	if err != nil {
		return nil, fmt.Errorf("SSL certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(s.Key)
	if err != nil {
		return nil, fmt.Errorf("SSL key: %w", err)
	}
	if keyPEM, err = decryptKey(keyPEM, s.Password); err != nil {
		return nil, fmt.Errorf("SSL key %s: %w", s.Key, err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("SSL certificate %s and key %s: %w", s.Certificate, s.Key, err)
	}
	cfg.Certificates = []tls.Certificate{pair}
	return cfg, nil
}

// decryptKey decrypts a key encrypted the legacy OpenSSL way
// ("Proc-Type: 4,ENCRYPTED") with password. Go has no PKCS#8 decryption:
// such a key is refused.
func decryptKey(keyPEM []byte, password string) ([]byte, error) {
	block, _ := pem.Decode(keyPEM)
	switch {
	case block == nil:
		return keyPEM, nil // X509KeyPair says what is wrong
	case block.Type == "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("encrypted PKCS#8 keys are not supported: convert it (openssl pkey -traditional) or decrypt it")
	case !x509.IsEncryptedPEMBlock(block): //nolint:staticcheck // the legacy format is what keepalived users have
		return keyPEM, nil
	case password == "":
		return nil, errors.New("encrypted, and the SSL block has no password")
	}
	der, err := x509.DecryptPEMBlock(block, []byte(password)) //nolint:staticcheck // as above
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: der}), nil
}

// Probe implements Prober: the first failing URL fails the check.
func (c *HTTPCheck) Probe(ctx context.Context) Result {
	start := time.Now()
	for i, u := range c.URLs {
		if detail, ok := c.get(ctx, u, c.regexes[i]); !ok {
			return fail(start, detail)
		}
	}
	return success(start, fmt.Sprintf("%d urls ok", len(c.URLs)))
}

// request is keepalived's GET (check_http.c http_request_thread).
func (c *HTTPCheck) request(u config.URL) string {
	path := u.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	minor, closeHdr := "0", ""
	switch c.Protocol {
	case config.HTTP10Close:
		closeHdr = "Connection: close\r\n"
	case config.HTTP11:
		minor, closeHdr = "1", "Connection: close\r\n"
	}
	host := u.Virtualhost
	if host == "" {
		host = c.Addr.String() // [v6]:port for IPv6, as keepalived's template
	}
	return "GET " + path + " HTTP/1." + minor + "\r\nUser-Agent: KeepAliveClient\r\n" + closeHdr + "Host: " + host + "\r\n\r\n"
}

func (c *HTTPCheck) get(ctx context.Context, u config.URL, re *regexp.Regexp) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	conn, err := dialer("tcp", c.BindTo, c.Timeout).DialContext(ctx, "tcp", c.Addr.String())
	if err != nil {
		return errDetail(err), false
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if c.tls != nil {
		cfg := c.tls.Clone()
		if c.sni {
			// check_ssl.c ssl_connect: sni_name, else the url's virtualhost
			// (which already defaults to the checker's, then the VS's).
			cfg.ServerName = c.sniName
			if cfg.ServerName == "" {
				cfg.ServerName = u.Virtualhost
			}
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return "tls: " + errDetail(err), false
		}
		conn = tc
	}
	if _, err := io.WriteString(conn, c.request(u)); err != nil {
		return errDetail(err), false
	}
	br := bufio.NewReader(conn)
	code, err := readHead(br)
	if err != nil {
		return errDetail(err), false
	}
	h := md5.New()
	var body limitedBuffer
	if re != nil {
		body.limit = regexBodyLimit
	}
	if _, err := io.Copy(io.MultiWriter(h, &body), br); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		// A TLS server may close without close_notify: the body ends
		// there, as it does for keepalived.
		return "read body: " + errDetail(err), false
	}
	if !statusOK(u.StatusCodes, code) {
		return fmt.Sprintf("status %d", code), false
	}
	if u.Digest != "" && !strings.EqualFold(hex.EncodeToString(h.Sum(nil)), u.Digest) {
		return "digest mismatch", false
	}
	if re != nil && regexMatch(re, u, body.Bytes()) == u.RegexNoMatch {
		if u.RegexNoMatch {
			return "regex matched", false
		}
		return "regex not matched", false
	}
	return "", true
}

// readHead reads the status line and the headers, up to the empty line,
// and returns the status code.
func readHead(br *bufio.Reader) (int, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("no status line: %w", err)
	}
	f := strings.Fields(line)
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/") {
		return 0, fmt.Errorf("bad status line %q", strings.TrimSpace(line))
	}
	code, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", strings.TrimSpace(line))
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return 0, fmt.Errorf("headers: %w", err)
		}
		if l == "\r\n" || l == "\n" {
			return code, nil
		}
	}
}

// regexMatch reports whether re is found in body as keepalived's
// check_regex looks: starting at regex_min_offset or later and before
// RegexMaxOffset, and before the first newline with firstline. The
// leftmost match is the earliest start, so it alone decides the limits.
// Go's regexp sees body[min:] as the whole text (^, \A and \b at min see
// no earlier byte; PCRE2 does).
func regexMatch(re *regexp.Regexp, u config.URL, body []byte) bool {
	if u.RegexMinOffset > len(body) {
		return false
	}
	subject := body[u.RegexMinOffset:]
	limit := len(subject) // the last start allowed
	if u.RegexMaxOffset > 0 {
		limit = min(limit, u.RegexMaxOffset-1-u.RegexMinOffset)
	}
	if u.RegexFirstLine {
		if i := bytes.IndexByte(subject, '\n'); i >= 0 {
			limit = min(limit, i)
		}
	}
	found := func(b []byte) bool {
		loc := re.FindIndex(b)
		return loc != nil && loc[0] <= limit
	}
	if found(subject) {
		return true
	}
	// PCRE2's $ also matches before a final newline.
	return u.RegexDollarNL && len(subject) > 0 && subject[len(subject)-1] == '\n' && found(subject[:len(subject)-1])
}

// limitedBuffer keeps the first limit bytes written to it and drops the
// rest.
type limitedBuffer struct {
	bytes.Buffer
	limit int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// statusOK reports whether code is in one of the ranges; no ranges means
// keepalived's default 200-299.
func statusOK(ranges []config.CodeRange, code int) bool {
	if len(ranges) == 0 {
		return code >= 200 && code <= 299
	}
	for _, r := range ranges {
		if code >= r.Min && code <= r.Max {
			return true
		}
	}
	return false
}
