// Package claudecode imports the usage recorded in Claude Code's local
// session logs (~/.claude/projects/<project>/<session>.jsonl, and nested
// subagents/ files), for people whose Claude Code does not go through the
// gateway. The format is Claude Code's internal one and changes between
// versions, so unknown lines are skipped rather than refused.
package claudecode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/ingest"
	"github.com/allot-dev/allot/ingest/jsonl"
)

// App is the app name events from Claude Code carry (the gateway's name for it).
const App = "claude-cli"

// KeyPrefix starts the source key of every Claude Code log event.
const KeyPrefix = "claude-code:"

// DefaultDir is where Claude Code keeps its session logs:
// $CLAUDE_CONFIG_DIR/projects when set, else ~/.claude/projects.
func DefaultDir() string {
	if d := os.Getenv("CLAUDE_CONFIG_DIR"); d != "" {
		return filepath.Join(d, "projects")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".claude", "projects")
	}
	return filepath.Join(home, ".claude", "projects")
}

// line is the part of a log line allot reads.
type line struct {
	Type      string       `json:"type"`
	SessionID string       `json:"sessionId"`
	Timestamp string       `json:"timestamp"`
	RequestID string       `json:"requestId"`
	UUID      string       `json:"uuid"`
	CostUSD   *json.Number `json:"costUSD"`
	Message   *struct {
		ID    string `json:"id"`
		Model string `json:"model"`
		Usage *usage `json:"usage"`
	} `json:"message"`
}

// usage is Anthropic's usage object: input_tokens excludes the cache.
type usage struct {
	Input         int64 `json:"input_tokens"`
	CacheCreation int64 `json:"cache_creation_input_tokens"`
	CacheRead     int64 `json:"cache_read_input_tokens"`
	Output        int64 `json:"output_tokens"`
	Detail        *struct {
		Write5m int64 `json:"ephemeral_5m_input_tokens"`
		Write1h int64 `json:"ephemeral_1h_input_tokens"`
	} `json:"cache_creation"`
}

// tokens normalizes u (design invariant 4): input includes cache reads
// and writes; writes without the 5m/1h split count as 5-minute writes.
func (u *usage) tokens() (allot.Tokens, error) {
	for _, f := range [...]struct {
		name string
		n    int64
	}{{"input_tokens", u.Input}, {"cache_creation_input_tokens", u.CacheCreation}, {"cache_read_input_tokens", u.CacheRead}, {"output_tokens", u.Output}} {
		if err := allot.CheckCount(f.name, f.n); err != nil {
			return allot.Tokens{}, errors.New(allot.ErrorOf(err).Message)
		}
	}
	t := allot.Tokens{CacheRead: u.CacheRead, Output: u.Output, CacheWrite5m: u.CacheCreation}
	if d := u.Detail; d != nil && allot.CheckCount("", d.Write5m) == nil && allot.CheckCount("", d.Write1h) == nil && d.Write5m+d.Write1h == u.CacheCreation {
		t.CacheWrite5m, t.CacheWrite1h = d.Write5m, d.Write1h
	}
	t.Input = u.Input + u.CacheCreation + u.CacheRead
	return t, nil
}

// Parser reads Claude Code logs into events, deduplicating one message
// logged on several lines (once per content block) on message id +
// request id, across every file it is given.
type Parser struct {
	sum    ingest.Summary
	events []allot.Event
	byKey  map[string]int // source key -> index in events
}

// NewParser returns an empty parser.
func NewParser() *Parser { return &Parser{byKey: map[string]int{}} }

// Parse reads one log; name is used in problems. Only a read error is
// returned: bad lines are counted in the summary.
func (p *Parser) Parse(name string, r io.Reader) error {
	return jsonl.Lines(r, func(n int, b []byte, err error) error {
		p.sum.Read++
		if err != nil {
			p.sum.Malformed++
			p.sum.Problem("%s:%d: %v", name, n, err)
			return nil
		}
		p.line(name, n, b)
		return nil
	})
}

func (p *Parser) line(name string, n int, b []byte) {
	// Most lines (user turns, tool results, summaries) carry no usage:
	// skip them without decoding, except to tell JSON from garbage.
	if !bytes.Contains(b, []byte(`"usage"`)) {
		if !json.Valid(b) {
			p.malformed(name, n, "not JSON")
			return
		}
		p.sum.Skipped++
		return
	}
	var l line
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&l); err != nil {
		p.malformed(name, n, "not a log line: "+err.Error())
		return
	}
	if l.Type != "assistant" || l.Message == nil || l.Message.Usage == nil || l.Message.Model == "<synthetic>" {
		p.sum.Skipped++
		return
	}
	t, err := l.Message.Usage.tokens()
	if err != nil {
		p.malformed(name, n, err.Error())
		return
	}
	if t.IsZero() {
		p.sum.Skipped++
		return
	}
	at, err := time.Parse(time.RFC3339Nano, l.Timestamp)
	if err != nil {
		p.malformed(name, n, fmt.Sprintf("timestamp %q is not RFC 3339", l.Timestamp))
		return
	}
	var key string
	switch {
	case l.Message.ID != "" || l.RequestID != "":
		key = KeyPrefix + l.Message.ID + ":" + l.RequestID
	case l.UUID != "":
		key = KeyPrefix + "line:" + l.UUID
	default:
		p.malformed(name, n, "assistant line without message id, request id or uuid")
		return
	}
	e := allot.Event{
		ID: key, Time: at.UTC(),
		Provider: "anthropic", RequestedModel: l.Message.Model, ServedModel: l.Message.Model,
		Route: allot.RouteMessages, Task: allot.UntaggedTask, Session: l.SessionID, App: App,
		Source: allot.SourceImport, Status: 200, Tokens: t,
	}
	if l.CostUSD != nil {
		if c, err := ingest.ParseReportedUSD(l.CostUSD.String()); err == nil {
			e.Cost, e.CostKnown = c, true
		}
	}
	if err := ingest.CheckCall(e); err != nil {
		p.malformed(name, n, err.Error())
		return
	}
	if i, dup := p.byKey[key]; dup {
		p.sum.Duplicate++
		// A message logged before its stream ended carries a partial
		// output count: keep the most complete one.
		if t.Output > p.events[i].Tokens.Output || t.Output == p.events[i].Tokens.Output && t.Input > p.events[i].Tokens.Input {
			p.events[i] = e
		}
		return
	}
	p.byKey[key] = len(p.events)
	p.events = append(p.events, e)
}

func (p *Parser) malformed(name string, n int, why string) {
	p.sum.Malformed++
	p.sum.Problem("%s:%d: %s", name, n, why)
}

// Events returns the events read so far, oldest first, each with its
// source key ("claude-code:<message id>:<request id>") as ID and no
// principal: ingest.Attribute attributes and prices them.
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

// Import reads the logs under root, attributes them to who, prices them
// and appends them to l. Importing the same logs again stores nothing new.
func Import(ctx context.Context, l ingest.Appender, root string, who allot.Principal, pricer allot.Pricer) (ingest.Summary, error) {
	events, sum, err := ReadDir(root)
	if err != nil {
		return sum, err
	}
	ingest.Attribute(events, who, pricer)
	err = ingest.Store(ctx, l, events, &sum, 0)
	return sum, err
}
