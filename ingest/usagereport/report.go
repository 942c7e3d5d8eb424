// Package usagereport reads the organization usage reports of OpenAI
// (/v1/organization/usage/completions) and Anthropic
// (/v1/organizations/usage_report/messages), saved as JSON pages, for two
// uses: importing usage made with provider keys that never went through
// allot, attributed to people by their provider-side ids, and reconciling
// the provider's view with the ledger.
//
// A report's numbers include the traffic allot proxied (allot's own provider
// keys appear in them); import only what is mapped to people, which is why
// results whose key or user no one claims are skipped, not imported.
package usagereport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/ingest"
)

// Provider-side id kinds, as written under a user's provider_ids in org.yaml.
const (
	KindOpenAIUser      = "openai_user"       // OpenAI user_id (user-…)
	KindOpenAIAPIKey    = "openai_api_key"    // OpenAI api_key_id (key_…)
	KindAnthropicAPIKey = "anthropic_api_key" // Anthropic api_key_id (apikey_…)
)

// Mapping maps provider-side ids to allot user names, per kind.
type Mapping map[string]map[string]string

// MappingFromUsers builds a Mapping from each user's provider ids (user ->
// kind -> id, as in org.yaml's provider_ids). Unknown kinds are kept, so a
// typo fails to match rather than to parse.
func MappingFromUsers(ids map[string]map[string]string) Mapping {
	m := Mapping{}
	for user, kinds := range ids {
		for kind, id := range kinds {
			id = strings.TrimSpace(id)
			if id == "" {
				continue
			}
			if m[kind] == nil {
				m[kind] = map[string]string{}
			}
			m[kind][id] = user
		}
	}
	return m
}

// user returns the allot user mapped to id of kind, "" if none.
func (m Mapping) user(kind, id string) string {
	if id == "" {
		return ""
	}
	return m[kind][id]
}

// Row is one result of one bucket of a report, normalized.
type Row struct {
	Provider      string // "openai" or "anthropic"
	Start, End    time.Time
	Model         string // "" when the report was not grouped by model
	Tokens        allot.Tokens
	Requests      int64 // calls the provider counted, 0 when the report does not say
	ContextWindow string
	APIKeyID      string
	UserID        string
	ProjectID     string // OpenAI project or Anthropic workspace
	Key           string // the row's source key, stable across re-imports of the same report
}

// pages decodes one page, an array of pages, or pages one after another.
func pages(r io.Reader, fn func(json.RawMessage) error) error {
	dec := json.NewDecoder(r)
	for {
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("not a JSON usage report: %w", err)
		}
		v = bytes.TrimSpace(v)
		if len(v) > 0 && v[0] == '[' {
			var list []json.RawMessage
			if err := json.Unmarshal(v, &list); err != nil {
				return fmt.Errorf("not a JSON usage report: %w", err)
			}
			for _, p := range list {
				if err := fn(p); err != nil {
					return err
				}
			}
			continue
		}
		if err := fn(v); err != nil {
			return err
		}
	}
}

// str reads a JSON string or null.
type str string

func (s *str) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = ""
		return nil
	}
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = str(v)
	return nil
}

// Parser reads report pages of one provider into rows.
type Parser struct {
	provider string
	sum      ingest.Summary
	rows     []Row
	page     int
}

// NewParser returns a parser for provider "openai" or "anthropic".
func NewParser(provider string) (*Parser, error) {
	switch provider {
	case "openai", "anthropic":
		return &Parser{provider: provider}, nil
	}
	return nil, allot.Errorf(allot.EInvalid, "unknown usage report provider %q; use openai or anthropic", provider)
}

// Parse reads a report file (one page, an array of pages, or pages one
// after another). A file that is not JSON at all is an error; a result
// that cannot be read is counted as malformed.
func (p *Parser) Parse(name string, r io.Reader) error {
	return pages(r, func(raw json.RawMessage) error {
		p.page++
		var page struct {
			Data []struct {
				StartTime  *int64          `json:"start_time"`  // OpenAI, unix seconds
				EndTime    *int64          `json:"end_time"`    // OpenAI
				StartingAt string          `json:"starting_at"` // Anthropic, RFC 3339
				EndingAt   string          `json:"ending_at"`   // Anthropic
				Results    json.RawMessage `json:"results"`
			} `json:"data"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return fmt.Errorf("%s: page %d is not a usage report page: %w", name, p.page, err)
		}
		for bi, b := range page.Data {
			where := fmt.Sprintf("%s: page %d bucket %d", name, p.page, bi+1)
			var results []json.RawMessage
			if len(b.Results) > 0 {
				if err := json.Unmarshal(b.Results, &results); err != nil {
					p.sum.Read++
					p.sum.Malformed++
					p.sum.Problem("%s: results is not a list", where)
					continue
				}
			}
			start, end, err := p.bucketTimes(b.StartTime, b.EndTime, b.StartingAt, b.EndingAt)
			if err != nil {
				p.sum.Read += len(results)
				p.sum.Malformed += len(results)
				p.sum.Problem("%s: %v", where, err)
				continue
			}
			for ri, res := range results {
				p.sum.Read++
				row, err := p.result(res)
				if err == nil {
					// A bucket is n calls: each count within n × one call's bound.
					if cerr := row.Tokens.CheckCalls(row.calls()); cerr != nil {
						err = errors.New(allot.ErrorOf(cerr).Message)
					}
				}
				if err != nil {
					p.sum.Malformed++
					p.sum.Problem("%s result %d: %v", where, ri+1, err)
					continue
				}
				row.Provider, row.Start, row.End = p.provider, start, end
				row.Key = ingest.Key(p.provider+"-usage", start.Format(time.RFC3339), end.Format(time.RFC3339),
					row.ProjectID, row.UserID, row.APIKeyID, row.Model, row.ContextWindow, row.Key)
				p.rows = append(p.rows, row)
			}
		}
		return nil
	})
}

func (p *Parser) bucketTimes(st, et *int64, sa, ea string) (time.Time, time.Time, error) {
	if p.provider == "openai" {
		if st == nil {
			return time.Time{}, time.Time{}, fmt.Errorf("bucket without start_time")
		}
		start := time.Unix(*st, 0).UTC()
		end := start
		if et != nil {
			end = time.Unix(*et, 0).UTC()
		}
		return start, end, nil
	}
	start, err := time.Parse(time.RFC3339, sa)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("starting_at %q is not RFC 3339", sa)
	}
	end, err := time.Parse(time.RFC3339, ea)
	if err != nil {
		end = start
	}
	return start.UTC(), end.UTC(), nil
}

func (p *Parser) result(raw json.RawMessage) (Row, error) {
	var row Row
	if p.provider == "openai" {
		var wire struct {
			Input       *int64 `json:"input_tokens"`
			Cached      int64  `json:"input_cached_tokens"`
			Output      *int64 `json:"output_tokens"`
			Requests    int64  `json:"num_model_requests"`
			ProjectID   str    `json:"project_id"`
			UserID      str    `json:"user_id"`
			APIKeyID    str    `json:"api_key_id"`
			Model       str    `json:"model"`
			Batch       *bool  `json:"batch"`
			ServiceTier str    `json:"service_tier"`
		}
		if err := json.Unmarshal(raw, &wire); err != nil {
			return row, err
		}
		if wire.Input == nil || wire.Output == nil {
			return row, fmt.Errorf("no input_tokens or output_tokens")
		}
		if err := counts(*wire.Input, *wire.Output, wire.Cached, wire.Requests); err != nil {
			return row, err
		}
		row.Tokens = allot.Tokens{Input: *wire.Input, CacheRead: min(wire.Cached, *wire.Input), Output: *wire.Output}
		row.Requests = wire.Requests
		row.ProjectID, row.UserID, row.APIKeyID, row.Model = string(wire.ProjectID), string(wire.UserID), string(wire.APIKeyID), string(wire.Model)
		batch := ""
		if wire.Batch != nil {
			batch = fmt.Sprint(*wire.Batch)
		}
		row.Key = ingest.Key(batch, string(wire.ServiceTier)) // folded into the full key by Parse
		return row, nil
	}
	var wire struct {
		Uncached      *int64 `json:"uncached_input_tokens"`
		CacheRead     int64  `json:"cache_read_input_tokens"`
		CacheCreation struct {
			Write1h int64 `json:"ephemeral_1h_input_tokens"`
			Write5m int64 `json:"ephemeral_5m_input_tokens"`
		} `json:"cache_creation"`
		Output        *int64 `json:"output_tokens"`
		Model         str    `json:"model"`
		APIKeyID      str    `json:"api_key_id"`
		WorkspaceID   str    `json:"workspace_id"`
		ServiceTier   str    `json:"service_tier"`
		ContextWindow str    `json:"context_window"`
	}
	if err := json.Unmarshal(raw, &wire); err != nil {
		return row, err
	}
	if wire.Uncached == nil || wire.Output == nil {
		return row, fmt.Errorf("no uncached_input_tokens or output_tokens")
	}
	cc := wire.CacheCreation
	if err := counts(*wire.Uncached, *wire.Output, wire.CacheRead, cc.Write1h, cc.Write5m); err != nil {
		return row, err
	}
	row.Tokens = allot.Tokens{
		Input:     *wire.Uncached + wire.CacheRead + cc.Write5m + cc.Write1h,
		CacheRead: wire.CacheRead, CacheWrite5m: cc.Write5m, CacheWrite1h: cc.Write1h,
		Output: *wire.Output,
	}
	row.Model, row.APIKeyID, row.ProjectID = string(wire.Model), string(wire.APIKeyID), string(wire.WorkspaceID)
	row.ContextWindow = string(wire.ContextWindow)
	row.Key = ingest.Key(string(wire.ServiceTier))
	return row, nil
}

// counts checks that token and request counts are plausible.
func counts(v ...int64) error {
	for _, n := range v {
		if n < 0 {
			return fmt.Errorf("negative count %d", n)
		}
		if n > ingest.MaxCount {
			return fmt.Errorf("count %d out of range", n)
		}
	}
	return nil
}

// Rows returns the rows read so far.
func (p *Parser) Rows() []Row { return p.rows }

// Summary counts the results read so far.
func (p *Parser) Summary() ingest.Summary { return p.sum }

// calls is how many calls a row is priced as: the provider's count when
// it gives one; otherwise (Anthropic) the input split into calls of at most
// 200k tokens, the size below which prices are linear, unless the report
// says the calls were over 200k.
func (r Row) calls() int64 {
	if r.Requests > 0 {
		return r.Requests
	}
	if strings.HasPrefix(r.ContextWindow, "200k") {
		return 1
	}
	const linear = 200_000
	return max(1, (r.Tokens.Input+linear-1)/linear)
}

// Cost prices the row as its calls (see PriceAggregate).
func (r Row) Cost(p allot.Pricer) (allot.Money, bool) {
	return ingest.PriceAggregate(p, r.Provider, r.model(), r.Start, r.Tokens, r.calls())
}

func (r Row) model() string {
	if r.Model == "" {
		return "unknown"
	}
	return r.Model
}

// user finds the allot user a row belongs to: by API key, then by user id.
func (r Row) user(m Mapping) (user, kind, id string) {
	if r.Provider == "openai" {
		if u := m.user(KindOpenAIAPIKey, r.APIKeyID); u != "" {
			return u, "", ""
		}
		if u := m.user(KindOpenAIUser, r.UserID); u != "" {
			return u, "", ""
		}
		switch {
		case r.APIKeyID != "":
			return "", KindOpenAIAPIKey, r.APIKeyID
		case r.UserID != "":
			return "", KindOpenAIUser, r.UserID
		}
		return "", "", ""
	}
	if u := m.user(KindAnthropicAPIKey, r.APIKeyID); u != "" {
		return u, "", ""
	}
	if r.APIKeyID != "" {
		return "", KindAnthropicAPIKey, r.APIKeyID
	}
	return "", "", ""
}

// Events turns rows into attributed, priced events: one per row, at the
// bucket's start, for rows whose API key or user is mapped to a known allot
// user. Other rows are counted as Skipped in sum, with a problem naming the
// unclaimed ids.
func Events(rows []Row, m Mapping, people *ingest.People, pricer allot.Pricer, sum *ingest.Summary) []allot.Event {
	var events []allot.Event
	unclaimed := map[string]int{}
	unknownUser := map[string]int{}
	for _, r := range rows {
		name, kind, id := r.user(m)
		if name == "" {
			sum.Skipped++
			if kind == "" {
				unclaimed["(not grouped by api_key_id or user_id)"]++
			} else {
				unclaimed[kind+": "+id]++
			}
			continue
		}
		who, ok := people.ByName(name)
		if !ok {
			sum.Skipped++
			unknownUser[name]++
			continue
		}
		e := allot.Event{
			ID: ingest.ID(who.User, r.Key), Time: r.Start, Principal: who,
			Provider: r.Provider, RequestedModel: r.model(), ServedModel: r.model(),
			Task: allot.UntaggedTask, App: r.Provider + "-usage-report", Source: allot.SourceImport, Status: 200,
			Tokens: r.Tokens,
		}
		e.Cost, e.CostKnown = r.Cost(pricer)
		// n calls cost at most n × one call's bound, and never so much
		// that the price saturated (a sum of such rows must not overflow).
		if err := allot.CheckCallsCost("cost", e.Cost, r.calls()); err != nil || e.Cost >= allot.MaxMoney {
			sum.Malformed++
			sum.Problem("%s %s bucket at %s: %d calls priced at %s USD is past what they can cost; not imported", r.Provider, r.model(), r.Start.Format(time.RFC3339), r.calls(), e.Cost)
			continue
		}
		events = append(events, e)
	}
	for _, k := range sortedKeys(unclaimed) {
		sum.Problem("%d results skipped, no allot user has provider id %s (add it under the user's provider_ids in org.yaml)", unclaimed[k], k)
	}
	for _, k := range sortedKeys(unknownUser) {
		sum.Problem("%d results skipped, mapped to %q who is not an active allot user (allot apply -f org.yaml)", unknownUser[k], k)
	}
	return events
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
