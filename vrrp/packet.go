package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Wire constants of RFC 5798 §5 and RFC 3768 §5.
const (
	// IPProtoVRRP is the IP protocol number (IPv4) / next header (IPv6) of VRRP.
	IPProtoVRRP = 112
	// MulticastTTL is the TTL / hop limit every multicast advert is sent
	// with and must arrive with (RFC 5798 §5.1.1.3, §7.1).
	MulticastTTL = 255
	// TypeAdvertisement is the only VRRP packet type defined.
	TypeAdvertisement = 1

	// VRRPv2 authentication types (RFC 3768 §5.3.6; 1 and 2 were removed
	// by the RFC but keepalived still speaks PASS and AH).
	AuthNone = 0
	AuthPass = 1
	AuthAH   = 2

	// MaxAdvertIntV3 is the largest v3 Max Advertise Interval (12 bits, centiseconds).
	MaxAdvertIntV3 = 0x0fff
	// MaxAdvertIntV2 is the largest v2 Advertisement Interval (8 bits, seconds).
	MaxAdvertIntV2 = 0xff

	headerLen   = 8 // fixed header, both versions
	authDataLen = 8 // v2 trailer
)

// The advert destinations of RFC 5798 §5.1.1.2 and §5.1.2.2.
var (
	GroupIPv4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	GroupIPv6 = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 0x12})
)

// Advert is one VRRP advertisement, the payload after the IP header.
//
// Addresses are kept as received: Marshal and ParseAdvert unmap IPv4-mapped
// IPv6 addresses so that a v4 advert never carries 16-byte addresses.
type Advert struct {
	Version  uint8 // 2 or 3
	Type     uint8 // 1 = ADVERTISEMENT; Marshal writes 0 as 1
	VRID     uint8
	Priority uint8
	// AdvertInt is, in v3, the Max Advertise Interval in centiseconds (12
	// bits) and, in v2, the Advertisement Interval in seconds (8 bits).
	AdvertInt uint16
	AuthType  uint8   // v2 only: AuthNone, AuthPass, AuthAH
	AuthData  [8]byte // v2 only
	Addrs     []netip.Addr
}

// Interval returns AdvertInt as a duration. A zero interval is returned as
// zero: deciding what a master advertising 0 means is the state machine's job.
func (a *Advert) Interval() time.Duration {
	switch a.Version {
	case 3:
		return time.Duration(a.AdvertInt&MaxAdvertIntV3) * 10 * time.Millisecond
	case 2:
		return time.Duration(a.AdvertInt) * time.Second
	}
	return 0
}

// IntervalToField converts a configured advert_int to the wire field the
// way keepalived does (vrrp_complete_instance): zero or negative means the
// 1 s default; v2 rounds to the nearest second (half up), at least 1, at
// most 255; v3 rounds to the nearest 10 ms (half up), 1..4095 centiseconds.
// keepalived rounds 255.5–255.99 s up to 256, which its 8-bit field then
// truncates to 0; we clamp to 255 instead. An unknown version yields 0.
func IntervalToField(version uint8, d time.Duration) uint16 {
	if d <= 0 {
		d = time.Second
	}
	var unit time.Duration
	var maxv int64
	switch version {
	case 2:
		unit, maxv = time.Second, MaxAdvertIntV2
	case 3:
		unit, maxv = 10*time.Millisecond, MaxAdvertIntV3
	default:
		return 0
	}
	n := int64((d + unit/2) / unit)
	return uint16(min(max(n, 1), maxv))
}

// PassAuth returns the v2 PASS authentication data for a password: like
// keepalived, only the first 8 bytes count and shorter ones are zero padded.
func PassAuth(pass string) [8]byte {
	var b [8]byte
	copy(b[:], pass)
	return b
}

// Marshal encodes the advert with its checksum. src and dst are the IP
// source and destination the packet will be sent with: v3 checksums cover
// them (pseudo-header); v2 ignores them, but an IPv6 one is an error.
func (a *Advert) Marshal(src, dst netip.Addr) ([]byte, error) {
	return a.AppendMarshal(make([]byte, 0, a.wireLen()), src, dst)
}

// AppendMarshal is Marshal appending to b; it does not allocate when b has
// room. On error b is returned unchanged.
func (a *Advert) AppendMarshal(b []byte, src, dst netip.Addr) ([]byte, error) {
	src, dst = src.Unmap(), dst.Unmap()
	v6, err := a.checkMarshal(src, dst)
	if err != nil {
		return b, err
	}
	start := len(b)
	typ := a.Type
	if typ == 0 {
		typ = TypeAdvertisement
	}
	b = append(b, a.Version<<4|typ, a.VRID, a.Priority, uint8(len(a.Addrs)))
	if a.Version == 3 {
		b = append(b, uint8(a.AdvertInt>>8), uint8(a.AdvertInt), 0, 0)
	} else {
		b = append(b, a.AuthType, uint8(a.AdvertInt), 0, 0)
	}
	for _, ip := range a.Addrs {
		if v6 {
			a16 := ip.As16()
			b = append(b, a16[:]...)
		} else {
			a4 := ip.Unmap().As4()
			b = append(b, a4[:]...)
		}
	}
	if a.Version == 2 {
		b = append(b, a.AuthData[:]...)
	}
	msg := b[start:]
	binary.BigEndian.PutUint16(msg[6:], checksum(a.Version, msg, src, dst))
	return b, nil
}

func (a *Advert) wireLen() int {
	n := headerLen + len(a.Addrs)*4
	if a.Version == 2 {
		n += authDataLen
	} else if len(a.Addrs) > 0 && !a.Addrs[0].Unmap().Is4() {
		n = headerLen + len(a.Addrs)*16
	}
	return n
}

// checkMarshal reports whether the advert is IPv6 and whether it can be
// encoded at all; src and dst are already unmapped.
func (a *Advert) checkMarshal(src, dst netip.Addr) (v6 bool, err error) {
	switch {
	case a.Type != 0 && a.Type != TypeAdvertisement:
		return false, fmt.Errorf("vrrp: marshal: unknown type %d", a.Type)
	case len(a.Addrs) > 255:
		return false, fmt.Errorf("vrrp: marshal: %d addresses, at most 255 fit", len(a.Addrs))
	}
	switch a.Version {
	case 2:
		if src.Is6() || dst.Is6() {
			return false, errors.New("vrrp: marshal: VRRPv2 is IPv4 only")
		}
		if a.AdvertInt > MaxAdvertIntV2 {
			return false, fmt.Errorf("vrrp: marshal: v2 interval %d s exceeds %d", a.AdvertInt, MaxAdvertIntV2)
		}
	case 3:
		if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
			return false, fmt.Errorf("vrrp: marshal: v3 needs a source and destination of one family, got %v and %v", src, dst)
		}
		if a.AdvertInt > MaxAdvertIntV3 {
			return false, fmt.Errorf("vrrp: marshal: v3 interval %d cs exceeds %d", a.AdvertInt, MaxAdvertIntV3)
		}
		v6 = src.Is6()
	default:
		return false, fmt.Errorf("vrrp: marshal: unknown version %d", a.Version)
	}
	for _, ip := range a.Addrs {
		if !ip.IsValid() || ip.Unmap().Is6() != v6 {
			return false, fmt.Errorf("vrrp: marshal: address %v does not match the packet's family (IPv6=%t)", ip, v6)
		}
	}
	return v6, nil
}

// ParseAdvert decodes a VRRP payload received from src to dst: structure,
// length and checksum only. Whether the advert is for us and acceptable is
// Validate's job. Errors are *DropError.
//
// The length must be exact. keepalived also tolerates Ethernet padding,
// but the kernel trims IPv4 and IPv6 packets to their IP length before a
// raw socket sees them, so padding never reaches us. Adverts with
// keepalived's recent auth_hmac trailer are therefore dropped as too long.
func ParseAdvert(b []byte, src, dst netip.Addr) (*Advert, error) {
	a := new(Advert)
	if err := a.parse(b, src, dst); err != nil {
		return nil, err
	}
	return a, nil
}

// Unmarshal is ParseAdvert into an existing Advert, reusing its Addrs
// storage, for receive loops that want no per-packet allocation. On error
// the contents of a are unspecified.
func (a *Advert) Unmarshal(b []byte, src, dst netip.Addr) error {
	if err := a.parse(b, src, dst); err != nil {
		return err
	}
	return nil
}

func (a *Advert) parse(b []byte, src, dst netip.Addr) *DropError {
	if len(b) < headerLen {
		return dropf(DropLength, "%d bytes, shorter than the %d-byte header", len(b), headerLen)
	}
	version, typ := b[0]>>4, b[0]&0x0f
	if version != 2 && version != 3 {
		return dropf(DropVersion, "unknown version %d", version)
	}
	if typ != TypeAdvertisement {
		return dropf(DropType, "type %d, want %d", typ, TypeAdvertisement)
	}
	src, dst = src.Unmap(), dst.Unmap()
	addrLen := 4
	switch {
	case version == 2 && (src.Is6() || dst.Is6()):
		return dropf(DropFamily, "VRRPv2 from %v to %v: v2 is IPv4 only", src, dst)
	case version == 3 && (!src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4()):
		return dropf(DropFamily, "v3 needs a source and destination of one family, got %v and %v", src, dst)
	case version == 3 && src.Is6():
		addrLen = 16
	}
	n := int(b[3])
	want := headerLen + n*addrLen
	if version == 2 {
		want += authDataLen
	}
	if len(b) != want {
		return dropf(DropLength, "%d bytes, want %d for %d addresses", len(b), want, n)
	}
	if sum := checksum(version, b, src, dst); sum != 0 {
		// Summing over the stored checksum yields 0 when it is right.
		return dropf(DropChecksum, "checksum 0x%04x is off by 0x%04x", binary.BigEndian.Uint16(b[6:]), sum)
	}

	a.Version, a.Type, a.VRID, a.Priority = version, typ, b[1], b[2]
	if version == 3 {
		// The 4 reserved bits are ignored on receipt (RFC 5798 §5.2, Rsvd).
		a.AdvertInt = binary.BigEndian.Uint16(b[4:]) & MaxAdvertIntV3
		a.AuthType, a.AuthData = AuthNone, [8]byte{}
	} else {
		a.AuthType, a.AdvertInt = b[4], uint16(b[5])
		copy(a.AuthData[:], b[want-authDataLen:])
	}
	if cap(a.Addrs) < n {
		a.Addrs = make([]netip.Addr, 0, n)
	}
	a.Addrs = a.Addrs[:0]
	for i := range n {
		off := headerLen + i*addrLen
		if addrLen == 4 {
			a.Addrs = append(a.Addrs, netip.AddrFrom4([4]byte(b[off:off+4])))
		} else {
			a.Addrs = append(a.Addrs, netip.AddrFrom16([16]byte(b[off:off+16])))
		}
	}
	return nil
}

// checksum returns the Internet checksum (RFC 1071) of msg: v3 with the
// IPv4 (RFC 768) or IPv6 (RFC 8200 §8.1) pseudo-header for protocol 112,
// v2 over the message alone (RFC 3768 §5.3.8). With the checksum field
// zeroed it is the value to send; over a received message it is 0 when
// the stored checksum is right. src and dst must be unmapped.
func checksum(version uint8, msg []byte, src, dst netip.Addr) uint16 {
	var acc uint32
	if version == 3 {
		if src.Is4() {
			s, d := src.As4(), dst.As4()
			acc = sum16(acc, s[:])
			acc = sum16(acc, d[:])
		} else {
			s, d := src.As16(), dst.As16()
			acc = sum16(acc, s[:])
			acc = sum16(acc, d[:])
			acc += uint32(len(msg)) >> 16 // upper half of the 32-bit length
		}
		acc += IPProtoVRRP + uint32(len(msg))&0xffff
	}
	acc = sum16(acc, msg)
	for acc>>16 != 0 {
		acc = acc&0xffff + acc>>16
	}
	return ^uint16(acc)
}

// sum16 adds b to acc as big-endian 16-bit words, an odd last byte padded
// with zero. acc cannot overflow: VRRP messages are at most 4 KiB.
func sum16(acc uint32, b []byte) uint32 {
	for len(b) >= 2 {
		acc += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	return acc
}
