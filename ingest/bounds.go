package ingest

import (
	"errors"

	"github.com/allot-dev/allot"
)

// CheckCall refuses an event no single call could have made: a token count
// past allot.MaxCallTokens (the sums of a source's parts included, such as
// Anthropic's input + cache reads + cache writes), a part past its whole,
// or a cost the source reported past allot.MaxCallCost. Importers count
// such a record as malformed and OTLP rejects it, so it can neither
// saturate the ledger's sums nor wrap a budget (docs/security.md).
func CheckCall(e allot.Event) error {
	if err := e.Tokens.CheckCall(); err != nil {
		return errors.New(allot.ErrorOf(err).Message)
	}
	if e.CostKnown {
		if err := allot.CheckCallCost("cost_usd", e.Cost); err != nil {
			return errors.New(allot.ErrorOf(err).Message)
		}
	}
	return nil
}
