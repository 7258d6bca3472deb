package check

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/vrrp/track"
)

// ErrUnsupported is returned by NewProber for checker kinds that are not
// probes (FILE_CHECK reads a vrrp_track_file; the caller wires it).
var ErrUnsupported = errors.New("checker kind not supported by this package")

// NewProber builds the prober for ck on the real server rs. run executes
// MISC_CHECK commands (track.ExecRunner{} in the daemon); it may be nil
// for other kinds.
func NewProber(ck *config.Checker, rs netip.AddrPort, run track.Runner) (Prober, error) {
	addr := target(ck, rs)
	switch ck.Kind {
	case config.CheckTCP:
		return &TCPCheck{Addr: addr, BindTo: ck.BindTo, Timeout: ck.ConnectTimeout}, nil
	case config.CheckHTTP, config.CheckSSL:
		if len(ck.URLs) == 0 {
			return nil, fmt.Errorf("%s %v: no url", ck.Kind, addr)
		}
		return NewHTTPCheck(addr, ck.BindTo, ck.ConnectTimeout, ck.Kind == config.CheckSSL, ck.URLs), nil
	case config.CheckMisc:
		if run == nil {
			return nil, fmt.Errorf("MISC_CHECK %q: no runner", ck.MiscPath)
		}
		return NewMiscCheck(ck.MiscPath, ck.MiscTimeout, ck.MiscDynamic, run)
	case config.CheckDNS:
		return NewDNSCheck(addr, ck.BindTo, ck.ConnectTimeout, ck.DNSType, ck.DNSName)
	}
	return nil, fmt.Errorf("%s: %w", ck.Kind, ErrUnsupported)
}
