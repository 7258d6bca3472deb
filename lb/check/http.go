package check

import (
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/vipd/vipd/config"
)

// HTTPCheck is HTTP_GET, or SSL_GET when TLS is set. Every URL must answer
// with an accepted status and, when a digest is set, a body whose MD5
// matches; both must hold.
type HTTPCheck struct {
	Addr    netip.AddrPort
	BindTo  netip.Addr
	Timeout time.Duration // connect_timeout, for the whole exchange of one URL
	TLS     bool
	URLs    []config.URL

	client *http.Client
}

var _ Prober = (*HTTPCheck)(nil)

// NewHTTPCheck returns an HTTP_GET (tls false) or SSL_GET (tls true) prober.
func NewHTTPCheck(addr netip.AddrPort, bind netip.Addr, timeout time.Duration, tlsOn bool, urls []config.URL) *HTTPCheck {
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	d := dialer(bind, timeout)
	tr := &http.Transport{
		// A fresh connection per check, as keepalived opens one per URL:
		// a kept-alive connection would hide a server that stopped
		// accepting.
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr.String())
		},
		// keepalived's SSL_GET does not verify the certificate either.
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // keepalived compatible
		TLSHandshakeTimeout: timeout,
	}
	return &HTTPCheck{
		Addr: addr, BindTo: bind, Timeout: timeout, TLS: tlsOn, URLs: urls,
		client: &http.Client{
			Transport: tr,
			Timeout:   timeout,
			// keepalived does not follow redirects; a 3xx is checked
			// against status_code like any other status.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// Probe implements Prober: the first failing URL fails the check.
func (c *HTTPCheck) Probe(ctx context.Context) Result {
	start := time.Now()
	for _, u := range c.URLs {
		if detail, ok := c.get(ctx, u); !ok {
			return fail(start, detail)
		}
	}
	return success(start, fmt.Sprintf("%d urls ok", len(c.URLs)))
}

func (c *HTTPCheck) get(ctx context.Context, u config.URL) (string, bool) {
	scheme := "http"
	if c.TLS {
		scheme = "https"
	}
	path := u.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+c.Addr.String()+path, nil)
	if err != nil {
		return fmt.Sprintf("url %q: %v", u.Path, err), false
	}
	if u.Virtualhost != "" {
		// Only the Host header: SSL_GET sends no SNI since the URL's
		// host is an IP address (keepalived needs enable_sni for it).
		req.Host = u.Virtualhost
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return errDetail(err), false
	}
	defer resp.Body.Close()
	h := md5.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		return "read body: " + errDetail(err), false
	}
	if !statusOK(u.StatusCodes, resp.StatusCode) {
		return fmt.Sprintf("status %d", resp.StatusCode), false
	}
	if u.Digest != "" && !strings.EqualFold(hex.EncodeToString(h.Sum(nil)), u.Digest) {
		return "digest mismatch", false
	}
	return "", true
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
