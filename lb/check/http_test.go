package check

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vipd/vipd/config"
)

// TestHTTPRegex: keepalived's regex, regex_no_match and offsets
// (check_http.c check_regex), on the Go patterns the config parser makes.
func TestHTTPRegex(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("status: OK\nload: 17\n"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().(*net.TCPAddr).AddrPort()
	tests := []struct {
		name string
		u    config.URL
		want probeOut
	}{
		{"found", config.URL{Regex: "load: [0-9]+"}, probeOut{true, "1 urls ok", -1}},
		{"not found", config.URL{Regex: "status: FAIL"}, probeOut{false, "regex not matched", -1}},
		{"regex_no_match: found fails", config.URL{Regex: "status: OK", RegexNoMatch: true}, probeOut{false, "regex matched", -1}},
		{"regex_no_match: absent passes", config.URL{Regex: "status: FAIL", RegexNoMatch: true}, probeOut{true, "1 urls ok", -1}},
		{"caseless flag", config.URL{Regex: "(?i)STATUS: ok"}, probeOut{true, "1 urls ok", -1}},
		{"min offset past the match", config.URL{Regex: "status", RegexMinOffset: 1}, probeOut{false, "regex not matched", -1}},
		{"max offset 10 (stored 11): load at 11 is too late", config.URL{Regex: "load", RegexMaxOffset: 11}, probeOut{false, "regex not matched", -1}},
		{"max offset 11 (stored 12): load at 11 starts in time", config.URL{Regex: "load", RegexMaxOffset: 12}, probeOut{true, "1 urls ok", -1}},
		{"firstline", config.URL{Regex: "load", RegexFirstLine: true}, probeOut{false, "regex not matched", -1}},
		{"Go's $ is the end of the body", config.URL{Regex: "17$"}, probeOut{false, "regex not matched", -1}},
		{"PCRE2's $ also before a final newline", config.URL{Regex: "17$", RegexDollarNL: true}, probeOut{true, "1 urls ok", -1}},
		{"multiline $", config.URL{Regex: "(?m)OK$"}, probeOut{true, "1 urls ok", -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.u
			u.Path = "/page"
			ck := &config.Checker{Kind: config.CheckHTTP, URLs: []config.URL{u}}
			if diff := cmp.Diff(tt.want, probe(t, ck, addr)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestHTTPProtocol: the request line and Connection header of each
// http_protocol (check_http.c request_template).
func TestHTTPProtocol(t *testing.T) {
	type req struct{ Proto, Connection, Host, UA string }
	got := make(chan req, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- req{r.Proto, r.Header.Get("Connection"), r.Host, r.UserAgent()}
	}))
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().(*net.TCPAddr).AddrPort()
	for _, tt := range []struct {
		proto string
		want  req
	}{
		{config.HTTP10, req{"HTTP/1.0", "", addr.String(), "KeepAliveClient"}},
		{config.HTTP10Close, req{"HTTP/1.0", "close", addr.String(), "KeepAliveClient"}},
		{config.HTTP11, req{"HTTP/1.1", "close", addr.String(), "KeepAliveClient"}},
	} {
		t.Run(tt.proto, func(t *testing.T) {
			ck := &config.Checker{Kind: config.CheckHTTP, HTTPProtocol: tt.proto, URLs: []config.URL{{Path: "/"}}}
			if r := probe(t, ck, addr); !r.OK {
				t.Fatalf("probe: %+v", r)
			}
			if diff := cmp.Diff(tt.want, <-got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

// tlsServer records the SNI and client certificate of each handshake.
type tlsSeen struct {
	mu         sync.Mutex
	sni        string
	clientCert string // subject CN, "" without one
}

func newTLSServer(t *testing.T) (netip.AddrPort, *tlsSeen) {
	t.Helper()
	seen := &tlsSeen{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.mu.Lock()
		defer seen.mu.Unlock()
		seen.clientCert = ""
		if len(r.TLS.PeerCertificates) > 0 {
			seen.clientCert = r.TLS.PeerCertificates[0].Subject.CommonName
		}
	}))
	srv.TLS = &tls.Config{
		ClientAuth: tls.RequestClientCert,
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			seen.mu.Lock()
			seen.sni = h.ServerName
			seen.mu.Unlock()
			return nil, nil
		},
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().(*net.TCPAddr).AddrPort(), seen
}

func TestSSLGetSNI(t *testing.T) {
	addr, seen := newTLSServer(t)
	tests := []struct {
		name    string
		sni     bool
		sniName string
		vhost   string
		want    string
	}{
		{"no SNI by default", false, "", "www.example.org", ""},
		{"enable_sni sends the virtualhost", true, "", "www.example.org", "www.example.org"},
		{"sni_name wins", true, "sni.example.org", "www.example.org", "sni.example.org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ck := &config.Checker{Kind: config.CheckSSL, SNI: tt.sni, SNIName: tt.sniName,
				URLs: []config.URL{{Path: "/", Virtualhost: tt.vhost}}}
			if r := probe(t, ck, addr); !r.OK {
				t.Fatalf("probe: %+v", r)
			}
			seen.mu.Lock()
			defer seen.mu.Unlock()
			if seen.sni != tt.want {
				t.Errorf("SNI %q, want %q", seen.sni, tt.want)
			}
		})
	}
}

// writeClientCert writes a self-signed client certificate and its key
// (encrypted the legacy OpenSSL way when password is set).
func writeClientCert(t *testing.T, dir, password string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lb1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	kblock := &pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}
	if password != "" {
		kblock, err = x509.EncryptPEMBlock(rand.Reader, kblock.Type, kder, []byte(password), x509.PEMCipherAES256) //nolint:staticcheck // the legacy format under test
		if err != nil {
			t.Fatal(err)
		}
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(kblock), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestSSLGetClientCertificate(t *testing.T) {
	addr, seen := newTLSServer(t)
	plain, enc := t.TempDir(), t.TempDir()
	cert, key := writeClientCert(t, plain, "")
	ecert, ekey := writeClientCert(t, enc, "s3cret")
	tests := []struct {
		name    string
		ssl     *config.SSLClient
		want    string // client CN the server saw
		wantErr bool
	}{
		{"no SSL block", nil, "", false},
		{"certificate and key", &config.SSLClient{Certificate: cert, Key: key}, "lb1", false},
		{"encrypted key with password", &config.SSLClient{Certificate: ecert, Key: ekey, Password: "s3cret"}, "lb1", false},
		{"encrypted key, wrong password", &config.SSLClient{Certificate: ecert, Key: ekey, Password: "nope"}, "", true},
		{"encrypted key, no password", &config.SSLClient{Certificate: ecert, Key: ekey}, "", true},
		{"missing key file", &config.SSLClient{Certificate: cert, Key: filepath.Join(plain, "none.pem")}, "", true},
		{"ca is loaded, not used to verify (as keepalived)", &config.SSLClient{CA: cert}, "", false},
		{"ca not PEM", &config.SSLClient{CA: key}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ck := &config.Checker{Kind: config.CheckSSL, SSL: tt.ssl, URLs: []config.URL{{Path: "/"}}}
			p, err := NewProber(ck, addr, nil)
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r := p.Probe(t.Context()); !r.OK {
				t.Fatalf("probe: %+v", r)
			}
			seen.mu.Lock()
			defer seen.mu.Unlock()
			if seen.clientCert != tt.want {
				t.Errorf("client certificate %q, want %q", seen.clientCert, tt.want)
			}
		})
	}
}
