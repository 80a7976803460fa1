package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"steady/internal/config"
)

func newConfigCmd() *cobra.Command {
	var sample bool
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the effective configuration (passwords redacted) and where each value came from",
		Long: `Print every setting steady will use, with passwords redacted, and where
each value came from: a flag, an environment variable, steady.yaml, or the
default. Precedence: flags > environment > steady.yaml > defaults.

With --sample, print a steady.yaml of the defaults in which every key says
what it means, its flag and environment variable, and its range; the
application profile is left out (steady init writes the team's own).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if sample {
				fmt.Fprint(cmd.OutOrStdout(), config.Sample())
				return nil
			}
			l, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if l.File != "" {
				fmt.Fprintf(out, "configuration file: %s\n\n", l.File)
			} else {
				fmt.Fprintf(out, "configuration file: none (./%s not found)\n\n", config.DefaultFile)
			}
			if !l.ProfileGiven() {
				fmt.Fprintln(out, "application profile: none in the file; steady learns it when it starts (through --manage, else from the")
				fmt.Fprintln(out, "database catalog) — `steady init` writes it here to review. The example application's names below are the fallback.")
				fmt.Fprintln(out)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tVALUE\tFROM")
			for _, s := range l.Settings() {
				v := s.Value
				if v == "" {
					v = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, v, s.Source)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&sample, "sample", false, "print a steady.yaml of the defaults, every key commented")
	return cmd
}
