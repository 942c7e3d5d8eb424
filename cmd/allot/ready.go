package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/allot-dev/allot/budget"
	"github.com/allot-dev/allot/config"
	"github.com/allot-dev/allot/ledger"
)

// readiness is the gateway's /readyz check beyond the key directory: the
// replica is not ready while usage events wait in the spool (the ledger
// store refuses them) or while the shared budget counters are unreachable
// (calls are then refused, or counted in this process only). Either way
// it still serves what its failure_policy allows; load balancers should
// prefer a replica that is whole. The reasons name no host: /readyz is
// not authenticated, and the logs say more.
// fo is nil when the counters live in this process's memory.
func readiness(w *ledger.Writer, fo *budget.Failover) func(context.Context) error {
	return func(context.Context) error {
		if n := w.Spooled(); n > 0 {
			return fmt.Errorf("the ledger store is unreachable: %d usage events wait in the spool for it", n)
		}
		if fo != nil && !fo.Reachable() {
			return fmt.Errorf("the budget counters are unreachable: calls are counted under failure_policy until they answer")
		}
		return nil
	}
}

// missingProviderKeys names each provider whose key variable
// (api_key_env) is unset or empty. allot still starts, so the other
// providers serve, but without a word its calls would only show up later
// as 502s from the upstream: serve logs a warning for each and /readyz
// reports them. It names the variable, never a value. A provider with no
// api_key_env (a local model, the demo's simulator) needs no key.
func missingProviderKeys(providers []config.Provider, getenv func(string) string) []string {
	var out []string
	for _, p := range providers {
		if p.APIKeyFile != "" || p.APIKeyEnv == "" {
			continue // a key file that cannot be read stops serve (upstreams)
		}
		if strings.TrimSpace(getenv(p.APIKeyEnv)) == "" {
			out = append(out, fmt.Sprintf("provider %s has no key: %s is not set, so its calls fail until it is", p.Name, p.APIKeyEnv))
		}
	}
	return out
}

// warnMissingProviderKeys logs missingProviderKeys and returns them for
// /readyz.
func warnMissingProviderKeys(logger *slog.Logger, providers []config.Provider, getenv func(string) string) func() []string {
	missing := missingProviderKeys(providers, getenv)
	for _, m := range missing {
		logger.Warn(m)
	}
	return func() []string { return missing }
}
