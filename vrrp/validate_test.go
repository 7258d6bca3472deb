package vrrp

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// validFixture is one advert that passes Validate, with what the socket
// saw and what the instance expects.
type validFixture struct {
	adv  Advert
	rx   RxMeta
	want Expect
}

func fixture(kind string) validFixture {
	switch kind {
	case "v2":
		return validFixture{
			adv: Advert{Version: 2, Type: 1, VRID: 51, Priority: 100, AdvertInt: 1,
				AuthType: AuthPass, AuthData: PassAuth("secret"), Addrs: addrs("192.168.1.100", "192.168.1.101")},
			rx: RxMeta{Src: peer4, Dst: GroupIPv4, TTL: 255, IfIndex: 2},
			want: Expect{Version: 2, VRID: 51, Family: FamilyIPv4, AdvertInt: 1,
				AuthType: AuthPass, AuthData: PassAuth("secret"), CheckAddrs: addrs("192.168.1.100", "192.168.1.101")},
		}
	case "v3":
		return validFixture{
			adv:  Advert{Version: 3, Type: 1, VRID: 51, Priority: 100, AdvertInt: 100, Addrs: addrs("192.168.1.100")},
			rx:   RxMeta{Src: peer4, Dst: GroupIPv4, TTL: 255, IfIndex: 2},
			want: Expect{Version: 3, VRID: 51, Family: FamilyIPv4, AdvertInt: 100, CheckAddrs: addrs("192.168.1.100")},
		}
	case "v3-ipv6":
		return validFixture{
			adv:  Advert{Version: 3, Type: 1, VRID: 7, Priority: 100, AdvertInt: 100, Addrs: addrs("fe80::100", "2001:db8::100")},
			rx:   RxMeta{Src: netip.MustParseAddr("fe80::2"), Dst: GroupIPv6, TTL: 255, IfIndex: 3},
			want: Expect{Version: 3, VRID: 7, Family: FamilyIPv6, AdvertInt: 100, CheckAddrs: addrs("fe80::100", "2001:db8::100")},
		}
	case "v2-unicast":
		f := fixture("v2")
		f.rx.Dst, f.rx.Unicast, f.rx.TTL = src4, true, 63
		f.want.UnicastPeers = addrs("192.168.1.30", peer4.String())
		return f
	}
	panic("unknown fixture " + kind)
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		mutate  func(a *Advert, rx *RxMeta, w *Expect)
		want    DropReason // "" = accepted
	}{
		// Accepted.
		{"v2 PASS", "v2", nil, ""},
		{"v3 IPv4", "v3", nil, ""},
		{"v3 IPv6", "v3-ipv6", nil, ""},
		{"v2 unicast, TTL not checked", "v2-unicast", nil, ""},
		{"Linux AF_INET family", "v3", func(a *Advert, rx *RxMeta, w *Expect) { w.Family = 2 }, ""},
		{"Linux AF_INET6 family", "v3-ipv6", func(a *Advert, rx *RxMeta, w *Expect) { w.Family = 10 }, ""},
		{"IPv4-mapped source", "v3", func(a *Advert, rx *RxMeta, w *Expect) { rx.Src = netip.AddrFrom16(peer4.As16()) }, ""},
		{"unknown TTL is not checked", "v3", func(a *Advert, rx *RxMeta, w *Expect) { rx.TTL = -1 }, ""},
		{"v3 interval mismatch is accepted", "v3", func(a *Advert, rx *RxMeta, w *Expect) { a.AdvertInt = 200 }, ""},
		{"v3 ignores auth fields", "v3", func(a *Advert, rx *RxMeta, w *Expect) { a.AuthType = 9; w.AuthType = AuthPass }, ""},
		{"v2 no auth", "v2", func(a *Advert, rx *RxMeta, w *Expect) {
			a.AuthType, a.AuthData, w.AuthType = AuthNone, [8]byte{}, AuthNone
		}, ""},
		{"v2 no auth ignores auth data", "v2", func(a *Advert, rx *RxMeta, w *Expect) { a.AuthType, w.AuthType = AuthNone, AuthNone }, ""},
		{"strict ignores our configured auth", "v2", func(a *Advert, rx *RxMeta, w *Expect) { w.Strict, a.AuthType = true, AuthNone }, ""},
		{"address count mismatch accepted outside strict", "v3", func(a *Advert, rx *RxMeta, w *Expect) { a.Addrs = nil }, ""},
		{"address list mismatch accepted outside strict", "v3", func(a *Advert, rx *RxMeta, w *Expect) { a.Addrs = addrs("10.9.9.9") }, ""},
		{"strict, same addresses in another order", "v2", func(a *Advert, rx *RxMeta, w *Expect) {
			w.Strict, a.AuthType = true, AuthNone
			a.Addrs = addrs("192.168.1.101", "192.168.1.100")
		}, ""},
		{"owner outside strict listens", "v3", func(a *Advert, rx *RxMeta, w *Expect) { w.OwnerPriority = true }, ""},
		{"unicast non-peer accepted without check_unicast_src", "v2-unicast", func(a *Advert, rx *RxMeta, w *Expect) { rx.Src = netip.MustParseAddr("192.168.1.99") }, ""},
		{"unicast peer with check_unicast_src", "v2-unicast", func(a *Advert, rx *RxMeta, w *Expect) { w.CheckUnicastSrc = true }, ""},
		{"unicast peer inside its min_ttl/max_ttl", "v2-unicast", func(a *Advert, rx *RxMeta, w *Expect) {
			rx.TTL, w.PeerTTL = 60, map[netip.Addr][2]int{plain(rx.Src): {50, 64}}
		}, ""},
		{"unicast peer below its min_ttl", "v2-unicast", func(a *Advert, rx *RxMeta, w *Expect) {
			rx.TTL, w.PeerTTL = 49, map[netip.Addr][2]int{plain(rx.Src): {50, 64}}
		}, DropTTL},
		{"IPv6 unicast peer with a zone", "v3-ipv6", func(a *Advert, rx *RxMeta, w *Expect) {
			rx.Src, rx.Dst, rx.Unicast = netip.MustParseAddr("fe80::2%eth0"), netip.MustParseAddr("fe80::1%eth0"), true
			w.UnicastPeers, w.CheckUnicastSrc = addrs("fe80::2"), true
		}, ""},
		{"priority 0 is valid", "v3", func(a *Advert, rx *RxMeta, w *Expect) { a.Priority = 0 }, ""},

		// DropFamily.
		{"family unset", "v3", func(a *Advert, rx *RxMeta, w *Expect) { w.Family = 0 }, DropFamily},
		{"IPv4 advert, IPv6 instance", "v3", func(a *Advert, rx *RxMeta, w *Expect) { w.Family = FamilyIPv6 }, DropFamily},
		{"IPv6 advert, IPv4 instance", "v3-ipv6", func(a *Advert, rx *RxMeta, w *Expect) { w.Family = FamilyIPv4 }, DropFamily},
		{"no source", "v3", func(a *Advert, rx *RxMeta, w *Expect) { rx.Src = netip.Addr{} }, DropFamily},
		{"address of the other family", "v3", func(a *Advert, rx *RxMeta, w *Expect) { a.Addrs = addrs("2001:db8::1") }, DropFamily},
		// DropVRID comes before everything that is about us.
		{"other VRID", "v3", func(a *Advert, rx *RxMeta, w *Expect) { a.VRID = 52 }, DropVRID},
		{"other VRID with bad TTL and version", "v2", func(a *Advert, rx *RxMeta, w *Expect) { a.VRID, rx.TTL, w.Version = 1, 1, 3 }, DropVRID},
		// DropTTL.
		{"TTL 254", "v3", func(a *Advert, rx *RxMeta, w *Expect) { rx.TTL = 254 }, DropTTL},
		{"TTL left zero", "v2", func(a *Advert, rx *RxMeta, w *Expect) { rx.TTL = 0 }, DropTTL},
		{"IPv6 hop limit 1", "v3-ipv6", func(a *Advert, rx *RxMeta, w *Expect) { rx.TTL = 1 }, DropTTL},
		// DropVersion.
		{"v2 advert, v3 instance", "v2", func(a *Advert, rx *RxMeta, w *Expect) { w.Version = 3 }, DropVersion},
		{"v3 advert, v2 instance", "v3", func(a *Advert, rx *RxMeta, w *Expect) { w.Version = 2 }, DropVersion},
		// DropAuth.
		{"invalid auth type", "v2", func(a *Advert, rx *RxMeta, w *Expect) { a.AuthType = 3 }, DropAuth},
		{"no auth, we want PASS", "v2", func(a *Advert, rx *RxMeta, w *Expect) { a.AuthType = AuthNone }, DropAuth},
		{"PASS, we want none", "v2", func(a *Advert, rx *RxMeta, w *Expect) { w.AuthType = AuthNone }, DropAuth},
		{"wrong password", "v2", func(a *Advert, rx *RxMeta, w *Expect) { a.AuthData = PassAuth("secreT") }, DropAuth},
		{"password differs in byte 8", "v2", func(a *Advert, rx *RxMeta, w *Expect) {
			a.AuthData, w.AuthData = PassAuth("12345678"), PassAuth("12345670")
		}, DropAuth},
		{"AH is not supported", "v2", func(a *Advert, rx *RxMeta, w *Expect) { a.AuthType, w.AuthType = AuthAH, AuthAH }, DropAuth},
		{"strict drops PASS adverts", "v2", func(a *Advert, rx *RxMeta, w *Expect) { w.Strict = true }, DropAuth},
		// DropInterval.
		{"v2 interval mismatch", "v2", func(a *Advert, rx *RxMeta, w *Expect) { a.AdvertInt = 2 }, DropInterval},
		// DropDestination.
		{"unicast advert, multicast instance", "v3", func(a *Advert, rx *RxMeta, w *Expect) { rx.Unicast, rx.Dst = true, src4 }, DropDestination},
		{"multicast advert, unicast instance", "v2-unicast", func(a *Advert, rx *RxMeta, w *Expect) { rx.Unicast, rx.Dst = false, GroupIPv4 }, DropDestination},
		// DropNotPeer.
		{"unicast non-peer with check_unicast_src", "v2-unicast", func(a *Advert, rx *RxMeta, w *Expect) {
			w.CheckUnicastSrc, rx.Src = true, netip.MustParseAddr("192.168.1.99")
		}, DropNotPeer},
		{"IPv6 unicast non-peer with a zone", "v3-ipv6", func(a *Advert, rx *RxMeta, w *Expect) {
			rx.Src, rx.Dst, rx.Unicast = netip.MustParseAddr("fe80::3%eth0"), netip.MustParseAddr("fe80::1%eth0"), true
			w.UnicastPeers, w.CheckUnicastSrc = addrs("fe80::2"), true
		}, DropNotPeer},
		// DropAddrCount / DropAddrList (strict only).
		{"strict address count", "v3", func(a *Advert, rx *RxMeta, w *Expect) { w.Strict, a.Addrs = true, nil }, DropAddrCount},
		{"strict, we have no VIPs", "v3", func(a *Advert, rx *RxMeta, w *Expect) { w.Strict, w.CheckAddrs = true, nil }, DropAddrCount},
		{"strict address list", "v3", func(a *Advert, rx *RxMeta, w *Expect) { w.Strict, a.Addrs = true, addrs("192.168.1.200") }, DropAddrList},
		{"skip_check_adv_addr: the known master's list is not compared", "v3", func(a *Advert, rx *RxMeta, w *Expect) {
			w.Strict, w.SkipAddrs, a.Addrs = true, true, addrs("192.168.1.200")
		}, ""},
		{"strict v2 address list", "v2", func(a *Advert, rx *RxMeta, w *Expect) {
			w.Strict, a.AuthType = true, AuthNone
			a.Addrs = addrs("192.168.1.100", "192.168.1.100")
		}, DropAddrList},
		// DropOwner.
		{"strict owner ignores adverts", "v3", func(a *Advert, rx *RxMeta, w *Expect) { w.Strict, w.OwnerPriority = true, true }, DropOwner},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := fixture(tc.fixture)
			if tc.mutate != nil {
				tc.mutate(&f.adv, &f.rx, &f.want)
			}
			err := Validate(&f.adv, f.rx, f.want)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var de *DropError
			if !errors.As(err, &de) {
				t.Fatalf("Validate = %v (%T), want a *DropError %q", err, err, tc.want)
			}
			if de.Reason != tc.want {
				t.Errorf("reason = %q, want %q (%v)", de.Reason, tc.want, err)
			}
			t.Logf("%v", err)
		})
	}
}

func TestValidateParsed(t *testing.T) {
	// The path the receive loop takes: bytes -> ParseAdvert -> Validate.
	for _, kind := range []string{"v2", "v3", "v3-ipv6"} {
		f := fixture(kind)
		b, err := f.adv.Marshal(f.rx.Src, f.rx.Dst)
		if err != nil {
			t.Fatalf("%s: Marshal: %v", kind, err)
		}
		a, err := ParseAdvert(b, f.rx.Src, f.rx.Dst)
		if err != nil {
			t.Fatalf("%s: ParseAdvert: %v", kind, err)
		}
		if err := Validate(a, f.rx, f.want); err != nil {
			t.Errorf("%s: Validate: %v", kind, err)
		}
	}
}

func TestPasswordNotLogged(t *testing.T) {
	f := fixture("v2")
	f.adv.AuthData = PassAuth("hunter22")
	err := Validate(&f.adv, f.rx, f.want)
	if err == nil {
		t.Fatal("Validate accepted a wrong password")
	}
	for _, secret := range []string{"hunter22", "secret"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q reveals a password", err)
		}
	}
}

func TestMismatch(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		mutate  func(a *Advert, w *Expect)
		want    DropReason
	}{
		{"all equal", "v3", nil, ""},
		{"v2 all equal", "v2", nil, ""},
		{"v3 interval", "v3", func(a *Advert, w *Expect) { a.AdvertInt = 300 }, DropInterval},
		{"v2 interval is Validate's", "v2", func(a *Advert, w *Expect) { a.AdvertInt = 3 }, ""},
		{"address count", "v3", func(a *Advert, w *Expect) { a.Addrs = addrs("192.168.1.100", "192.168.1.101") }, DropAddrCount},
		{"address list", "v3-ipv6", func(a *Advert, w *Expect) { a.Addrs = addrs("fe80::100", "2001:db8::101") }, DropAddrList},
		{"mapped VIP matches", "v3", func(a *Advert, w *Expect) {
			w.CheckAddrs = []netip.Addr{netip.AddrFrom16(netip.MustParseAddr("192.168.1.100").As16())}
		}, ""},
		{"strict address list is Validate's", "v3", func(a *Advert, w *Expect) { w.Strict, a.Addrs = true, nil }, ""},
		{"skip_check_adv_addr: the known master's list is not compared", "v3", func(a *Advert, w *Expect) {
			w.SkipAddrs, a.Addrs = true, addrs("192.168.1.100", "192.168.1.101")
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := fixture(tc.fixture)
			if tc.mutate != nil {
				tc.mutate(&f.adv, &f.want)
			}
			got := Mismatch(&f.adv, f.want)
			var reason DropReason
			if got != nil {
				reason = got.Reason
				t.Logf("%v", got)
			}
			if reason != tc.want {
				t.Errorf("Mismatch = %v, want reason %q", got, tc.want)
			}
		})
	}
}

func TestDropErrorIs(t *testing.T) {
	err := error(dropf(DropVRID, "VRID %d", 3))
	if !errors.Is(err, &DropError{Reason: DropVRID}) {
		t.Error("errors.Is does not match the same reason")
	}
	if errors.Is(err, &DropError{Reason: DropTTL}) {
		t.Error("errors.Is matches another reason")
	}
	if got, want := err.Error(), "vrrp: advert dropped (vrid): VRID 3"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
