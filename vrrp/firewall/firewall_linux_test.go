package firewall

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/nftables"

	"github.com/vipd/vipd/internal/nstest"
)

// ping reports whether one echo to addr, sent inside the namespace,
// comes back (the address is local there, on lo).
func ping(t *testing.T, ns *nstest.NS, addr string) bool {
	t.Helper()
	args := []string{"netns", "exec", ns.Name, "ping", "-c1", "-W1"}
	if strings.Contains(addr, ":") {
		args = append(args, "-6")
	}
	return exec.Command("ip", append(args, addr)...).Run() == nil
}

// TestAcceptMode: the set blocks exactly the VIPs applied, in and out, for
// both families; Close leaves nothing behind.
func TestAcceptMode(t *testing.T) {
	if _, err := exec.LookPath("ping"); err != nil {
		t.Skip("ping not installed")
	}
	ns := nstest.New(t, "fw")
	ns.AddAddr(t, "lo", netip.MustParsePrefix("10.9.9.9/32"))
	ns.AddAddr(t, "lo", netip.MustParsePrefix("10.9.9.10/32"))
	ns.AddAddr(t, "lo", netip.MustParsePrefix("fd00::9/128"))
	conn, err := nftables.New(nftables.WithNetNSFd(int(ns.Handle)))
	if err != nil {
		t.Fatal(err)
	}
	// A leftover table of a crashed incarnation is replaced.
	tb, err := Open(conn, DefaultTable)
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.Apply([]netip.Addr{netip.MustParseAddr("10.9.9.9")}); err != nil {
		t.Fatal(err)
	}
	if tb, err = Open(conn, DefaultTable); err != nil {
		t.Fatal(err)
	}
	if !ping(t, ns, "10.9.9.9") {
		t.Fatalf("10.9.9.9 unreachable with an empty set (a previous table left a drop?)")
	}

	if err := tb.Apply([]netip.Addr{netip.MustParseAddr("10.9.9.9"), netip.MustParseAddr("fd00::9")}); err != nil {
		t.Fatal(err)
	}
	if ping(t, ns, "10.9.9.9") {
		t.Errorf("10.9.9.9 answers while blocked")
	}
	if ping(t, ns, "fd00::9") {
		t.Errorf("fd00::9 answers while blocked")
	}
	if !ping(t, ns, "10.9.9.10") {
		t.Errorf("10.9.9.10, not in the set, is blocked")
	}

	if err := tb.Apply([]netip.Addr{netip.MustParseAddr("fd00::9")}); err != nil {
		t.Fatal(err)
	}
	if !ping(t, ns, "10.9.9.9") {
		t.Errorf("10.9.9.9 still blocked after it left the set")
	}
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	if !ping(t, ns, "fd00::9") {
		t.Errorf("fd00::9 blocked after Close")
	}
	out, _ := exec.Command("ip", "netns", "exec", ns.Name, "nft", "list", "tables").CombinedOutput()
	if strings.Contains(string(out), DefaultTable) {
		t.Errorf("tables left after Close:\n%s", out)
	}
}
