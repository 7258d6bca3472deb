// Command vipbench is `make bench`: it runs vipd and keepalived through the
// same scenarios in a namespace lab and writes docs/benchmarks.md and the
// plot of failover times (see internal/bench).
//
//	vipbench [--reps N] [--quick] [--out docs/benchmarks.md] [--plot docs/benchmarks.png] [--bin bin]
//
// It also has two internal modes it runs in lab namespaces itself:
// `vipbench serve-tcp` (the real servers) and `vipbench check-tcp` (vipd's
// TCP_CHECK checkers, package lb/check).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vipd/vipd/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if len(os.Args) > 1 && (os.Args[1] == "serve-tcp" || os.Args[1] == "check-tcp") {
		err = child(ctx, os.Args[1], os.Args[2:])
	} else {
		err = runBench(ctx, os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vipbench:", err)
		os.Exit(1)
	}
}

func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("vipbench", flag.ContinueOnError)
	reps := fs.Int("reps", 0, "repetitions of every failover scenario (default 5, 1 with --quick)")
	quick := fs.Bool("quick", false, "smoke test: 1 repetition, sizes 1 and 100, short windows")
	out := fs.String("out", "docs/benchmarks.md", "markdown report to write")
	plot := fs.String("plot", "docs/benchmarks.png", "PNG plot to write")
	bin := fs.String("bin", "bin", "directory holding vipd and vipctl")
	keepalived := fs.String("keepalived", "/usr/sbin/keepalived", "keepalived binary")
	fast := fs.String("fast-advert", "0.1", "the fast advert_int (VRRPv3) of the failover rows")
	saveJSON := fs.String("save-json", "", "also save the measurements to this JSON file")
	fromJSON := fs.String("from-json", "", "measure nothing: render --out and --plot from a file written by --save-json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *fromJSON != "" {
		b, err := os.ReadFile(*fromJSON)
		if err != nil {
			return err
		}
		var r bench.Report
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", *fromJSON, err)
		}
		return bench.Write(&r, *out, *plot)
	}
	o := bench.DefaultOptions(*quick)
	if *reps > 0 {
		o.Reps = *reps
	}
	o.Adverts = []string{"1", *fast}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	absBin, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	o.Bins = bench.Bins{Dir: absBin, Keepalived: *keepalived, Self: self}
	o.Command = commandLine(args)
	o.Plot = filepath.Base(*plot)
	start := time.Now()
	o.Logf = func(format string, a ...any) {
		fmt.Printf("[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, a...))
	}
	r, err := bench.Run(ctx, o)
	if err != nil {
		return err
	}
	if *saveJSON != "" {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*saveJSON, b, 0o644); err != nil {
			return err
		}
	}
	if err := bench.Write(r, *out, *plot); err != nil {
		return err
	}
	fmt.Print(r.Table())
	fmt.Printf("\nwrote %s and %s in %s\n", *out, *plot, r.Runtime.Round(time.Second))
	return nil
}

// child runs one of the internal modes until SIGTERM.
func child(ctx context.Context, mode string, args []string) error {
	fs := flag.NewFlagSet(mode, flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1", "real servers' address")
	port := fs.Int("port", 20000, "first port")
	count := fs.Int("count", 1000, "number of real servers (ports)")
	delay := fs.Duration("delay-loop", time.Second, "check-tcp: delay_loop")
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := netip.ParseAddr(*addr)
	if err != nil {
		return err
	}
	if mode == "serve-tcp" {
		return bench.ServeTCP(ctx, a, *port, *count)
	}
	return bench.RunTCPCheckers(ctx, a, *port, *count, *delay, os.Stdout)
}

// commandLine is the command as the report shows it: the run's flags
// without --save-json, which only says where this run kept a copy.
func commandLine(args []string) string {
	out := []string{"./bin/vipbench"}
	for i := 0; i < len(args); i++ {
		a := strings.TrimLeft(args[i], "-")
		switch {
		case a == "save-json":
			i++
		case strings.HasPrefix(a, "save-json="):
		default:
			out = append(out, args[i])
		}
	}
	return strings.Join(out, " ")
}
