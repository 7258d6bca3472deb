package lb

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"testing"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/lb/dataplane"
	"github.com/vipd/vipd/lb/nft"
)

// BenchmarkRequests measures HTTP requests from the lab client through the
// VIP (director n4, nftables NAT with masquerade, rr over n1..n3) against
// the same requests sent directly to one real server, in one run, so the
// ratio is the data plane's cost. "new-conn" opens a connection per
// request (conntrack and NAT setup every time); "keepalive" reuses one.
func BenchmarkRequests(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root for the namespace lab")
	}
	l := lab.ForTest(b, lab.Options{Nodes: 4})
	dir := l.Nodes[3]
	vip := l.Addr4(200)
	for _, argv := range [][]string{
		{"ip", "addr", "add", vip.String() + "/24", "dev", "eth0"},
		{"sysctl", "-qw", "net.ipv4.ip_forward=1"},
	} {
		if out, err := dir.Exec(context.Background(), argv...); err != nil {
			b.Fatalf("%v: %v %s", argv, err, out)
		}
	}
	ns, err := netns.GetFromName(dir.NS)
	if err != nil {
		b.Fatal(err)
	}
	defer ns.Close()
	conn, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		b.Fatal(err)
	}
	plane := nft.New(conn, "")
	svc := dataplane.Service{Name: "web", VIP: vip, Port: 80, Algo: "rr", SNAT: true}
	for _, h := range l.Nodes[:3] {
		var ln net.Listener
		if err := h.Do(func() (err error) { ln, err = net.Listen("tcp", h.Addr4.String()+":8080"); return err }); err != nil {
			b.Fatal(err)
		}
		name := h.Name
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) })}
		go srv.Serve(ln)
		defer srv.Close()
		svc.Backends = append(svc.Backends, dataplane.Backend{Addr: h.Addr4, Port: 8080, Weight: 1})
	}
	if err := plane.Apply(dataplane.State{Services: []dataplane.Service{svc}}); err != nil {
		b.Fatal(err)
	}
	defer plane.Remove()

	client := func(keepAlive bool) *http.Client {
		return &http.Client{Transport: &http.Transport{DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 1,
			DialContext: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
				err = l.Client.Do(func() (err error) { c, err = (&net.Dialer{}).DialContext(ctx, network, addr); return err })
				return c, err
			}}}
	}
	targets := []struct {
		name string
		addr netip.AddrPort
	}{
		{"direct", netip.AddrPortFrom(l.Nodes[0].Addr4, 8080)},
		{"via-vip", netip.AddrPortFrom(vip, 80)},
	}
	for _, mode := range []string{"new-conn", "keepalive"} {
		for _, tg := range targets {
			b.Run(mode+"/"+tg.name, func(b *testing.B) {
				c := client(mode == "keepalive")
				url := "http://" + tg.addr.String() + "/"
				for b.Loop() {
					resp, err := c.Get(url)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
				c.CloseIdleConnections()
			})
		}
	}
}
