// Command gencatalog writes allot's embedded price catalog from a
// genai-prices v2 feed: go generate runs it from the pricing package.
//
//	go run ./internal/gencatalog -in ../../shared/reference/pricing/genai-prices-v2.json -out catalog.json
//
// Every price it had to rewrite (more than nine decimals, exponents) and
// every model it dropped is printed on stderr for review.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/allot-dev/allot/pricing/internal/feed"
)

func main() {
	in := flag.String("in", "", "genai-prices v2 feed (JSON) to read")
	out := flag.String("out", "catalog.json", "compact catalog to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gencatalog:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	if in == "" {
		return fmt.Errorf("-in FEED is required")
	}
	raw, err := os.ReadFile(in)
	if err != nil {
		return fmt.Errorf("read feed: %w", err)
	}
	catalog, notes, err := feed.Compact(raw)
	if err != nil {
		return fmt.Errorf("compact %s: %w", in, err)
	}
	for _, n := range notes {
		fmt.Fprintln(os.Stderr, "note:", n)
	}
	if err := os.WriteFile(out, catalog, 0o644); err != nil {
		return fmt.Errorf("write catalog: %w", err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s (%d bytes)\n", out, len(catalog))
	return nil
}
