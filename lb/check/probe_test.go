package check

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vipd/vipd/config"
	"golang.org/x/net/dns/dnsmessage"
)

var loopback = netip.MustParseAddr("127.0.0.1")

type probeOut struct {
	OK     bool
	Detail string
	Weight int
}

func probe(t *testing.T, ck *config.Checker, rs netip.AddrPort) probeOut {
	t.Helper()
	p, err := NewProber(ck, rs, nil)
	if err != nil {
		t.Fatalf("NewProber: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := p.Probe(ctx)
	t.Logf("%s %v: %+v", ck.Kind, rs, r)
	return probeOut{r.OK, r.Detail, r.Weight}
}

func listenTCP(t testing.TB) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	return ap
}

func TestTCPCheck(t *testing.T) {
	open, closed := listenTCP(t), closedPort(t)
	tests := []struct {
		name string
		ck   config.Checker
		rs   netip.AddrPort
		want probeOut
	}{
		{"listening", config.Checker{Kind: config.CheckTCP}, open, probeOut{true, "connected", -1}},
		{"refused", config.Checker{Kind: config.CheckTCP}, closed, probeOut{false, "connect refused", -1}},
		{"connect_port overrides the RS port", config.Checker{Kind: config.CheckTCP, ConnectPort: open.Port()}, closed, probeOut{true, "connected", -1}},
		{"connect_ip and bindto", config.Checker{Kind: config.CheckTCP, ConnectIP: loopback, BindTo: loopback, ConnectTimeout: time.Second},
			netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), open.Port()), probeOut{true, "connected", -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, probe(t, &tt.ck, tt.rs)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

const body = "hello from the real server\n"

func bodyMD5() string {
	s := md5.Sum([]byte(body))
	return hex.EncodeToString(s[:])
}

func handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(body)) })
	mux.HandleFunc("/err", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(body))
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusMovedPermanently) })
	mux.HandleFunc("/vhost", func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "www.example.org" {
			w.WriteHeader(http.StatusNotFound)
		}
	})
	return mux
}

func TestHTTPCheck(t *testing.T) {
	plain := httptest.NewServer(handler())
	t.Cleanup(plain.Close)
	secure := httptest.NewTLSServer(handler())
	t.Cleanup(secure.Close)
	addrOf := func(s *httptest.Server) netip.AddrPort {
		return s.Listener.Addr().(*net.TCPAddr).AddrPort()
	}
	u := func(path, digest string, codes ...config.CodeRange) config.URL {
		return config.URL{Path: path, Digest: digest, StatusCodes: codes}
	}
	tests := []struct {
		name string
		urls []config.URL
		want probeOut
	}{
		{"200 with default codes", []config.URL{u("/ok", "")}, probeOut{true, "1 urls ok", -1}},
		{"500 with default codes", []config.URL{u("/err", "")}, probeOut{false, "status 500", -1}},
		{"500 accepted by status_code", []config.URL{u("/err", "", config.CodeRange{Min: 500, Max: 500})}, probeOut{true, "1 urls ok", -1}},
		{"digest matches", []config.URL{u("/ok", bodyMD5())}, probeOut{true, "1 urls ok", -1}},
		{"digest mismatch", []config.URL{u("/ok", "00000000000000000000000000000000")}, probeOut{false, "digest mismatch", -1}},
		{"digest matches but status does not", []config.URL{u("/err", bodyMD5())}, probeOut{false, "status 500", -1}},
		{"redirect not followed", []config.URL{u("/moved", "")}, probeOut{false, "status 301", -1}},
		{"redirect accepted", []config.URL{u("/moved", "", config.CodeRange{Min: 301, Max: 302})}, probeOut{true, "1 urls ok", -1}},
		{"virtualhost sent", []config.URL{{Path: "/vhost", Virtualhost: "www.example.org"}}, probeOut{true, "1 urls ok", -1}},
		{"no virtualhost", []config.URL{u("/vhost", "")}, probeOut{false, "status 404", -1}},
		{"every url must pass", []config.URL{u("/ok", ""), u("/err", "")}, probeOut{false, "status 500", -1}},
	}
	for _, kind := range []string{config.CheckHTTP, config.CheckSSL} {
		srv := plain
		if kind == config.CheckSSL {
			srv = secure
		}
		for _, tt := range tests {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				ck := &config.Checker{Kind: kind, ConnectTimeout: 5 * time.Second, URLs: tt.urls}
				if diff := cmp.Diff(tt.want, probe(t, ck, addrOf(srv))); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
	}
	t.Run("refused", func(t *testing.T) {
		ck := &config.Checker{Kind: config.CheckHTTP, URLs: []config.URL{u("/ok", "")}}
		if diff := cmp.Diff(probeOut{false, "connect refused", -1}, probe(t, ck, closedPort(t))); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("HTTP_GET against TLS fails", func(t *testing.T) {
		ck := &config.Checker{Kind: config.CheckHTTP, URLs: []config.URL{u("/ok", "")}}
		if got := probe(t, ck, addrOf(secure)); got.OK {
			t.Errorf("plain HTTP to a TLS server succeeded: %+v", got)
		}
	})
}

// serveDNS answers on a loopback UDP port: SOA for ".", A for
// "www.example.", NXDOMAIN for "nx.example." and an empty NOERROR for
// anything else. It ignores "drop.example." so the client times out.
func serveDNS(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var q dnsmessage.Message
			if err := q.Unpack(buf[:n]); err != nil || len(q.Questions) != 1 {
				continue
			}
			qq := q.Questions[0]
			resp := dnsmessage.Message{
				Header:    dnsmessage.Header{ID: q.ID, Response: true, RecursionDesired: q.RecursionDesired},
				Questions: q.Questions,
			}
			rh := dnsmessage.ResourceHeader{Name: qq.Name, Class: dnsmessage.ClassINET, TTL: 60}
			switch name := qq.Name.String(); {
			case name == "drop.example.":
				continue
			case name == "nx.example.":
				resp.RCode = dnsmessage.RCodeNameError
			case name == "." && qq.Type == dnsmessage.TypeSOA:
				ns := dnsmessage.MustNewName("a.root.example.")
				resp.Answers = append(resp.Answers, dnsmessage.Resource{Header: rh, Body: &dnsmessage.SOAResource{NS: ns, MBox: ns, Serial: 1}})
			case name == "www.example." && qq.Type == dnsmessage.TypeA:
				resp.Answers = append(resp.Answers, dnsmessage.Resource{Header: rh, Body: &dnsmessage.AResource{A: [4]byte{192, 0, 2, 7}}})
			}
			out, err := resp.Pack()
			if err != nil {
				continue
			}
			_, _ = pc.WriteTo(out, from)
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}

func TestDNSCheck(t *testing.T) {
	srv := serveDNS(t)
	tests := []struct {
		name, typ, qname string
		want             probeOut
	}{
		{"defaults SOA .", "", "", probeOut{true, "answer", -1}},
		{"A record", "A", "www.example", probeOut{true, "answer", -1}},
		{"nxdomain", "A", "nx.example.", probeOut{false, "rcode NameError", -1}},
		{"empty answer", "AAAA", "www.example.", probeOut{false, "no answer", -1}},
		{"no reply", "A", "drop.example.", probeOut{false, "timed_out", -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ck := &config.Checker{Kind: config.CheckDNS, ConnectTimeout: 300 * time.Millisecond, DNSType: tt.typ, DNSName: tt.qname}
			if diff := cmp.Diff(tt.want, probe(t, ck, srv)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := NewDNSCheck(srv, netip.Addr{}, 0, "BOGUS", "."); err == nil {
		t.Error("NewDNSCheck accepted type BOGUS")
	}
}

func TestNewProberErrors(t *testing.T) {
	rs := netip.AddrPortFrom(loopback, 80)
	tests := []struct {
		name string
		ck   config.Checker
		is   error
	}{
		{"unknown kind", config.Checker{Kind: "BFD_CHECK"}, ErrUnsupported},
		{"FILE_CHECK without a path", config.Checker{Kind: config.CheckFile, FileName: "tf"}, nil},
		{"HTTP_GET without url", config.Checker{Kind: config.CheckHTTP}, nil},
		{"MISC_CHECK without runner", config.Checker{Kind: config.CheckMisc, MiscPath: "/bin/true"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewProber(&tt.ck, rs, nil)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want %v", err, tt.is)
			}
		})
	}
}

func netipRS() netip.AddrPort { return netip.AddrPortFrom(loopback, 80) }
