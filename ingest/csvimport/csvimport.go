// Package csvimport imports usage from a CSV file with a documented header
// (docs/import-csv.md): one row per call (or per aggregate a tool exports),
// for usage that no telemetry or log importer covers.
package csvimport

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/ingest"
)

// Columns are the header names the importer knows, in documented order.
var Columns = []string{
	"id", "time", "user", "provider", "model",
	"input_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
	"output_tokens", "reasoning_tokens", "cost_usd", "task", "session", "app",
}

// required columns; "user" is required unless a default user is given.
var required = []string{"time", "model", "input_tokens", "output_tokens"}

// DefaultApp is the app of rows that name none.
const DefaultApp = "csv"

// Options say how rows are attributed and priced.
type Options struct {
	People      *ingest.People // resolves the user column (a user name or e-mail address)
	DefaultUser string         // for rows without a user (or files without the column)
	Pricer      allot.Pricer
}

// Read parses a CSV file into attributed, priced events. A missing or
// unknown header is an error (nothing is imported); a bad row is counted as
// malformed with its line number.
func Read(name string, r io.Reader, opts Options) ([]allot.Event, ingest.Summary, error) {
	var sum ingest.Summary
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, sum, allot.Errorf(allot.EInvalid, "%s is empty; the first line must be a header such as %s", name, strings.Join(required, ","))
		}
		return nil, sum, allot.Errorf(allot.EInvalid, "%s: cannot read the header: %v", name, err)
	}
	col, err := columns(header, opts.DefaultUser != "")
	if err != nil {
		return nil, sum, allot.Errorf(allot.EInvalid, "%s: %v", name, err)
	}
	cr.FieldsPerRecord = len(header)
	seen := map[string]int{} // content key -> occurrences, for rows without an id
	var events []allot.Event
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			sum.Read++
			sum.Malformed++
			if errors.As(err, &pe) {
				sum.Problem("%s:%d: %v", name, pe.Line, pe.Err)
				continue
			}
			return events, sum, fmt.Errorf("read %s: %w", name, err)
		}
		sum.Read++
		line, _ := cr.FieldPos(0)
		e, err := row(rec, col, opts, seen)
		if err != nil {
			sum.Malformed++
			sum.Problem("%s:%d: %v", name, line, err)
			continue
		}
		events = append(events, e)
	}
	return events, sum, nil
}

// columns maps known column names to their index; unknown names are an
// error so a typo does not silently drop a column.
func columns(header []string, haveDefaultUser bool) (map[string]int, error) {
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		known := false
		for _, c := range Columns {
			if c == h {
				known = true
			}
		}
		if !known {
			return nil, fmt.Errorf("unknown column %q; known columns are %s (see docs/import-csv.md)", h, strings.Join(Columns, ","))
		}
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("column %q appears twice", h)
		}
		col[h] = i
	}
	need := required
	if !haveDefaultUser {
		need = append([]string{"user"}, required...)
	}
	for _, c := range need {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("missing column %q; the header needs at least %s", c, strings.Join(need, ","))
		}
	}
	return col, nil
}

func row(rec []string, col map[string]int, opts Options, seen map[string]int) (allot.Event, error) {
	get := func(c string) string {
		if i, ok := col[c]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var e allot.Event
	at, err := parseTime(get("time"))
	if err != nil {
		return e, err
	}
	model := get("model")
	if model == "" {
		return e, fmt.Errorf("model is empty")
	}
	var t allot.Tokens
	for _, f := range []struct {
		name string
		dst  *int64
	}{
		{"input_tokens", &t.Input}, {"cache_read_tokens", &t.CacheRead}, {"cache_write_5m_tokens", &t.CacheWrite5m},
		{"cache_write_1h_tokens", &t.CacheWrite1h}, {"output_tokens", &t.Output}, {"reasoning_tokens", &t.Reasoning},
	} {
		v := get(f.name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return e, fmt.Errorf("%s %q is not a whole number of tokens", f.name, v)
		}
		if err := allot.CheckCount(f.name, n); err != nil {
			return e, fmt.Errorf("%s; split an aggregate this large into several rows", allot.ErrorOf(err).Message)
		}
		*f.dst = n
	}
	if t.CacheRead+t.CacheWrite5m+t.CacheWrite1h > t.Input {
		return e, fmt.Errorf("cache tokens (%d) exceed input_tokens (%d); input_tokens must include cached input", t.CacheRead+t.CacheWrite(), t.Input)
	}
	if t.Reasoning > t.Output {
		return e, fmt.Errorf("reasoning_tokens (%d) exceed output_tokens (%d); output_tokens must include reasoning", t.Reasoning, t.Output)
	}
	user := get("user")
	if user == "" {
		user = opts.DefaultUser
	}
	if user == "" {
		return e, fmt.Errorf("user is empty and no default user was given")
	}
	who, ok := opts.People.ByName(user)
	if !ok {
		if who, ok = opts.People.ByEmail(user); !ok {
			return e, fmt.Errorf("unknown user %q; name an active allot user (or their e-mail) from org.yaml", user)
		}
	}
	e = allot.Event{
		Time: at, Principal: who, Provider: get("provider"), RequestedModel: model, ServedModel: model,
		Task: or(get("task"), allot.UntaggedTask), Session: get("session"), App: or(get("app"), DefaultApp),
		Source: allot.SourceImport, Status: 200, Tokens: t,
	}
	if c := get("cost_usd"); c != "" {
		cost, err := ingest.ParseReportedUSD(c)
		if err != nil {
			return e, fmt.Errorf("cost_usd %q is not a dollar amount", c)
		}
		e.Cost, e.CostKnown = cost, true
	}
	key := get("id")
	if key == "" {
		// No id: the row's content is its identity, and identical rows
		// are told apart by their order of appearance.
		h := sha256.Sum256([]byte(strings.Join(rec, "\x00")))
		content := hex.EncodeToString(h[:12])
		seen[content]++
		key = "content:" + content + "#" + strconv.Itoa(seen[content])
	}
	e.ID = ingest.ID(who.User, "csv:"+key)
	if err := ingest.CheckCall(e); err != nil {
		return e, err
	}
	ingest.Price(opts.Pricer, &e)
	return e, nil
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("time %q is not RFC 3339 (2026-11-03T14:05:00Z) or a date (2026-11-03)", s)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Import reads a CSV file and appends its rows to l. Importing the same
// file again stores nothing new.
func Import(ctx context.Context, l ingest.Appender, name string, r io.Reader, opts Options) (ingest.Summary, error) {
	events, sum, err := Read(name, r, opts)
	if err != nil {
		return sum, err
	}
	err = ingest.Store(ctx, l, events, &sum, 0)
	return sum, err
}
