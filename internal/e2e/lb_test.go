package e2e

// End-to-end load balancing: a lab client → VIP → vipd director (nftables
// data plane) → real servers, which are small HTTP servers this test runs
// in their own namespaces and switches between healthy, failing, down and
// back.

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/control"
	"github.com/vipd/vipd/internal/lab"
)

// realServer is one HTTP server on a lab host. "/" answers the host's
// name; "/health" answers what the test set.
type realServer struct {
	h      *lab.Host
	listen netip.AddrPort // h's address, or all addresses for LVS-DR

	mu     sync.Mutex
	status int
	body   string
	srv    *http.Server
}

const healthyBody = "healthy\n"

func startRealServer(t *testing.T, h *lab.Host, port uint16) *realServer {
	t.Helper()
	return startRealServerOn(t, h, netip.AddrPortFrom(h.Addr4, port))
}

func startRealServerOn(t *testing.T, h *lab.Host, listen netip.AddrPort) *realServer {
	t.Helper()
	r := &realServer{h: h, listen: listen, status: 200, body: healthyBody}
	r.up(t)
	t.Cleanup(r.down)
	return r
}

// up (re)starts the listener.
func (r *realServer) up(t *testing.T) {
	t.Helper()
	var ln net.Listener
	err := r.h.Do(func() (err error) {
		ln, err = net.Listen("tcp", r.listen.String())
		return err
	})
	if err != nil {
		t.Fatalf("listen on %s %v: %v", r.h.Name, r.listen, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, r.h.Name) })
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		r.mu.Lock()
		status, body := r.status, r.body
		r.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, body)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
}

// down closes the listener: connections are refused.
func (r *realServer) down() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

func (r *realServer) health(status int, body string) {
	r.mu.Lock()
	r.status, r.body = status, body
	r.mu.Unlock()
}

// lbClient makes requests from the lab client, a new connection each.
type lbClient struct{ c *http.Client }

func newLBClient(l *lab.Lab) *lbClient {
	return &lbClient{c: &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (conn net.Conn, err error) {
			err = l.Client.Do(func() (err error) {
				conn, err = (&net.Dialer{Timeout: time.Second}).DialContext(ctx, network, addr)
				return err
			})
			return conn, err
		}}}}
}

func (c *lbClient) get(url string) (string, error) {
	resp, err := c.c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// waitServing retries url until it answers: right after a takeover the
// client may still send to the old master's MAC until the new master's
// gratuitous ARP reaches it, as with any VRRP pair. It logs how long.
func (c *lbClient) waitServing(t *testing.T, url string, limit time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		_, err := c.get(url)
		if err == nil {
			t.Logf("serving through the new master %s after it took the VIP", time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > limit {
			t.Fatalf("GET %s still failing %s after the takeover: %v", url, limit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// spread makes n requests and counts who answered.
func (c *lbClient) spread(t *testing.T, url string, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		who, err := c.get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		got[who]++
	}
	return got
}

// checkShares compares counts with the expected shares (weights), within
// a generous tolerance: the split is a property of the algorithm, not of
// timing, but random and hash schedulers wobble.
func checkShares(t *testing.T, what string, got map[string]int, want map[string]int) {
	t.Helper()
	total, wsum := 0, 0
	for _, n := range got {
		total += n
	}
	for _, w := range want {
		wsum += w
	}
	for name, n := range got {
		if want[name] == 0 {
			t.Errorf("%s: %s got %d of %d requests, want none (spread %v)", what, name, n, total, got)
		}
	}
	for name, w := range want {
		exp := float64(total) * float64(w) / float64(wsum)
		if n := float64(got[name]); n < exp*0.6 || n > exp*1.4+3 {
			t.Errorf("%s: %s got %.0f of %d requests, want about %.0f (spread %v)", what, name, n, total, exp, got)
		}
	}
	t.Logf("%s: spread %v (weights %v)", what, got, want)
}

// lbStatus returns the virtual server called name from vipd's status.
func lbVS(t *testing.T, v *Vipd, name string) control.VirtualServerStatus {
	t.Helper()
	vs, _ := lbVSPending(t, v, name)
	return vs
}

// lbVSPending is lbVS with whether the kernel still lags the states shown.
func lbVSPending(t *testing.T, v *Vipd, name string) (control.VirtualServerStatus, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := v.Status(ctx)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	if st.LB == nil {
		t.Fatal("status has no load balancer")
	}
	for _, vs := range st.LB.VirtualServers {
		if vs.Name == name {
			return vs, st.LB.Pending
		}
	}
	t.Fatalf("no virtual server %q in %+v", name, st.LB)
	return control.VirtualServerStatus{}, false
}

// waitRS waits until real server addr of vs is alive (or not) and the
// kernel has taken that state, and returns how long that took.
func waitRS(t *testing.T, v *Vipd, vs, addr string, alive bool, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		st, pending := lbVSPending(t, v, vs)
		for _, rs := range st.RealServers {
			if rs.Addr == addr && rs.Alive == alive && !pending {
				return time.Since(start)
			}
		}
		if time.Since(start) > limit {
			t.Fatalf("%s %s: alive=%v (applied: %v) not reached in %s: %+v", vs, addr, alive, !pending, limit, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func enableForwarding(t *testing.T, h *lab.Host) {
	t.Helper()
	if out, err := h.Exec(context.Background(), "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
		t.Fatalf("%s: sysctl: %v %s", h.Name, err, out)
	}
}

// directorConf is a director's keepalived.conf: one VRRP instance holding
// the VIP plus the test's virtual servers.
func directorConf(prio int, vip netip.Addr, extra, servers string) string {
	return extra + instanceConf("VI_LB", 61, prio, vip, "") + servers
}

// TestLoadBalancer runs one director (n1) in front of three real servers
// (n2..n4) and walks keepalived's behaviours through virtual servers on
// several ports of one VIP: spread per algorithm and weight, a killed
// real server out and back, HTTP_GET status and digest failures, MISC_CHECK
// dynamic weights and quorum loss to the sorry server (on the gateway).
func TestLoadBalancer(t *testing.T) {
	w := newWorld(t, 4)
	vip := w.watch(t, 200)[0]
	dir, rsHosts := w.lab.Nodes[0], w.lab.Nodes[1:]
	enableForwarding(t, dir)
	web := map[string]*realServer{}
	misc := map[string]*realServer{}
	for _, h := range rsHosts {
		web[h.Name] = startRealServer(t, h, 8080)
		misc[h.Name] = startRealServer(t, h, 8081)
	}
	sorry := startRealServer(t, w.lab.GW, 8080)
	sum := md5.Sum([]byte(healthyBody))
	digest := hex.EncodeToString(sum[:])

	// MISC_CHECK: the script exits with the number in its real server's
	// file (misc_dynamic: 2+w sets weight w).
	script := filepath.Join(w.dir, "misc.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit $(cat \"$1\")\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	setMisc := func(h *lab.Host, code int) {
		if err := os.WriteFile(filepath.Join(w.dir, "misc-"+h.Name), []byte(fmt.Sprint(code)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var servers strings.Builder
	fmt.Fprintf(&servers, `
virtual_server %[1]s 80 {
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    snat
`, vip)
	for i, h := range rsHosts {
		fmt.Fprintf(&servers, `    real_server %s 8080 {
        weight %d
        HTTP_GET {
            url {
                path /health
                digest %s
                status_code 200
            }
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }
    }
`, h.Addr4, i+1, digest)
	}
	fmt.Fprintf(&servers, "}\n\nvirtual_server %s 81 {\n    delay_loop 1\n    lb_algo wrr\n    snat\n", vip)
	for _, h := range rsHosts {
		setMisc(h, 3) // weight 1
		fmt.Fprintf(&servers, `    real_server %s 8081 {
        MISC_CHECK {
            misc_path "%s %s"
            misc_dynamic
            retry 0
        }
    }
`, h.Addr4, script, filepath.Join(w.dir, "misc-"+h.Name))
	}
	fmt.Fprintf(&servers, "}\n\nvirtual_server %s 82 {\n    delay_loop 1\n    lb_algo rr\n    quorum 2\n    snat\n    sorry_server %s 8080\n", vip, w.lab.GW.Addr4)
	for _, h := range rsHosts {
		fmt.Fprintf(&servers, `    real_server %s 8081 {
        TCP_CHECK {
            connect_timeout 1
            retry 0
        }
    }
`, h.Addr4)
	}
	servers.WriteString("}\n")
	v := w.start(t, 0, directorConf(150, vip, "", servers.String()))
	w.waitHolder(t, vip, dir.Name, 15*time.Second)
	c := newLBClient(w.lab)
	url := func(port int) string { return fmt.Sprintf("http://%s/", netip.AddrPortFrom(vip, uint16(port))) }
	vs80 := fmt.Sprintf("%s/TCP", netip.AddrPortFrom(vip, 80))
	vs81 := fmt.Sprintf("%s/TCP", netip.AddrPortFrom(vip, 81))
	vs82 := fmt.Sprintf("%s/TCP", netip.AddrPortFrom(vip, 82))
	n2, n3, n4 := rsHosts[0], rsHosts[1], rsHosts[2]
	rsAddr := func(h *lab.Host, port int) string { return netip.AddrPortFrom(h.Addr4, uint16(port)).String() }
	for _, h := range rsHosts {
		waitRS(t, v, vs80, rsAddr(h, 8080), true, 10*time.Second)
	}

	t.Run("wrr spread per weight", func(t *testing.T) {
		checkShares(t, "wrr 1:2:3", c.spread(t, url(80), 300), map[string]int{"n2": 1, "n3": 2, "n4": 3})
	})
	t.Run("killed real server out within delay_loop+retry×delay_before_retry, back after recovery", func(t *testing.T) {
		web["n3"].down()
		took := waitRS(t, v, vs80, rsAddr(n3, 8080), false, 10*time.Second)
		// delay_loop 1 + retry 1 × delay_before_retry 1 = 2 s, plus one
		// delay_loop of phase (the kill lands anywhere in the cycle) and the
		// connect timeout.
		t.Logf("n3 out after %s (bound: delay_loop + retry×delay_before_retry = 2s, + up to one delay_loop of phase)", took)
		if took > 4500*time.Millisecond {
			t.Errorf("n3 took %s to leave, want within delay_loop+retry×delay_before_retry (+1 s phase, +1 s timeout)", took)
		}
		checkShares(t, "n3 down", c.spread(t, url(80), 120), map[string]int{"n2": 1, "n4": 3})
		web["n3"].up(t)
		took = waitRS(t, v, vs80, rsAddr(n3, 8080), true, 10*time.Second)
		t.Logf("n3 back after %s", took)
		checkShares(t, "n3 back", c.spread(t, url(80), 300), map[string]int{"n2": 1, "n3": 2, "n4": 3})
	})
	t.Run("HTTP_GET wrong status and wrong digest mark down", func(t *testing.T) {
		web["n2"].health(503, healthyBody)
		web["n4"].health(200, "degraded\n")
		waitRS(t, v, vs80, rsAddr(n2, 8080), false, 10*time.Second)
		waitRS(t, v, vs80, rsAddr(n4, 8080), false, 10*time.Second)
		vs := lbVS(t, v, vs80)
		for _, rs := range vs.RealServers {
			t.Logf("%s alive=%v checker: %s", rs.Addr, rs.Alive, rs.Checkers[0].Detail)
		}
		checkShares(t, "only n3 healthy", c.spread(t, url(80), 30), map[string]int{"n3": 1})
		web["n2"].health(200, healthyBody)
		web["n4"].health(200, healthyBody)
		waitRS(t, v, vs80, rsAddr(n2, 8080), true, 10*time.Second)
		waitRS(t, v, vs80, rsAddr(n4, 8080), true, 10*time.Second)
	})
	t.Run("MISC_CHECK dynamic weights change the split", func(t *testing.T) {
		checkShares(t, "misc 1:1:1", c.spread(t, url(81), 150), map[string]int{"n2": 1, "n3": 1, "n4": 1})
		setMisc(n2, 6) // weight 4
		deadline := time.Now().Add(10 * time.Second)
		for {
			if rs := lbVS(t, v, vs81).RealServers[0]; rs.Weight == 4 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("n2's dynamic weight never became 4: %+v", lbVS(t, v, vs81))
			}
			time.Sleep(50 * time.Millisecond)
		}
		checkShares(t, "misc 4:1:1", c.spread(t, url(81), 300), map[string]int{"n2": 4, "n3": 1, "n4": 1})
		setMisc(n3, 1) // failure
		waitRS(t, v, vs81, rsAddr(n3, 8081), false, 10*time.Second)
		checkShares(t, "misc 4:-:1", c.spread(t, url(81), 150), map[string]int{"n2": 4, "n4": 1})
	})
	t.Run("quorum loss switches to the sorry server", func(t *testing.T) {
		checkShares(t, "rr with quorum", c.spread(t, url(82), 90), map[string]int{"n2": 1, "n3": 1, "n4": 1})
		misc["n2"].down()
		misc["n3"].down()
		deadline := time.Now().Add(10 * time.Second)
		for lbVS(t, v, vs82).Quorum {
			if time.Now().After(deadline) {
				t.Fatalf("quorum never lost: %+v", lbVS(t, v, vs82))
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !lbVS(t, v, vs82).Sorry {
			t.Errorf("quorum lost but the sorry server is not serving: %+v", lbVS(t, v, vs82))
		}
		checkShares(t, "sorry server", c.spread(t, url(82), 20), map[string]int{"gw": 1})
		misc["n2"].up(t)
		waitRS(t, v, vs82, rsAddr(n2, 8081), true, 10*time.Second)
		checkShares(t, "quorum back", c.spread(t, url(82), 60), map[string]int{"n2": 1, "n4": 1})
	})
	t.Run("reload changes a weight without flapping the real servers", func(t *testing.T) {
		before := lbVS(t, v, vs80)
		b, err := os.ReadFile(v.Conf)
		if err != nil {
			t.Fatal(err)
		}
		// n2 is the first real server of port 80, written with weight 1.
		conf := strings.Replace(string(b), "weight 1\n", "weight 3\n", 1)
		if err := os.WriteFile(v.Conf, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := v.Proc.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for lbVS(t, v, vs80).RealServers[0].Weight != 3 {
			if time.Now().After(deadline) {
				t.Fatalf("weight not reloaded: %+v", lbVS(t, v, vs80))
			}
			time.Sleep(50 * time.Millisecond)
		}
		after := lbVS(t, v, vs80)
		for i, rs := range after.RealServers {
			if !rs.Alive || rs.Checkers[0].LastCheck.Before(before.RealServers[i].Checkers[0].LastCheck) {
				t.Errorf("%s after reload: alive=%v last check %v (before: %v): state not carried over",
					rs.Addr, rs.Alive, rs.Checkers[0].LastCheck, before.RealServers[i].Checkers[0].LastCheck)
			}
		}
		checkShares(t, "wrr 3:2:3 after reload", c.spread(t, url(80), 320), map[string]int{"n2": 3, "n3": 2, "n4": 3})
	})
	_ = sorry
}

// TestLoadBalancerDirectorFailover: two directors (n1 150, n2 100) gated
// by the arbiter hold the VIP in turn in front of three real servers. A
// client requests all the time; the master director is stopped (SIGTERM)
// and later killed (-9) after it returned, and the client's requests keep
// succeeding through the new master.
func TestLoadBalancerDirectorFailover(t *testing.T) {
	w := newWorld(t, 5)
	vip := w.watch(t, 200)[0]
	etcd := startEtcd(t, w, w.lab.GW)
	dirs, rsHosts := w.lab.Nodes[:2], w.lab.Nodes[2:]
	var servers strings.Builder
	fmt.Fprintf(&servers, "virtual_server %s 80 {\n    delay_loop 1\n    lb_algo rr\n    snat\n", vip)
	for _, h := range rsHosts {
		startRealServer(t, h, 8080)
		fmt.Fprintf(&servers, "    real_server %s 8080 {\n        TCP_CHECK {\n            connect_timeout 1\n        }\n    }\n", h.Addr4)
	}
	servers.WriteString("}\n")
	arb := fmt.Sprintf("arbiter {\n    etcd {\n        endpoints %s\n        lease_ttl 5\n    }\n}\n", etcd.Endpoints())
	var v []*Vipd
	for i, prio := range []int{150, 100} {
		enableForwarding(t, dirs[i])
		v = append(v, w.start(t, i, directorConf(prio, vip, arb, servers.String())))
	}
	w.waitHolder(t, vip, "n1", 20*time.Second)
	c := newLBClient(w.lab)
	url := fmt.Sprintf("http://%s/", netip.AddrPortFrom(vip, 80))
	checkShares(t, "through n1", c.spread(t, url, 60), map[string]int{"n3": 1, "n4": 1, "n5": 1})

	// load requests the VIP in a loop until stop, counting answers and
	// failures; a failed request is retried by the next iteration, as a
	// client with retries would.
	type tally struct{ ok, failed int }
	load := func(stop <-chan struct{}) <-chan tally {
		out := make(chan tally, 1)
		go func() {
			var tl tally
			for {
				select {
				case <-stop:
					out <- tl
					return
				default:
				}
				if _, err := c.get(url); err != nil {
					tl.failed++
					time.Sleep(10 * time.Millisecond)
					continue
				}
				tl.ok++
			}
		}()
		return out
	}
	fail := func(name string, do func(), newMaster string) {
		stop := make(chan struct{})
		res := load(stop)
		time.Sleep(300 * time.Millisecond)
		do()
		w.waitHolder(t, vip, newMaster, 20*time.Second)
		time.Sleep(500 * time.Millisecond) // requests keep flowing through the new master
		close(stop)
		tl := <-res
		t.Logf("%s: %d requests answered, %d failed and retried", name, tl.ok, tl.failed)
		// Every request after the switch succeeds.
		checkShares(t, "through "+newMaster, c.spread(t, url, 60), map[string]int{"n3": 1, "n4": 1, "n5": 1})
		if tl.ok == 0 {
			t.Errorf("%s: no request succeeded", name)
		}
	}
	fail("SIGTERM of director n1", func() { v[0].Proc.Stop() }, "n2")
	w.assertNoSplitBrain(t, vip)
	v[0].Start(t)
	w.waitHolder(t, vip, "n1", 20*time.Second)
	fail("kill -9 of director n1", func() { v[0].Proc.Kill() }, "n2")
	w.assertNoSplitBrain(t, vip)
}

// drRealServer makes h an LVS-DR real server as the seeds' lvs_rs.sh does
// (the VIP on lo, no ARP answers for it) with an HTTP server on all
// addresses at port, answering h's name.
func drRealServer(t *testing.T, h *lab.Host, vip netip.Addr, port uint16) *realServer {
	t.Helper()
	for _, argv := range [][]string{
		{"ip", "addr", "add", vip.String() + "/32", "dev", "lo"},
		{"sysctl", "-qw", "net.ipv4.conf.lo.arp_ignore=1", "net.ipv4.conf.lo.arp_announce=2",
			"net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2"},
	} {
		if out, err := h.Exec(context.Background(), argv...); err != nil {
			t.Fatalf("%s: %v: %v %s", h.Name, argv, err, out)
		}
	}
	return startRealServerOn(t, h, netip.AddrPortFrom(netip.IPv4Unspecified(), port)) // the VIP on lo included
}

// seedLBConf rewrites a seed fixture to the lab: addresses replaced as
// given, and the checker timings shortened so the test need not wait
// minutes (delay_loop and delay_before_retry 1 s; everything else is the
// document's). backup turns the master side into the backup director.
func seedLBConf(t *testing.T, fixture string, addrs map[string]string, backup bool) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(RepoRoot(), "config", "testdata", "keepalived", fixture))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for from, to := range addrs {
		s = strings.ReplaceAll(s, from, to)
	}
	for _, kw := range []string{"delay_loop", "delay_before_retry"} {
		for _, v := range []string{"2", "3", "5"} {
			s = strings.ReplaceAll(s, kw+" "+v+"\n", kw+" 1\n")
		}
	}
	s = strings.ReplaceAll(s, "connect_timeout 10", "connect_timeout 1")
	s = strings.ReplaceAll(s, "connect_timeout 3\n", "connect_timeout 1\n")
	if backup {
		s = strings.Replace(s, "state MASTER", "state BACKUP", 1)
		s = strings.Replace(s, "priority 100", "priority 90", 1)
	}
	return s
}

// TestSeed001LVSDR is seed 001: two LVS-DR directors (keepalived's master
// and backup sides, plain VRRP) in front of two nginx real servers with
// TCP_CHECK, wlc, weights 100. The client's requests spread over both;
// a stopped nginx leaves the pool and comes back; stopping the master
// director's daemon moves the VIP and the service continues.
func TestSeed001LVSDR(t *testing.T) {
	w := newWorld(t, 4)
	vip := w.watch(t, 200)[0]
	n3, n4 := w.lab.Nodes[2], w.lab.Nodes[3]
	addrs := map[string]string{"192.168.188.120": vip.String(), "192.168.188.107": n3.Addr4.String(), "192.168.188.110": n4.Addr4.String()}
	rs := map[string]*realServer{"n3": drRealServer(t, n3, vip, 80), "n4": drRealServer(t, n4, vip, 80)}
	v1 := w.start(t, 0, seedLBConf(t, "seed001-lvs-dr.conf", addrs, false))
	w.start(t, 1, seedLBConf(t, "seed001-lvs-dr.conf", addrs, true))
	w.waitHolder(t, vip, "n1", 15*time.Second)
	vs := fmt.Sprintf("%s/TCP", netip.AddrPortFrom(vip, 80))
	waitRS(t, v1, vs, netip.AddrPortFrom(n3.Addr4, 80).String(), true, 10*time.Second)
	c := newLBClient(w.lab)
	url := fmt.Sprintf("http://%s/", netip.AddrPortFrom(vip, 80))
	checkShares(t, "DR wlc 100:100", c.spread(t, url, 200), map[string]int{"n3": 1, "n4": 1})

	rs["n3"].down() // nginx stopped
	took := waitRS(t, v1, vs, netip.AddrPortFrom(n3.Addr4, 80).String(), false, 15*time.Second)
	t.Logf("n3 out after %s", took)
	checkShares(t, "n3's nginx stopped", c.spread(t, url, 40), map[string]int{"n4": 1})
	rs["n3"].up(t)
	waitRS(t, v1, vs, netip.AddrPortFrom(n3.Addr4, 80).String(), true, 15*time.Second)
	checkShares(t, "n3's nginx back", c.spread(t, url, 200), map[string]int{"n3": 1, "n4": 1})

	v1.Proc.Stop() // /etc/init.d/keepalived stop on the master
	w.waitHolder(t, vip, "n2", 15*time.Second)
	c.waitServing(t, url, 5*time.Second)
	checkShares(t, "through the backup director", c.spread(t, url, 200), map[string]int{"n3": 1, "n4": 1})
	w.assertNoSplitBrain(t, vip)
}

// TestSeed004LVSWRR is seed 004: an LVS-DR director pair, wrr with
// persistence_timeout 50 and one real server. The VIP answers pings and
// HTTP through the master; with the master's daemon stopped the backup
// takes over and the real server is still reached.
func TestSeed004LVSWRR(t *testing.T) {
	w := newWorld(t, 3)
	vip := w.watch(t, 200)[0]
	n3 := w.lab.Nodes[2]
	addrs := map[string]string{"192.168.2.150": vip.String(), "192.168.2.90": n3.Addr4.String()}
	drRealServer(t, n3, vip, 80)
	v1 := w.start(t, 0, seedLBConf(t, "seed004-lvs-wrr.conf", addrs, false))
	w.start(t, 1, seedLBConf(t, "seed004-lvs-wrr.conf", addrs, true))
	w.waitHolder(t, vip, "n1", 15*time.Second)
	waitRS(t, v1, fmt.Sprintf("%s/TCP", netip.AddrPortFrom(vip, 80)), netip.AddrPortFrom(n3.Addr4, 80).String(), true, 10*time.Second)
	if err := w.lab.Client.Reach(context.Background(), vip); err != nil {
		t.Errorf("ping VIP: %v", err)
	}
	c := newLBClient(w.lab)
	url := fmt.Sprintf("http://%s/", netip.AddrPortFrom(vip, 80))
	checkShares(t, "DR wrr persistence", c.spread(t, url, 50), map[string]int{"n3": 1})
	v1.Proc.Stop() // service keepalived stop
	w.waitHolder(t, vip, "n2", 15*time.Second)
	c.waitServing(t, url, 5*time.Second)
	if err := w.lab.Client.Reach(context.Background(), vip); err != nil {
		t.Errorf("ping VIP after failover: %v", err)
	}
	checkShares(t, "through the backup director", c.spread(t, url, 50), map[string]int{"n3": 1})
	w.assertNoSplitBrain(t, vip)
}
