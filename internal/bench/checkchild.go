package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/lb/check"
)

// ServeTCP listens on addr:port..port+count-1 and accepts and closes every
// connection until ctx ends: the 1,000 "real servers" of the checker row.
func ServeTCP(ctx context.Context, addr netip.Addr, port, count int) error {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := range count {
		l, err := net.Listen("tcp", netip.AddrPortFrom(addr, uint16(port+i)).String())
		if err != nil {
			return fmt.Errorf("bench: listen: %w", err)
		}
		ls = append(ls, l)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	<-ctx.Done()
	return nil
}

// RunTCPCheckers runs count lb/check TCP_CHECK checkers, one per real
// server addr:port+i, at delay_loop delay with connect_timeout 1 s, the
// way the daemon will, and writes a one-line summary to w every 10 s.
// It returns nil when ctx ends.
func RunTCPCheckers(ctx context.Context, addr netip.Addr, port, count int, delay time.Duration, w io.Writer) error {
	if count <= 0 {
		return errors.New("bench: no real servers")
	}
	updates := make(chan check.Status, count)
	ck := &config.Checker{Kind: config.CheckTCP, ConnectTimeout: time.Second, DelayLoop: delay}
	for i := range count {
		p, err := check.NewProber(ck, netip.AddrPortFrom(addr, uint16(port+i)), nil)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		// warmup spreads the first probes over one delay_loop, as
		// keepalived's checker does at start.
		c := check.NewChecker(strconv.Itoa(i), p, check.Timing{DelayLoop: delay, Warmup: delay}, check.Options{})
		go c.Run(ctx, updates)
	}
	up := make(map[string]bool, count)
	probes := 0
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case st := <-updates:
			up[st.Key] = st.Up
			if !st.LastCheck.IsZero() {
				probes++
			}
		case <-tick.C:
			n := 0
			for _, u := range up {
				if u {
					n++
				}
			}
			fmt.Fprintf(w, "checkers: %d real servers, %d up, %d probes in the last 10 s\n", count, n, probes)
			probes = 0
		}
	}
}
