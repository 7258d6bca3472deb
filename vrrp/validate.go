package vrrp

import (
	"crypto/subtle"
	"net/netip"
	"slices"
)

// Address families for Expect.Family.
const (
	FamilyIPv4 = 4
	FamilyIPv6 = 6
)

// The Linux AF_INET/AF_INET6 values, also accepted in Expect.Family so that
// a caller holding a socket family need not translate it.
const (
	afInet  = 2
	afInet6 = 10
)

// RxMeta is what the socket layer knows about a received advert besides
// its payload.
type RxMeta struct {
	Src, Dst netip.Addr // IP source and destination (IPv4-mapped and zones are fine)
	// TTL is the IPv4 TTL or IPv6 hop limit; negative means unknown and
	// skips the check, like keepalived's -1.
	TTL     int
	IfIndex int
	// Unicast reports that the advert was addressed to a unicast address,
	// not to the VRRP multicast group.
	Unicast bool
}

// Expect is what a virtual router instance accepts.
type Expect struct {
	Version   uint8
	VRID      uint8
	Family    int    // FamilyIPv4 or FamilyIPv6 (AF_INET/AF_INET6 accepted)
	AdvertInt uint16 // our interval, in the wire unit of Version
	AuthType  uint8  // v2 only
	AuthData  [8]byte
	// Strict is keepalived's vrrp_strict: no authentication, adverts
	// whose addresses differ from CheckAddrs are dropped, and an owner
	// ignores adverts.
	Strict bool
	// OwnerPriority: our base priority is 255 (we own the addresses).
	OwnerPriority bool
	// CheckAddrs are our VIPs, compared with the advert's addresses.
	CheckAddrs []netip.Addr
	// UnicastPeers, when not empty, puts the instance in unicast mode:
	// no TTL check, and only unicast adverts are accepted.
	UnicastPeers []netip.Addr
	// CheckUnicastSrc (keepalived's check_unicast_src) drops unicast
	// adverts whose source is not in UnicastPeers. It is off by default in
	// keepalived, where a peer that sends from an address other than the
	// one listed still counts.
	CheckUnicastSrc bool
	// PeerTTL bounds the TTL/hop limit of a unicast peer's adverts
	// (unicast_peer's min_ttl/max_ttl), inclusive.
	PeerTTL map[netip.Addr][2]int
	// SkipAddrs skips the comparison with CheckAddrs for this advert:
	// keepalived's skip_check_adv_addr compares only the first advert of a
	// new master (the caller sets it when the source is the known master).
	SkipAddrs bool
}

// Validate applies the receive checks of RFC 5798 §7.1 and RFC 3768 §7.1
// to a parsed advert with keepalived's semantics (vrrp_check_packet),
// mostly in its order. It returns nil or a *DropError.
//
// Family and VRID come first, so that on a shared socket an advert for
// another virtual router reports DropVRID whatever else is wrong with it.
//
// Differences that keepalived accepts are not errors: a v3 interval
// mismatch (the state machine adopts the master's interval) and, outside
// strict mode, VIP count or list mismatches. Mismatch reports those for
// logging.
//
// VIP mismatches: keepalived up to 2.3.2 (Debian 12 ships 2.2.7) drops
// them, as RFC 3768 §7.1 requires for v2 adverts from non-owners; since
// 2.3.3 (commit af103930, following RFC 9568) it only logs them, because
// dropping a master's adverts over a configuration difference makes two
// masters. We drop only in strict mode, which exists to follow the RFCs
// to the letter, whatever the sender's priority (as keepalived 2.2.7
// does), and accept otherwise.
//
// An owner ignoring adverts in strict mode is reported as DropOwner after
// all other checks, so the caller sees it as a reason of its own.
//
// a must not be nil.
func Validate(a *Advert, rx RxMeta, want Expect) error {
	if err := validate(a, rx, want); err != nil {
		return err
	}
	return nil
}

func validate(a *Advert, rx RxMeta, want Expect) *DropError {
	var wantV6 bool
	switch want.Family {
	case FamilyIPv4, afInet:
	case FamilyIPv6, afInet6:
		wantV6 = true
	default:
		return dropf(DropFamily, "instance family %d is unknown", want.Family)
	}
	src := plain(rx.Src)
	if !src.IsValid() {
		return dropf(DropFamily, "no source address")
	}
	if src.Is6() != wantV6 {
		return dropf(DropFamily, "source %v is not of the instance's family", src)
	}
	for _, ip := range a.Addrs {
		if plain(ip).Is6() != wantV6 {
			return dropf(DropFamily, "address %v is not of the instance's family", ip)
		}
	}

	if a.VRID != want.VRID {
		return dropf(DropVRID, "VRID %d, ours is %d", a.VRID, want.VRID)
	}

	unicastMode := len(want.UnicastPeers) > 0
	// RFC 5798 §7.1: MUST verify TTL/hop limit 255. keepalived skips it in
	// unicast mode (vrrp.c:1027 at 9cbce3e2), where adverts may be routed.
	if !unicastMode && rx.TTL >= 0 && rx.TTL != MulticastTTL {
		return dropf(DropTTL, "TTL/hop limit %d, want %d", rx.TTL, MulticastTTL)
	}
	// unicast_peer's min_ttl/max_ttl bound the TTL per peer.
	if r, ok := want.PeerTTL[src]; unicastMode && ok && rx.TTL >= 0 && (rx.TTL < r[0] || rx.TTL > r[1]) {
		return dropf(DropTTL, "TTL/hop limit %d outside %d..%d for peer %v", rx.TTL, r[0], r[1], src)
	}

	if a.Version != want.Version {
		return dropf(DropVersion, "version %d, ours is %d", a.Version, want.Version)
	}

	if a.Version == 2 {
		if err := checkAuthV2(a, want); err != nil {
			return err
		}
		// RFC 3768 §7.1: MUST drop on an interval mismatch; keepalived
		// does, "to prevent concurrent VRID running".
		if a.AdvertInt != want.AdvertInt {
			return dropf(DropInterval, "interval %d s, ours is %d s", a.AdvertInt, want.AdvertInt)
		}
	}
	// v3 has no authentication (RFC 5798 removed it) and accepts an
	// interval mismatch: backups adopt the master's interval (§6.4.2).

	if rx.Unicast != unicastMode {
		if unicastMode {
			return dropf(DropDestination, "multicast advert (to %v) for a unicast instance", rx.Dst)
		}
		return dropf(DropDestination, "unicast advert (to %v) for a multicast instance", rx.Dst)
	}

	if unicastMode && want.CheckUnicastSrc && !slices.ContainsFunc(want.UnicastPeers, func(p netip.Addr) bool {
		return plain(p) == src
	}) {
		return dropf(DropNotPeer, "source %v is not a unicast peer", src)
	}

	if want.Strict && !want.SkipAddrs {
		if err := checkAddrs(a, want.CheckAddrs); err != nil {
			return err
		}
		if want.OwnerPriority {
			return dropf(DropOwner, "address owner in strict mode ignores adverts (from %v, priority %d)", src, a.Priority)
		}
	}
	return nil
}

func checkAuthV2(a *Advert, want Expect) *DropError {
	if a.AuthType > AuthAH {
		return dropf(DropAuth, "invalid auth type %d", a.AuthType)
	}
	// Strict mode ignores configured authentication (keepalived clears
	// auth_type with a warning), so it expects adverts without any.
	wantType := want.AuthType
	if want.Strict {
		wantType = AuthNone
	}
	if a.AuthType != wantType {
		return dropf(DropAuth, "auth type %d, ours is %d", a.AuthType, wantType)
	}
	switch wantType {
	case AuthPass:
		// Never log the password, only that it differs.
		if subtle.ConstantTimeCompare(a.AuthData[:], want.AuthData[:]) != 1 {
			return dropf(DropAuth, "wrong password")
		}
	case AuthAH:
		// AH adverts are IP protocol 51 and never reach a protocol-112
		// socket; the configuration layer should refuse auth_type AH.
		return dropf(DropAuth, "AH authentication is not supported")
	}
	return nil
}

// Mismatch returns the first discrepancy keepalived logs but accepts (a
// v3 interval differing from ours, or, outside strict mode, addresses
// differing from our VIPs), or nil. Call it on adverts Validate accepted
// and pass the result to DropCounter.Warn.
func Mismatch(a *Advert, want Expect) *DropError {
	if a.Version == 3 && a.AdvertInt != want.AdvertInt {
		return dropf(DropInterval, "interval %d cs, ours is %d cs", a.AdvertInt, want.AdvertInt)
	}
	if !want.Strict && !want.SkipAddrs {
		return checkAddrs(a, want.CheckAddrs)
	}
	return nil
}

// checkAddrs compares the advert's addresses with our VIPs as sets, like
// keepalived: same count, and every VIP present (VIPs are distinct, so
// this makes the sets equal).
func checkAddrs(a *Advert, vips []netip.Addr) *DropError {
	if len(a.Addrs) != len(vips) {
		return dropf(DropAddrCount, "%d addresses, we have %d VIPs", len(a.Addrs), len(vips))
	}
	for _, v := range vips {
		v = plain(v)
		if !slices.ContainsFunc(a.Addrs, func(ip netip.Addr) bool { return plain(ip) == v }) {
			return dropf(DropAddrList, "VIP %v is not in the advert", v)
		}
	}
	return nil
}

// plain strips what netip.Addr equality would trip over but the wire does
// not carry: the IPv4-in-IPv6 mapping and the IPv6 zone that sockets put on
// link-local sources.
func plain(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}
