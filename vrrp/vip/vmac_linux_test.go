package vip

import (
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
)

func TestVMAC(t *testing.T) {
	w := newWorld(t)
	parentBefore := map[string]string{
		"arp_ignore": w.ns.ReadSysctl(t, "net/ipv4/conf/"+w.dev+"/arp_ignore"),
		"arp_filter": w.ns.ReadSysctl(t, "net/ipv4/conf/"+w.dev+"/arp_filter"),
	}
	tests := []struct {
		name    string
		vrid    uint8
		family  int
		ifname  string
		wantIf  string
		wantMAC string
	}{
		{"ipv4 default name", 7, 4, "", "vrrp.7", "00:00:5e:00:01:07"},
		{"ipv6 named", 200, 6, "vmac6x", "vmac6x", "00:00:5e:00:02:c8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, err := w.m.CreateVMAC(w.dev, tt.vrid, tt.family, tt.ifname)
			if err != nil {
				t.Fatalf("CreateVMAC: %v", err)
			}
			if name != tt.wantIf {
				t.Errorf("name = %q, want %q", name, tt.wantIf)
			}
			// Idempotent: a second call adopts the existing interface.
			if again, err := w.m.CreateVMAC(w.dev, tt.vrid, tt.family, tt.ifname); err != nil || again != name {
				t.Errorf("second CreateVMAC = %q, %v; want %q, nil", again, err, name)
			}
			l, err := w.ns.NL.LinkByName(name)
			if err != nil {
				t.Fatal(err)
			}
			mv, ok := l.(*netlink.Macvlan)
			if !ok {
				t.Fatalf("%s is a %s, want macvlan", name, l.Type())
			}
			parent, _ := w.ns.NL.LinkByName(w.dev)
			type linkView struct {
				MAC    string
				Mode   netlink.MacvlanMode
				Parent int
				Up     bool
			}
			want := linkView{tt.wantMAC, netlink.MACVLAN_MODE_PRIVATE, parent.Attrs().Index, true}
			got := linkView{mv.HardwareAddr.String(), mv.Mode, mv.ParentIndex, mv.Flags&net.FlagUp != 0}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("vmac link (-want +got):\n%s", diff)
			}
			gotSys := map[string]string{}
			for _, s := range vmacSysctls {
				gotSys[name+"/"+s.key] = w.ns.ReadSysctl(t, "net/ipv4/conf/"+name+"/"+s.key)
			}
			for _, s := range parentSysctls {
				gotSys[w.dev+"/"+s.key] = w.ns.ReadSysctl(t, "net/ipv4/conf/"+w.dev+"/"+s.key)
			}
			wantSys := map[string]string{
				name + "/arp_ignore": "1", name + "/accept_local": "1", name + "/rp_filter": "0", name + "/promote_secondaries": "1",
				w.dev + "/arp_ignore": "1", w.dev + "/arp_filter": "1",
			}
			if diff := cmp.Diff(wantSys, gotSys); diff != "" {
				t.Errorf("sysctls (-want +got):\n%s", diff)
			}
			if tt.family == 6 {
				// No EUI-64 link-local from the shared VMAC.
				addrs, err := w.ns.NL.AddrList(l, netlink.FAMILY_V6)
				if err != nil {
					t.Fatal(err)
				}
				if len(addrs) != 0 {
					t.Errorf("IPv6 VMAC has kernel-generated addresses %v", addrs)
				}
			}
		})
	}

	// A non-VMAC interface with the requested name is not adopted.
	if _, err := w.m.CreateVMAC(w.dev, 9, 4, w.dev); err == nil {
		t.Errorf("CreateVMAC over a veth succeeded")
	}

	for i, name := range []string{"vrrp.7", "vmac6x"} {
		if err := w.m.DeleteVMAC(name); err != nil {
			t.Fatalf("DeleteVMAC(%s): %v", name, err)
		}
		if _, err := w.ns.NL.LinkByName(name); err == nil {
			t.Errorf("%s still exists", name)
		}
		parentNow := map[string]string{
			"arp_ignore": w.ns.ReadSysctl(t, "net/ipv4/conf/"+w.dev+"/arp_ignore"),
			"arp_filter": w.ns.ReadSysctl(t, "net/ipv4/conf/"+w.dev+"/arp_filter"),
		}
		if last := i == 1; last {
			if diff := cmp.Diff(parentBefore, parentNow); diff != "" {
				t.Errorf("parent sysctls not restored after the last VMAC (-want +got):\n%s", diff)
			}
		} else if parentNow["arp_ignore"] != "1" {
			t.Errorf("parent arp_ignore reset while a VMAC remains")
		}
	}
	if err := w.m.DeleteVMAC("vrrp.7"); err != nil {
		t.Errorf("DeleteVMAC of an absent interface: %v", err)
	}
}
