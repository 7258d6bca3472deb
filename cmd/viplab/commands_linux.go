package main

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vipd/vipd/internal/lab"
)

const defaultPrefix = "demo"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "viplab",
		Short:         "Network-namespace lab for vipd: a LAN of nodes, a gateway and a client",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newUpCmd(), newDownCmd(), newShowCmd(), newObserveCmd(), newDemoCmd())
	return root
}

func newUpCmd() *cobra.Command {
	var (
		o    lab.Options
		wait bool
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Create the lab and print its namespaces and addresses",
		Long: `Create namespaces PREFIX-sw (bridge br0), PREFIX-gw, PREFIX-n1..nN and
PREFIX-client, each host with eth0 on the bridge. The lab stays until
"viplab down" (or, with --wait, until interrupted).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := lab.New(cmd.Context(), o)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), l.Describe())
			n1 := l.Nodes[0]
			fmt.Fprintf(cmd.OutOrStdout(), "\nshell in n1:  ip netns exec %s bash\nVIP example:  %v   observe: viplab observe --prefix %s --vip %v\n",
				n1.NS, l.Addr4(200), o.Name, l.Addr4(200))
			if !wait {
				fmt.Fprintf(cmd.OutOrStdout(), "remove with:  viplab down --prefix %s\n", o.Name)
				return nil
			}
			fmt.Fprintln(cmd.OutOrStdout(), "up; interrupt to remove it")
			<-cmd.Context().Done()
			return l.Close()
		},
	}
	cmd.Flags().StringVar(&o.Name, "prefix", defaultPrefix, "namespace name prefix (names are PREFIX-ROLE)")
	cmd.Flags().IntVar(&o.Nodes, "nodes", 3, "number of nodes (1-89)")
	cmd.Flags().BoolVar(&o.IPv6, "ipv6", false, "also give hosts addresses in fd00:99:X::/64")
	cmd.Flags().IntVar(&o.Subnet, "subnet", 0, "X in 10.99.X.0/24 (0 picks one)")
	cmd.Flags().BoolVar(&wait, "wait", false, "stay in the foreground and remove the lab on interrupt")
	return cmd
}

func newDownCmd() *cobra.Command {
	var prefix string
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Remove the lab's namespaces (and labs left by crashed test runs of that prefix)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			removed, err := lab.Sweep(prefix)
			for _, n := range removed {
				fmt.Fprintln(cmd.OutOrStdout(), "removed", n)
			}
			if err == nil && len(removed) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "no lab namespaces with prefix %q\n", prefix)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&prefix, "prefix", defaultPrefix, "namespace name prefix")
	return cmd
}

func newShowCmd() *cobra.Command {
	var prefix string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print a running lab's namespaces and addresses",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := lab.Attach(prefix)
			if err != nil {
				return err
			}
			defer l.Close()
			fmt.Fprint(cmd.OutOrStdout(), l.Describe())
			return nil
		},
	}
	cmd.Flags().StringVar(&prefix, "prefix", defaultPrefix, "namespace name prefix")
	return cmd
}

func newObserveCmd() *cobra.Command {
	var (
		prefix string
		vips   []string
		dur    time.Duration
		every  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "observe",
		Short: "Watch which nodes hold the VIPs, then print split-brain and no-holder times",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(vips) == 0 {
				return errors.New("at least one --vip is required")
			}
			var addrs []netip.Addr
			for _, v := range vips {
				a, err := netip.ParseAddr(v)
				if err != nil {
					return fmt.Errorf("--vip: %w", err)
				}
				addrs = append(addrs, a)
			}
			l, err := lab.Attach(prefix)
			if err != nil {
				return err
			}
			defer l.Close()
			o := lab.NewObserver(l, addrs, every)
			if err := o.Start(); err != nil {
				return err
			}
			rep := watch(cmd, o, addrs, dur)
			fmt.Fprint(cmd.OutOrStdout(), rep.String())
			return o.Err()
		},
	}
	cmd.Flags().StringVar(&prefix, "prefix", defaultPrefix, "namespace name prefix of the lab")
	cmd.Flags().StringSliceVar(&vips, "vip", nil, "VIP to watch (repeatable)")
	cmd.Flags().DurationVar(&dur, "for", 30*time.Second, "how long to observe (interrupt ends early)")
	cmd.Flags().DurationVar(&every, "every", lab.DefaultEvery, "sampling interval")
	return cmd
}

// watch prints each change of holders as it is seen until dur passes or
// the command is interrupted, then stops the observer.
func watch(cmd *cobra.Command, o *lab.Observer, vips []netip.Addr, dur time.Duration) lab.Report {
	start := time.Now()
	last := map[netip.Addr][]string{}
	tick := time.NewTicker(20 * time.Millisecond) // display only; the observer samples faster
	defer tick.Stop()
	end := time.After(dur)
	for {
		for _, v := range vips {
			h := o.Holders(v)
			if prev, ok := last[v]; !ok || !slices.Equal(prev, h) {
				who := strings.Join(h, ",")
				if who == "" {
					who = "(nobody)"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "+%-9v %v held by %s\n", time.Since(start).Round(time.Millisecond), v, who)
				last[v] = h
			}
		}
		select {
		case <-tick.C:
		case <-end:
			return o.Stop()
		case <-cmd.Context().Done():
			return o.Stop()
		}
	}
}
