// Command viplab builds a network-namespace lab (a bridge as the LAN, N
// nodes, a gateway, a client) for trying vipd by hand, and watches which
// node holds a VIP.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "viplab:", err)
		os.Exit(1)
	}
}
