// Command vipd is the vipd daemon: keepalived-compatible VRRP with VIPs
// fenced by the kernel. It runs in the foreground; see docs/.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/control"
	"github.com/vipd/vipd/vrrp"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	file       string
	configID   string // keepalived -i: selects "@ID" conditional lines
	test       bool
	console    bool
	logFormat  string
	logLevel   string
	node       string
	socket     string
	version    bool
	dontFork   bool // keepalived -n: accepted, vipd never forks
	logDetail  bool // keepalived -D: accepted
	vrrpOnly   bool // keepalived -P: accepted
	dumpConfig bool
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := pflag.NewFlagSet("vipd", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVarP(&o.file, "use-file", "f", "/etc/keepalived/keepalived.conf", "configuration file (keepalived.conf syntax)")
	fs.StringVarP(&o.configID, "config-id", "i", "", "config id for @ID conditional lines and ${_INSTANCE} (default: the host name up to its first dot)")
	fs.BoolVarP(&o.test, "config-test", "t", false, "check the configuration and exit: file:line errors, non-zero on error")
	fs.BoolVarP(&o.console, "log-console", "l", false, "log to the console (stderr); vipd always does, kept for keepalived command lines")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&o.node, "node-name", "", "this node's name (default: the host name)")
	fs.StringVar(&o.socket, "control-socket", control.DefaultSocket, "control socket path (vipctl)")
	fs.BoolVarP(&o.version, "version", "v", false, "print the version and exit")
	fs.BoolVarP(&o.dontFork, "dont-fork", "n", false, "accepted for keepalived compatibility (vipd runs in the foreground)")
	fs.BoolVarP(&o.logDetail, "log-detail", "D", false, "accepted for keepalived compatibility")
	fs.BoolVarP(&o.vrrpOnly, "vrrp", "P", false, "run VRRP only: no load balancer, as keepalived -P")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "vipd: %v (vipd --help lists the flags)\n", err)
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, "vipd", version)
		return 0
	}
	// Fixed once, as keepalived does, so a reload reads the same lines.
	if !fs.Changed("config-id") {
		o.configID = config.DefaultConfigID()
	}

	cfg, warns, err := config.Load(o.file, config.WithConfigID(o.configID))
	for _, w := range warns {
		fmt.Fprintln(stderr, "warning:", w.String())
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	// Script security vets the files the scripts name: the daemon runs
	// what passes, and -t reports the same findings.
	findings := vrrp.VetScripts(cfg)
	if o.test {
		for _, f := range findings {
			fmt.Fprintln(stderr, "warning: scripts:", f)
		}
		// A keyword keepalived would move VIPs or traffic with, ignored
		// here, fails the check: the configuration would not do what it
		// says.
		sum := config.Summarize(warns)
		if sum.IgnoredAffecting > 0 {
			fmt.Fprintf(stderr, "%s: not a drop-in: %s\n", o.file, sum)
			return 1
		}
		fmt.Fprintf(stdout, "%s: configuration OK (%d instances, %d virtual servers; %s; %d script findings)\n",
			o.file, len(cfg.Instances), len(cfg.VirtualServers), sum, len(findings))
		return 0
	}

	log, err := newLogger(stderr, o.logFormat, o.logLevel)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if o.node == "" {
		o.node, _ = os.Hostname()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	for _, f := range findings {
		log.Warn("script security", "finding", f)
	}
	d, err := newDaemon(o, cfg, log)
	if err == nil {
		err = d.run(ctx)
	}
	if err != nil {
		log.Error("vipd stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
