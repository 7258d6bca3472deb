package check

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/vrrp/track"
)

// ErrUnsupported is returned by NewProber for checker kinds it does not
// know.
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
		return NewHTTPCheck(addr, ck)
	case config.CheckMisc:
		if run == nil {
			return nil, fmt.Errorf("MISC_CHECK %q: no runner", ck.MiscPath)
		}
		return NewMiscCheck(ck.MiscPath, ck.MiscTimeout, ck.MiscDynamic, run)
	case config.CheckDNS:
		return NewDNSCheck(addr, ck.BindTo, ck.ConnectTimeout, ck.DNSType, ck.DNSName)
	case config.CheckFile:
		if ck.FilePath == "" {
			return nil, fmt.Errorf("FILE_CHECK %q: no track file path", ck.FileName)
		}
		return &FileCheck{Path: ck.FilePath, Weight: ck.FileWeight, Reverse: ck.FileReverse}, nil
	case config.CheckPing:
		return &PingCheck{Addr: addr.Addr(), BindTo: ck.BindTo, Timeout: ck.ConnectTimeout}, nil
	case config.CheckUDP:
		if ck.UDPReplyMask != nil && len(ck.UDPReplyMask) != len(ck.UDPReply) {
			return nil, fmt.Errorf("UDP_CHECK %v: reply mask of %d bytes for a %d-byte reply", addr, len(ck.UDPReplyMask), len(ck.UDPReply))
		}
		return &UDPCheck{Addr: addr, BindTo: ck.BindTo, Timeout: ck.ConnectTimeout, Payload: ck.UDPPayload,
			RequireReply: ck.UDPRequireReply, Reply: ck.UDPReply, ReplyMask: ck.UDPReplyMask,
			MinReply: ck.UDPMinReply, MaxReply: ck.UDPMaxReply}, nil
	case config.CheckSMTP:
		helo := ck.SMTPHelo
		if helo == "" {
			helo = config.DefaultSMTPHelo
		}
		return &SMTPCheck{Addr: addr, BindTo: ck.BindTo, Timeout: ck.ConnectTimeout, Helo: helo}, nil
	}
	return nil, fmt.Errorf("%s: %w", ck.Kind, ErrUnsupported)
}
