package nft

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"

	"github.com/vipd/vipd/internal/lab"
)

// TestEndToEnd balances HTTP from the lab client through a director (n4)
// to real servers n1..n3 and counts who answered.
func TestEndToEnd(t *testing.T) {
	newNS(t) // the same skips (root, nft)
	l := lab.ForTest(t, lab.Options{Nodes: 4})
	dir := l.Nodes[3]
	vipAddr := l.Addr4(200)
	if _, err := dir.Exec(t.Context(), "ip", "addr", "add", vipAddr.String()+"/24", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	if _, err := dir.Exec(t.Context(), "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
		t.Fatal(err)
	}
	p := planeIn(t, dir.NS)
	t.Cleanup(func() { p.Remove() })

	var backends []Backend
	for _, h := range l.Nodes[:3] {
		var ln net.Listener
		if err := h.Do(func() (err error) { ln, err = net.Listen("tcp", h.Addr4.String()+":8080"); return err }); err != nil {
			t.Fatal(err)
		}
		name := h.Name
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) })}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		backends = append(backends, Backend{Addr: h.Addr4, Port: 8080, Weight: 1})
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (conn net.Conn, err error) {
			err = l.Client.Do(func() (err error) { conn, err = (&net.Dialer{}).DialContext(ctx, network, addr); return err })
			return conn, err
		}}}
	count := func(t *testing.T, n int) map[string]int {
		t.Helper()
		got := map[string]int{}
		for range n {
			resp, err := client.Get(fmt.Sprintf("http://%s/", netip.AddrPortFrom(vipAddr, 80)))
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got[string(b)]++
		}
		return got
	}
	svc := func(algo string, ws ...int) Service {
		s := Service{Name: "web", VIP: vipAddr, Port: 80, Algo: algo, SNAT: true}
		for i, w := range ws {
			b := backends[i]
			b.Weight = w
			s.Backends = append(s.Backends, b)
		}
		return s
	}
	tests := []struct {
		name string
		s    Service
		want map[string]int // minimum count per backend; others must get 0
	}{
		{"rr", svc("rr", 1, 1, 1), map[string]int{"n1": 25, "n2": 25, "n3": 25}},
		{"wrr 1:2:3", svc("wrr", 1, 2, 3), map[string]int{"n1": 12, "n2": 25, "n3": 37}},
		{"random", svc("random", 1, 1, 1), map[string]int{"n1": 25, "n2": 25, "n3": 25}},
		{"n2 removed", svc("rr", 1), map[string]int{"n1": 1}},
		{"n2 weight 0", svc("rr", 1, 0, 1), map[string]int{"n1": 25, "n3": 25}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "n2 removed" {
				tc.s.Backends = []Backend{backends[0], backends[2]}
				tc.want = map[string]int{"n1": 25, "n3": 25}
			}
			if err := p.Apply(State{Services: []Service{tc.s}}); err != nil {
				t.Fatal(err)
			}
			got := count(t, 300)
			t.Logf("spread: %v", got)
			for name, n := range got {
				if got[name] < tc.want[name] || tc.want[name] == 0 {
					t.Errorf("%s got %d requests, want at least %d (and 0 if not listed)", name, n, tc.want[name])
				}
			}
			for name, min := range tc.want {
				if got[name] < min {
					t.Errorf("%s got %d requests, want at least %d", name, got[name], min)
				}
			}
		})
	}
	t.Run("persistence", func(t *testing.T) {
		s := svc("rr", 1, 1, 1)
		s.Persistence = 60e9
		if err := p.Apply(State{Services: []Service{s}}); err != nil {
			t.Fatal(err)
		}
		got := count(t, 30)
		if err := p.Apply(State{Services: []Service{s}}); err != nil { // carried over
			t.Fatal(err)
		}
		for k, v := range count(t, 30) {
			got[k] += v
		}
		if len(got) != 1 {
			t.Errorf("one client reached %v, want a single backend", got)
		}
	})
	t.Run("remove", func(t *testing.T) {
		if err := p.Remove(); err != nil {
			t.Fatal(err)
		}
		if out, err := p.Dump(); err == nil {
			t.Errorf("table left after Remove:\n%s", out)
		}
	})
}
