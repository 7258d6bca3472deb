package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/vipd/vipd/internal/demo"
)

func newDemoCmd() *cobra.Command {
	var binDir string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the vipd demo: three nodes in a namespace lab, failovers measured by the observer",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Geteuid() != 0 {
				return demo.ErrNotRoot
			}
			return demo.Run(cmd.Context(), demo.Options{BinDir: binDir, Out: cmd.OutOrStdout()})
		},
	}
	cmd.Flags().StringVar(&binDir, "bin", "bin", "directory holding vipd and vipctl")
	return cmd
}
