package usagereport

import (
	"context"
	"io"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/ingest"
)

// Import reads one report file of provider ("openai" or "anthropic") and
// appends the usage of mapped people to l. Importing the same report again
// stores nothing new; importing the same period at another bucket width
// would count it twice, so keep to one width (1d is the natural one).
func Import(ctx context.Context, l ingest.Appender, provider, name string, r io.Reader, m Mapping, people *ingest.People, pricer allot.Pricer) (ingest.Summary, error) {
	p, err := NewParser(provider)
	if err != nil {
		return ingest.Summary{}, err
	}
	if err := p.Parse(name, r); err != nil {
		return p.Summary(), err
	}
	sum := p.Summary()
	events := Events(p.Rows(), m, people, pricer, &sum)
	err = ingest.Store(ctx, l, events, &sum, 0)
	return sum, err
}
