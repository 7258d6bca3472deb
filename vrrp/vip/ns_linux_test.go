package vip

import (
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/vipd/vipd/internal/nstest"
)

// testNS keeps the short field and method names this package's tests use
// over the shared helper in internal/nstest.
type testNS struct {
	*nstest.NS
	name string
	h    netns.NsHandle
	nl   *netlink.Handle
}

func newNS(t *testing.T) *testNS {
	n := nstest.New(t, "vip")
	return &testNS{NS: n, name: n.Name, h: n.Handle, nl: n.NL}
}

func (n *testNS) do(fn func() error) error                   { return n.Do(fn) }
func (n *testNS) sysctl(t *testing.T, key, value string)     { t.Helper(); n.Sysctl(t, key, value) }
func (n *testNS) readSysctl(t *testing.T, key string) string { t.Helper(); return n.ReadSysctl(t, key) }
func (n *testNS) addAddr(t *testing.T, dev string, p netip.Prefix) {
	t.Helper()
	n.AddAddr(t, dev, p)
}

func linkName(tag string) string { return nstest.LinkName(tag) }

func veth(t *testing.T, a *testNS, aName string, b *testNS, bName string) {
	t.Helper()
	nstest.Veth(t, a.NS, aName, b.NS, bName)
}

var onThread = nstest.OnThread
