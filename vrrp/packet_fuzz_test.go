package vrrp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzParseAdvert feeds arbitrary payloads and addresses to ParseAdvert.
// It checks that nothing panics, that every failure is a known
// *DropError, and that whatever parses marshals back to the same bytes
// (modulo the v3 reserved bits) and parses to the same Advert. With
// fixChecksum the fuzzer's bytes get a correct checksum first, so it
// explores more than the checksum check. Seeds: testdata/fuzz/FuzzParseAdvert.
func FuzzParseAdvert(f *testing.F) {
	for _, tc := range goldenCases {
		b, err := tc.adv.Marshal(tc.src, tc.dst)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, tc.src.AsSlice(), tc.dst.AsSlice(), false)
		f.Add(b[:len(b)-1], tc.src.AsSlice(), tc.dst.AsSlice(), true)
	}
	f.Fuzz(func(t *testing.T, b, srcb, dstb []byte, fixChecksum bool) {
		src, _ := netip.AddrFromSlice(srcb)
		dst, _ := netip.AddrFromSlice(dstb)
		if fixChecksum && len(b) >= headerLen {
			b = fuzzFixChecksum(t, b, src, dst)
		}
		orig := bytes.Clone(b)

		a, err := ParseAdvert(b, src, dst)
		if !bytes.Equal(b, orig) {
			t.Fatalf("ParseAdvert modified its input")
		}
		if err != nil {
			var de *DropError
			if !errors.As(err, &de) || !slices.Contains(DropReasons(), de.Reason) {
				t.Fatalf("ParseAdvert error %v (%T) is not a known *DropError", err, err)
			}
			if a != nil {
				t.Fatalf("ParseAdvert returned an advert with error %v", err)
			}
			return
		}

		out, err := a.Marshal(src, dst)
		if err != nil {
			t.Fatalf("parsed %+v but cannot marshal it: %v", a, err)
		}
		wantBytes := orig
		if a.Version == 3 && orig[4]&0xf0 != 0 {
			// Reserved bits are ignored on receipt and sent as zero,
			// which changes the checksum too.
			wantBytes = bytes.Clone(orig)
			wantBytes[4] &= 0x0f
			binary.BigEndian.PutUint16(wantBytes[6:], 0)
			binary.BigEndian.PutUint16(wantBytes[6:], refChecksum(t, 3, wantBytes, src.Unmap(), dst.Unmap()))
		}
		if !bytes.Equal(out, wantBytes) {
			t.Fatalf("marshal(parse(b)) differs:\n b   = %x\n out = %x", wantBytes, out)
		}

		var again Advert
		again.Addrs = make([]netip.Addr, 3) // stale contents must not leak through
		if err := again.Unmarshal(out, src, dst); err != nil {
			t.Fatalf("parse(marshal(parse(b))) failed: %v", err)
		}
		if diff := cmp.Diff(a, &again, addrCmp, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("parse(marshal(parse(b))) (-first +second):\n%s", diff)
		}

		// Validate and Mismatch must cope with anything ParseAdvert lets
		// through, against an instance that matches the advert or not.
		rx := RxMeta{Src: src, Dst: dst, TTL: 255, Unicast: !dst.IsMulticast()}
		fam := FamilyIPv4
		if src.Unmap().Is6() {
			fam = FamilyIPv6
		}
		for _, w := range []Expect{
			{Version: a.Version, VRID: a.VRID, Family: fam, AdvertInt: a.AdvertInt, AuthType: a.AuthType, AuthData: a.AuthData, CheckAddrs: a.Addrs},
			{Version: a.Version, VRID: a.VRID, Family: fam, Strict: true, OwnerPriority: true, UnicastPeers: []netip.Addr{src}, CheckUnicastSrc: true},
			{Version: 3, VRID: 1, Family: FamilyIPv6},
		} {
			if err := Validate(a, rx, w); err != nil {
				var de *DropError
				if !errors.As(err, &de) || !slices.Contains(DropReasons(), de.Reason) {
					t.Fatalf("Validate error %v (%T) is not a known *DropError", err, err)
				}
			}
			_ = Mismatch(a, w)
		}
	})
}

// fuzzFixChecksum returns b with the checksum its version calls for,
// computed by the reference implementation, when the addresses allow one.
func fuzzFixChecksum(t *testing.T, b []byte, src, dst netip.Addr) []byte {
	src, dst = src.Unmap(), dst.Unmap()
	switch b[0] >> 4 {
	case 2:
	case 3:
		if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
			return b
		}
	default:
		return b
	}
	return withRefChecksum(t, b[0]>>4, b, src, dst)
}
