package main

import (
	"net/url"

	"github.com/spf13/cobra"
)

func newServeCmd(g *globals) *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway, API, dashboard and /metrics",
		Long: `Run the gateway. Point tools at it:
  OPENAI_BASE_URL=http://HOST:8787/v1  OPENAI_API_KEY=<allot key>
  ANTHROPIC_BASE_URL=http://HOST:8787  ANTHROPIC_API_KEY=<allot key>
On SIGTERM or SIGINT it stops accepting calls, drains those in flight,
writes every usage event and exits 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load()
			if err != nil {
				return err
			}
			if listen != "" {
				cfg.Listen = listen
			}
			srv, err := startServer(cmd.Context(), cfg, serverOptions{})
			if err != nil {
				return err
			}
			scheme := "http://"
			if cfg.TLS.Enabled() {
				scheme = "https://"
			}
			srv.logger.Info("allot is serving", "listen", scheme+srv.addr, "database", redactedDatabase(cfg.Database))
			return srv.wait(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "address to listen on (overrides the config's listen)")
	return cmd
}

// redactedDatabase is database fit for a log line: a URL's password is
// replaced by xxxxx.
func redactedDatabase(database string) string {
	u, err := url.Parse(database)
	if err != nil || u.User == nil {
		return database
	}
	return u.Redacted()
}
