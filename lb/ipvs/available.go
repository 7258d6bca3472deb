package ipvs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// procIPVS exists, in every network namespace, once the kernel has IPVS
// (built in, or the ip_vs module loaded).
const procIPVS = "/proc/net/ip_vs"

// ErrUnavailable is Available's answer on a kernel without IPVS.
var ErrUnavailable = errors.New("IPVS is not available: /proc/net/ip_vs is missing; load the ip_vs module (modprobe ip_vs) or use lb_dataplane nftables")

// Available reports whether this kernel has IPVS now: nil when
// /proc/net/ip_vs exists, else ErrUnavailable. It loads nothing (New does
// try modprobe, as keepalived does).
func Available() error { return available(procIPVS) }

func available(path string) error {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return ErrUnavailable
	}
	return fmt.Errorf("IPVS: %w", err)
}
