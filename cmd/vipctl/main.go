// Command vipctl inspects and controls a running vipd over its control
// socket.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/control"
	"github.com/vipd/vipd/vrrp"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	if err := newRoot(os.Stdout, os.Stderr).Execute(); err != nil {
		os.Exit(1)
	}
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	var socket string
	root := &cobra.Command{
		Use:           "vipctl",
		Short:         "Inspect and control a running vipd",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&socket, "control-socket", control.DefaultSocket, "vipd control socket")

	var asJSON, clusterView bool
	status := &cobra.Command{
		Use:   "status",
		Short: "Show each VRRP instance: state, priorities, master, VIPs, trackers, last transition",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			st, err := control.NewClient(socket).Status(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			printStatus(cmd.OutOrStdout(), st, time.Now())
			if clusterView {
				printCluster(cmd.OutOrStdout(), st)
			}
			return nil
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	status.Flags().BoolVar(&clusterView, "cluster", false, "also show every member's instances as gossip sees them")

	reload := &cobra.Command{
		Use:   "reload",
		Short: "Re-read the configuration; a broken one is rejected and the running one stays",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
			defer cancel()
			if err := control.NewClient(socket).Reload(ctx); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "reloaded")
			return nil
		},
	}

	var to string
	handover := &cobra.Command{
		Use:   "handover INSTANCE [--to NODE]",
		Short: "Hand a MASTER instance here over to a backup (planned move; this node then does not preempt it back)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
			defer cancel()
			if err := control.NewClient(socket).Handover(ctx, args[0], to); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s handed over\n", args[0])
			return nil
		},
	}

	handover.Flags().StringVar(&to, "to", "", "the node that should take over (needs the arbiter); default: the highest-priority backup")

	var file, configID string
	check := &cobra.Command{
		Use:   "check",
		Short: "Validate a configuration file (same as vipd -t -f FILE)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("config-id") {
				configID = config.DefaultConfigID()
			}
			cfg, warns, err := config.Load(file, config.WithConfigID(configID))
			for _, w := range warns {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w.String())
			}
			if err != nil {
				return err
			}
			for _, f := range vrrp.VetScripts(cfg) {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning: scripts:", f)
			}
			sum := config.Summarize(warns)
			if sum.IgnoredAffecting > 0 {
				return fmt.Errorf("%s: not a drop-in: %s", file, sum)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: configuration OK (%d instances, %d virtual servers; %s)\n",
				file, len(cfg.Instances), len(cfg.VirtualServers), sum)
			return nil
		},
	}
	check.Flags().StringVarP(&file, "file", "f", "/etc/keepalived/keepalived.conf", "configuration file")
	check.Flags().StringVarP(&configID, "config-id", "i", "", "config id for @ID conditional lines (vipd -i; default: the host name up to its first dot)")

	ver := &cobra.Command{
		Use:   "version",
		Short: "Print vipctl's version",
		Args:  cobra.NoArgs,
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "vipctl", version) },
	}
	root.AddCommand(status, reload, handover, check, ver)
	return root
}

func printStatus(w io.Writer, st control.Status, now time.Time) {
	fmt.Fprintf(w, "node %s  config %s  up %s\n\n", st.Node, st.ConfigFile, now.Sub(st.Started).Round(time.Second))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tVRID\tIFACE\tSTATE\tPRIO\tBASE\tMASTER\tVIPS\tLAST TRANSITION")
	for _, in := range st.Instances {
		last := "-"
		if in.Last.To != "" {
			last = fmt.Sprintf("%s→%s %s ago: %s", in.Last.From, in.Last.To, now.Sub(in.Last.At).Round(time.Second), in.Last.Reason)
		}
		master := in.MasterAddr
		if master == "" {
			master = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", in.Name, in.VRID, in.Interface, in.State,
			in.Priority, in.BasePriority, master, strings.Join(in.VIPs, ","), last)
	}
	tw.Flush()
	for _, in := range st.Instances {
		if len(in.Trackers) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s trackers:\n", in.Name)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  NAME\tKIND\tRESULT\tWEIGHT\tDETAIL")
		for _, t := range in.Trackers {
			res := "pending"
			switch {
			case t.Known && t.OK:
				res = "ok"
			case t.Known:
				res = "failed"
			}
			if t.Kind == "file" && t.Known {
				res = fmt.Sprintf("value %d", t.Value)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\n", t.Name, t.Kind, res, t.Weight, t.Detail)
		}
		tw.Flush()
	}
	if st.LB != nil {
		printLB(w, *st.LB, now)
	}
}

// printLB shows the load balancer: one line per real server, then its
// checkers with their last result.
func printLB(w io.Writer, lb control.LBStatus, now time.Time) {
	applied := "never"
	if !lb.Applied.IsZero() {
		applied = now.Sub(lb.Applied).Round(time.Second).String() + " ago"
	}
	if lb.Pending {
		applied += "; changes below not in the kernel yet"
	}
	fmt.Fprintf(w, "\nload balancer (%s, applied %s)\n", lb.Dataplane, applied)
	if lb.Error != "" {
		fmt.Fprintf(w, "  DATA PLANE ERROR: %s\n", lb.Error)
	}
	for _, vs := range lb.VirtualServers {
		q := "quorum"
		switch {
		case vs.Sorry:
			q = "NO QUORUM, sorry server serving"
		case !vs.Quorum:
			q = "NO QUORUM"
		}
		fmt.Fprintf(w, "\n  %s  %s %s  %s\n", vs.Name, vs.Algo, vs.Kind, q)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "    REAL SERVER\tSTATE\tWEIGHT\tCHECKER\tRESULT\tLAST CHECK\tDETAIL")
		for _, rs := range vs.RealServers {
			state := "UP"
			switch {
			case !rs.Alive && rs.InTable:
				state = "DOWN (inhibited)"
			case !rs.Alive:
				state = "DOWN"
			}
			weight := "-"
			if rs.InTable {
				weight = fmt.Sprint(rs.Weight)
			}
			if len(rs.Checkers) == 0 {
				fmt.Fprintf(tw, "    %s\t%s\t%s\t-\t-\t-\t-\n", rs.Addr, state, weight)
			}
			for i, ck := range rs.Checkers {
				res, last := "up", "-"
				if !ck.Up {
					res = "down"
				}
				if ck.Failures > 0 {
					res += fmt.Sprintf(" (%d failed)", ck.Failures)
				}
				if !ck.LastCheck.IsZero() {
					last = now.Sub(ck.LastCheck).Round(time.Millisecond).String() + " ago"
				}
				addr, st, wt := rs.Addr, state, weight
				if i > 0 {
					addr, st, wt = "", "", ""
				}
				fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\t%s\t%s\n", addr, st, wt, ck.Kind, res, last, ck.Detail)
			}
		}
		tw.Flush()
	}
}

func printCluster(w io.Writer, st control.Status) {
	fmt.Fprintln(w, "\ncluster (gossip):")
	if len(st.Cluster) == 0 {
		fmt.Fprintln(w, "  no gossip view (no memberlist block in the arbiter)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NODE\tADDR\tMEMBER\tUNIT\tSTATE\tPRIO\tTOKEN\tGATEWAY")
	for _, m := range st.Cluster {
		if len(m.Instances) == 0 {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t-\t-\t-\t-\t-\n", m.Node, m.Addr, m.State)
		}
		for _, in := range m.Instances {
			gw := "ok"
			if !in.GatewayOK {
				gw = "DOWN"
			}
			tok := "-"
			if in.Token != 0 {
				tok = fmt.Sprint(in.Token)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", m.Node, m.Addr, m.State, in.Name, in.State, in.Priority, tok, gw)
		}
	}
	tw.Flush()
}
