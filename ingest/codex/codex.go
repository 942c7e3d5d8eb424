// Package codex imports the usage recorded in OpenAI Codex CLI's local
// session logs (~/.codex/sessions/YYYY/MM/DD/rollout-…-<session>.jsonl).
// Codex logs cumulative token totals after each turn; allot records one
// event per turn, the difference between consecutive totals.
package codex

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/ingest"
	"github.com/allot-dev/allot/ingest/jsonl"
)

// App is the app name events from Codex carry (the gateway's name for it).
const App = "codex"

// KeyPrefix starts the source key of every Codex log event.
const KeyPrefix = "codex:"

// DefaultDir is where Codex keeps its session logs: $CODEX_HOME/sessions
// when set, else ~/.codex/sessions.
func DefaultDir() string {
	if d := os.Getenv("CODEX_HOME"); d != "" {
		return filepath.Join(d, "sessions")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".codex", "sessions")
	}
	return filepath.Join(home, ".codex", "sessions")
}

// line is the part of a rollout line allot reads.
type line struct {
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`
	Payload   struct {
		Type  string `json:"type"`
		ID    string `json:"id"`    // session_meta
		Model string `json:"model"` // turn_context (and some session_meta)
		Info  *struct {
			Total *usage `json:"total_token_usage"`
			Last  *usage `json:"last_token_usage"`
		} `json:"info"`
	} `json:"payload"`
}

// usage is Codex's token usage, with OpenAI's semantics: input includes
// cached input, output includes reasoning.
type usage struct {
	Input     int64 `json:"input_tokens"`
	Cached    int64 `json:"cached_input_tokens"`
	Output    int64 `json:"output_tokens"`
	Reasoning int64 `json:"reasoning_output_tokens"`
	Total     int64 `json:"total_tokens"`
}

func (u usage) valid() bool {
	for _, n := range []int64{u.Input, u.Cached, u.Output, u.Reasoning, u.Total} {
		if n < 0 || n > ingest.MaxCount {
			return false
		}
	}
	return true
}

func (u usage) minus(o usage) usage {
	return usage{u.Input - o.Input, u.Cached - o.Cached, u.Output - o.Output, u.Reasoning - o.Reasoning, u.Total - o.Total}
}

func (u usage) tokens() allot.Tokens {
	t := allot.Tokens{Input: u.Input, CacheRead: min(u.Cached, u.Input), Output: u.Output, Reasoning: min(u.Reasoning, u.Output)}
	return t
}

func (u usage) key() string {
	return strconv.FormatInt(u.Input, 10) + "/" + strconv.FormatInt(u.Cached, 10) + "/" + strconv.FormatInt(u.Output, 10) + "/" +
		strconv.FormatInt(u.Reasoning, 10) + "/" + strconv.FormatInt(u.Total, 10)
}

var sessionInName = regexp.MustCompile(`([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\.jsonl$`)

// Parser reads Codex rollouts into one event per turn.
type Parser struct {
	sum    ingest.Summary
	events []allot.Event
	seen   map[string]bool // source keys, across files (a resumed session repeats its history)
}

// NewParser returns an empty parser.
func NewParser() *Parser { return &Parser{seen: map[string]bool{}} }

// Parse reads one rollout file; name is used in problems and, when the
// file has no session_meta line, for the session id.
func (p *Parser) Parse(name string, r io.Reader) error {
	session := ""
	if m := sessionInName.FindStringSubmatch(name); m != nil {
		session = m[1]
	}
	model := ""
	var prev usage
	return jsonl.Lines(r, func(n int, b []byte, err error) error {
		p.sum.Read++
		if err != nil {
			p.malformed(name, n, err.Error())
			return nil
		}
		var l line
		if err := json.Unmarshal(b, &l); err != nil {
			p.malformed(name, n, "not a rollout line: "+err.Error())
			return nil
		}
		switch {
		case l.Type == "session_meta":
			if l.Payload.ID != "" {
				session = l.Payload.ID
			}
			if l.Payload.Model != "" {
				model = l.Payload.Model
			}
			p.sum.Skipped++
			return nil
		case l.Type == "turn_context":
			if l.Payload.Model != "" {
				model = l.Payload.Model
			}
			p.sum.Skipped++
			return nil
		case l.Type != "event_msg" || l.Payload.Type != "token_count" || l.Payload.Info == nil:
			p.sum.Skipped++
			return nil
		}
		at, err := time.Parse(time.RFC3339Nano, l.Timestamp)
		if err != nil {
			p.malformed(name, n, fmt.Sprintf("timestamp %q is not RFC 3339", l.Timestamp))
			return nil
		}
		info := l.Payload.Info
		var turn usage
		var key string
		switch {
		case info.Total != nil:
			if !info.Total.valid() {
				p.malformed(name, n, "token count negative or out of range")
				return nil
			}
			turn = info.Total.minus(prev)
			if !turn.valid() { // the totals restarted: this turn is what was logged for it
				turn = *info.Total
				if info.Last != nil && info.Last.valid() {
					turn = *info.Last
				}
			}
			prev = *info.Total
			key = KeyPrefix + session + ":" + info.Total.key()
		case info.Last != nil:
			if !info.Last.valid() {
				p.malformed(name, n, "token count negative or out of range")
				return nil
			}
			turn = *info.Last
			key = KeyPrefix + session + ":" + at.UTC().Format(time.RFC3339Nano) + ":" + turn.key()
		default:
			p.sum.Skipped++
			return nil
		}
		t := turn.tokens()
		if err := t.CheckCall(); err != nil { // the totals are bounded by ingest.MaxCount, one turn much lower
			p.malformed(name, n, "turn: "+allot.ErrorOf(err).Message)
			return nil
		}
		if t.IsZero() || p.seen[key] {
			// Codex repeats its totals when only the rate limits changed,
			// and a resumed session repeats its history: nothing new.
			p.sum.Duplicate++
			return nil
		}
		p.seen[key] = true
		m := model
		if m == "" {
			m = "unknown"
		}
		p.events = append(p.events, allot.Event{
			ID: key, Time: at.UTC(),
			Provider: "openai", RequestedModel: m, ServedModel: m,
			Route: allot.RouteResponses, Task: allot.UntaggedTask, Session: session, App: App,
			Source: allot.SourceImport, Status: 200, Tokens: t,
		})
		return nil
	})
}

func (p *Parser) malformed(name string, n int, why string) {
	p.sum.Malformed++
	p.sum.Problem("%s:%d: %s", name, n, why)
}

// Events returns the turns read so far, oldest first, each with its source
// key ("codex:<session>:<cumulative totals>") as ID and no principal.
func (p *Parser) Events() []allot.Event {
	out := append([]allot.Event(nil), p.events...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// Summary counts the lines read so far; Imported is filled by Import.
func (p *Parser) Summary() ingest.Summary { return p.sum }

// ReadDir parses every *.jsonl file under root (or the file root).
func ReadDir(root string) ([]allot.Event, ingest.Summary, error) {
	p := NewParser()
	err := jsonl.Each(root, p.Parse)
	return p.Events(), p.Summary(), err
}

// Import reads the rollouts under root, attributes them to who, prices
// them and appends them to l. Importing the same logs again stores nothing new.
func Import(ctx context.Context, l ingest.Appender, root string, who allot.Principal, pricer allot.Pricer) (ingest.Summary, error) {
	events, sum, err := ReadDir(root)
	if err != nil {
		return sum, err
	}
	ingest.Attribute(events, who, pricer)
	err = ingest.Store(ctx, l, events, &sum, 0)
	return sum, err
}
