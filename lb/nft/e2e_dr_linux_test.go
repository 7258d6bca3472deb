package nft

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vipd/vipd/internal/lab"
)

// TestEndToEndDR balances HTTP from the lab client through a DR director
// (n4, the VIP on eth0, no IP forwarding) to real servers n1..n3 that hold
// the VIP on lo and answer the client directly.
func TestEndToEndDR(t *testing.T) {
	newNS(t) // the same skips (root, nft)
	ctx := t.Context()
	l := lab.ForTest(t, lab.Options{Nodes: 4})
	dir := l.Nodes[3]
	vipAddr := l.Addr4(200)
	if _, err := dir.Exec(ctx, "ip", "addr", "add", vipAddr.String()+"/32", "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	if out, err := dir.Exec(ctx, "sysctl", "-n", "net.ipv4.ip_forward"); err != nil || strings.TrimSpace(string(out)) != "0" {
		t.Fatalf("director ip_forward = %q, %v; want 0 (DR needs no forwarding)", out, err)
	}

	var backends []Backend
	for _, h := range l.Nodes[:3] {
		// Real servers never answer ARP for the VIP (it is on lo) and never
		// use it as the source of their own ARP requests.
		for _, kv := range []string{"net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.eth0.arp_ignore=1",
			"net.ipv4.conf.all.arp_announce=2", "net.ipv4.conf.eth0.arp_announce=2"} {
			if _, err := h.Exec(ctx, "sysctl", "-qw", kv); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := h.Exec(ctx, "ip", "addr", "add", vipAddr.String()+"/32", "dev", "lo"); err != nil {
			t.Fatal(err)
		}
		var ln net.Listener
		if err := h.Do(func() (err error) { ln, err = net.Listen("tcp", vipAddr.String()+":80"); return err }); err != nil {
			t.Fatal(err)
		}
		name := h.Name
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s", name, r.RemoteAddr)
		})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		backends = append(backends, Backend{Addr: h.Addr4, Port: 80, Weight: 1})
	}

	p := planeIn(t, dir.NS)
	t.Cleanup(func() { p.Remove() })

	transport := func(keepAlive bool) *http.Transport {
		return &http.Transport{DisableKeepAlives: !keepAlive, MaxConnsPerHost: 1,
			DialContext: func(ctx context.Context, network, addr string) (conn net.Conn, err error) {
				err = l.Client.Do(func() (err error) { conn, err = (&net.Dialer{}).DialContext(ctx, network, addr); return err })
				return conn, err
			}}
	}
	// get returns who answered and the client address it saw.
	get := func(t *testing.T, client *http.Client) (server, from string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+vipAddr.String()+"/", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("response: %v", err)
		}
		server, from, _ = strings.Cut(string(b), " ")
		return server, from
	}
	fresh := &http.Client{Transport: transport(false)} // a new connection, so a new source port, each time
	count := func(t *testing.T, n int) map[string]int {
		t.Helper()
		got := map[string]int{}
		for range n {
			s, _ := get(t, fresh)
			got[s]++
		}
		return got
	}
	svc := func(algo string, ws ...int) Service {
		s := Service{Name: "web", VIP: vipAddr, Port: 80, Algo: algo, Kind: "DR", Dev: "eth0"}
		for i, w := range ws {
			b := backends[i]
			b.Weight = w
			s.Backends = append(s.Backends, b)
		}
		return s
	}
	removed := svc("wrr", 1, 1, 1)
	removed.Backends = []Backend{backends[0], backends[2]}
	sorry := svc("wlc")
	sorry.Sorry = &Backend{Addr: backends[2].Addr, Port: 80, Weight: 1}
	const n = 300
	tests := []struct {
		name string
		s    Service
		want map[string]int // expected count per real server (±50%); others must get 0
	}{
		{"wlc 1:1:1", svc("wlc", 1, 1, 1), map[string]int{"n1": 100, "n2": 100, "n3": 100}},
		{"wrr 1:2:3", svc("wrr", 1, 2, 3), map[string]int{"n1": 50, "n2": 100, "n3": 150}},
		{"n2 weight 0", svc("wlc", 1, 0, 1), map[string]int{"n1": 150, "n3": 150}},
		{"n2 removed", removed, map[string]int{"n1": 150, "n3": 150}},
		{"sorry server", sorry, map[string]int{"n3": 300}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			if err := p.Apply(State{Services: []Service{tc.s}}); err != nil {
				t.Fatal(err)
			}
			t.Logf("Apply took %v", time.Since(start))
			start = time.Now()
			got := count(t, n)
			t.Logf("spread: %v (%d requests in %v)", got, n, time.Since(start))
			for name, k := range got {
				if tc.want[name] == 0 {
					t.Errorf("%s got %d requests, want none", name, k)
				}
			}
			for name, want := range tc.want {
				if got[name] < want/2 || got[name] > want*3/2 {
					t.Errorf("%s got %d requests, want %d±50%%", name, got[name], want)
				}
			}
		})
	}
	t.Run("keep-alive stays on one server", func(t *testing.T) {
		if err := p.Apply(State{Services: []Service{svc("wrr", 1, 1, 1)}}); err != nil {
			t.Fatal(err)
		}
		client := &http.Client{Transport: transport(true)}
		defer client.CloseIdleConnections()
		servers, froms := map[string]int{}, map[string]int{}
		for range 20 {
			s, from := get(t, client)
			servers[s]++
			froms[from]++
		}
		if len(servers) != 1 || len(froms) != 1 {
			t.Errorf("one connection reached servers %v from %v, want one server and one client port", servers, froms)
		}
	})
	t.Run("persistence hashes the client address", func(t *testing.T) {
		s := svc("wlc", 1, 1, 1)
		s.Persistence = time.Minute
		if err := p.Apply(State{Services: []Service{s}}); err != nil {
			t.Fatal(err)
		}
		if got := count(t, 30); len(got) != 1 {
			t.Errorf("one client reached %v, want a single real server", got)
		}
	})
	t.Run("unresolvable real server", func(t *testing.T) {
		s := svc("wlc", 1, 1)
		s.Backends = append(s.Backends, Backend{Addr: l.Addr4(201), Port: 80, Weight: 1}) // nobody there
		err := p.Apply(State{Services: []Service{s}})
		if !errors.Is(err, ErrUnresolved) || !strings.Contains(err.Error(), l.Addr4(201).String()) {
			t.Fatalf("Apply = %v, want ErrUnresolved naming %v", err, l.Addr4(201))
		}
		got := count(t, 100)
		t.Logf("spread: %v", got)
		if got["n1"] == 0 || got["n2"] == 0 || len(got) != 2 {
			t.Errorf("spread %v, want n1 and n2 only", got)
		}
	})
	t.Run("director as its own real server", func(t *testing.T) {
		var ln net.Listener
		if err := dir.Do(func() (err error) { ln, err = net.Listen("tcp", vipAddr.String()+":80"); return err }); err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s", dir.Name, r.RemoteAddr)
		})}
		go srv.Serve(ln)
		defer srv.Close()
		s := svc("wlc", 1)
		s.Backends = append(s.Backends, Backend{Addr: dir.Addr4, Port: 80, Weight: 1})
		if err := p.Apply(State{Services: []Service{s}}); err != nil {
			t.Fatal(err)
		}
		got := count(t, 100)
		t.Logf("spread: %v", got)
		if got["n1"] < 12 || got["n4"] < 12 || len(got) != 2 {
			t.Errorf("spread %v, want n1 and n4 only, at least 12 each", got)
		}
	})
	t.Run("remove", func(t *testing.T) {
		if err := p.Remove(); err != nil {
			t.Fatal(err)
		}
		for _, tb := range []*nftables.Table{p.table, p.dr} {
			if _, err := p.conn.ListTableOfFamily(tb.Name, tb.Family); err == nil {
				t.Errorf("table %s left after Remove", tb.Name)
			}
		}
	})
}
