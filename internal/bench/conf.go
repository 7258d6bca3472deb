package bench

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Instance names of the failover configurations. vipd runs both in one
// process (as in make demo), so one fault hits the gated and the plain VIP
// at once; keepalived runs the plain one.
const (
	InstArbiter = "VI_1"
	InstPlain   = "VI_PLAIN"
)

// FailoverConf describes one node's configuration in the failover lab.
type FailoverConf struct {
	Router   string
	Priority int
	Advert   string // advert_int as written; a fraction selects VRRPv3
	// Plain is the VIP of the plain instance (VRID 52, vipd with `arbiter
	// off`; keepalived's only instance).
	Plain netip.Prefix
	// Arbiter, if valid, adds the arbiter-gated instance (VRID 51) and the
	// arbiter block with Endpoints; vipd only.
	Arbiter   netip.Prefix
	Endpoints string
}

// isFraction reports whether an advert_int needs VRRPv3 (v2 carries whole
// seconds only; both daemons round it up there).
func isFraction(advert string) bool {
	f, err := strconv.ParseFloat(advert, 64)
	return err == nil && f != float64(int(f))
}

// String renders keepalived.conf syntax that both daemons read.
func (c FailoverConf) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n    router_id %s\n", c.Router)
	if isFraction(c.Advert) {
		b.WriteString("    vrrp_version 3\n")
	}
	b.WriteString("}\n")
	if c.Arbiter.IsValid() {
		// lease_ttl 5 is vipd's default; 4 is the floor (docs/safety.md).
		fmt.Fprintf(&b, "arbiter {\n    etcd {\n        endpoints %s\n        lease_ttl 5\n    }\n}\n", c.Endpoints)
	}
	inst := func(name string, vrid int, vip netip.Prefix, extra string) {
		fmt.Fprintf(&b, "vrrp_instance %s {\n    state BACKUP\n    interface eth0\n    virtual_router_id %d\n", name, vrid)
		fmt.Fprintf(&b, "    priority %d\n    advert_int %s\n    virtual_ipaddress {\n        %v dev eth0\n    }\n%s}\n",
			c.Priority, c.Advert, vip, extra)
	}
	if c.Arbiter.IsValid() {
		inst(InstArbiter, 51, c.Arbiter, "")
		inst(InstPlain, 52, c.Plain, "    arbiter off\n")
	} else {
		inst(InstPlain, 52, c.Plain, "")
	}
	return b.String()
}

// VRIDsPerIface is how many instances the footprint puts on one
// interface: VRIDs are 1-255 per interface; 250 keeps the numbers round.
const VRIDsPerIface = 250

// FootprintIfaces is how many interfaces n instances need.
func FootprintIfaces(n int) int { return (n + VRIDsPerIface - 1) / VRIDsPerIface }

// FootprintIface names the k-th footprint interface (a veth whose peer
// stays in the same namespace: no dummy module on this kernel).
func FootprintIface(k int) string { return fmt.Sprintf("bv%d", k) }

// FootprintConf is n plain VRRPv2 instances at advert_int 1, one VIP each,
// VRIDs 1-250 on interface bv0, then bv1, and so on; the VIPs are
// 172.16.x.y/32, one per instance.
func FootprintConf(n int) string {
	var b strings.Builder
	b.WriteString("global_defs {\n    router_id footprint\n}\n")
	for i := range n {
		a := netip.AddrFrom4([4]byte{172, 16, byte((i + 1) / 250), byte((i+1)%250 + 1)})
		fmt.Fprintf(&b, "vrrp_instance VI_%d {\n    state BACKUP\n    interface %s\n    virtual_router_id %d\n",
			i+1, FootprintIface(i/VRIDsPerIface), i%VRIDsPerIface+1)
		fmt.Fprintf(&b, "    priority 100\n    advert_int 1\n    virtual_ipaddress {\n        %v/32\n    }\n}\n", a)
	}
	return b.String()
}

// CheckerConf is one virtual_server with n real servers rs:port..port+n-1,
// each with a TCP_CHECK every second (delay_loop 1, connect_timeout 1),
// for `keepalived --check`.
func CheckerConf(n int, vs, rs netip.Addr, port int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n    router_id checkers\n}\n")
	fmt.Fprintf(&b, "virtual_server %v 80 {\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n", vs)
	for i := range n {
		fmt.Fprintf(&b, "    real_server %v %d {\n        TCP_CHECK {\n            connect_timeout 1\n        }\n    }\n", rs, port+i)
	}
	b.WriteString("}\n")
	return b.String()
}
