package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
	"github.com/allot-dev/allot/ingest"
	"github.com/allot-dev/allot/ingest/claudecode"
	"github.com/allot-dev/allot/ingest/codex"
)

// pushBatch is how many records one POST /api/v1/usage carries.
const pushBatch = 1000

// pushState remembers which records were sent to which server, so a rerun
// sends only new ones. Records are kept as short hashes of their source
// keys (no message ids on disk).
type pushState struct {
	Version int                 `json:"version"`
	Sent    map[string][]string `json:"sent"` // server URL -> sorted record hashes
	sent    map[string]map[string]bool
}

func defaultPushState() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "allot-push-state.json"
	}
	return filepath.Join(dir, "allot", "push-state.json")
}

func readPushState(path string) (*pushState, error) {
	s := &pushState{Version: 1, Sent: map[string][]string{}, sent: map[string]map[string]bool{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read push state: %w", err)
	}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("push state %s is damaged (%v); move it away to send everything again (the server ignores what it already has)", path, err)
	}
	s.sent = map[string]map[string]bool{}
	for server, hashes := range s.Sent {
		m := make(map[string]bool, len(hashes))
		for _, h := range hashes {
			m[h] = true
		}
		s.sent[server] = m
	}
	return s, nil
}

func recordHash(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:8])
}

func (s *pushState) has(server, key string) bool { return s.sent[server][recordHash(key)] }

func (s *pushState) add(server string, keys []string) {
	if s.sent[server] == nil {
		s.sent[server] = map[string]bool{}
	}
	for _, k := range keys {
		s.sent[server][recordHash(k)] = true
	}
}

// write saves the state atomically (a temporary file renamed over it).
func (s *pushState) write(path string) error {
	s.Sent = map[string][]string{}
	for server, m := range s.sent {
		list := make([]string, 0, len(m))
		for h := range m {
			list = append(list, h)
		}
		sort.Strings(list)
		s.Sent[server] = list
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save push state: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save push state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save push state: %w", err)
	}
	return nil
}

// usageRecord turns an unattributed imported event (ID = its source key)
// into the API's record; the server attributes it to the key's owner.
// Over-long labels are capped as the server would store them (it refuses
// records with longer ones).
func usageRecord(e allot.Event) api.UsageRecord {
	e.CapLabels()
	r := api.UsageRecord{
		ID: e.ID, Time: e.Time, Provider: e.Provider, Model: e.ServedModel, RequestedModel: e.RequestedModel,
		Route: e.Route, Task: e.Task, Session: e.Session, App: e.App, Status: e.Status,
		LatencyMS: e.Latency.Milliseconds(), Tokens: e.Tokens,
	}
	if e.CostKnown {
		r.CostUSD = json.RawMessage(`"` + e.Cost.String() + `"`)
	}
	return r
}

// postUsage sends one batch and returns the server's counts.
func postUsage(client *http.Client, server, key string, records []api.UsageRecord) (api.UsageResult, error) {
	var res api.UsageResult
	body, err := json.Marshal(api.UsageBatch{Events: records})
	if err != nil {
		return res, err
	}
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(server, "/")+"/api/v1/usage", bytes.NewReader(body))
	if err != nil {
		return res, fmt.Errorf("server URL %q: %w", server, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := client.Do(req)
	if err != nil {
		return res, fmt.Errorf("send usage to %s: %w", server, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			msg = e.Error.Message
		}
		return res, fmt.Errorf("server %s answered %s: %s", server, resp.Status, msg)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return res, fmt.Errorf("server %s: unexpected answer %.200q", server, b)
	}
	return res, nil
}

func newPushCmd(g *globals) *cobra.Command {
	var server, key, statePath, claudeDir, codexDir string
	cmd := &cobra.Command{
		Use:   "push --server URL --key KEY",
		Short: "Send this machine's Claude Code and Codex usage (local session logs) to an allot server",
		Long: `Read Claude Code's and Codex CLI's local session logs and send the usage in
them to the server's POST /api/v1/usage, attributed to the key's owner. What
was sent is remembered in a state file, so a rerun (e.g. from cron) sends only
new records; the server also ignores records it already has.
Do not push usage from tools that already go through the allot gateway.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if server == "" {
				server = os.Getenv("ALLOT_SERVER")
			}
			if key == "" {
				key = os.Getenv("ALLOT_KEY")
			}
			if server == "" || key == "" {
				return allot.Errorf(allot.EInvalid, "give the server with --server URL (or ALLOT_SERVER) and your allot key with --key (or ALLOT_KEY)")
			}
			out := cmd.OutOrStdout()
			state, err := readPushState(statePath)
			if err != nil {
				return err
			}
			var records []api.UsageRecord
			var keys []string
			for _, src := range []struct {
				name, dir, flag string
				read            func(string) ([]allot.Event, ingest.Summary, error)
			}{
				{"claude-code", claudeDir, "--claude-dir", claudecode.ReadDir},
				{"codex", codexDir, "--codex-dir", codex.ReadDir},
			} {
				if _, err := os.Stat(src.dir); err != nil {
					fmt.Fprintf(out, "%s: no logs at %s (set %s)\n", src.name, src.dir, src.flag)
					continue
				}
				events, sum, err := src.read(src.dir)
				if err != nil {
					return err
				}
				fresh := 0
				for _, e := range events {
					if !state.has(server, e.ID) {
						records = append(records, usageRecord(e))
						keys = append(keys, e.ID)
						fresh++
					}
				}
				fmt.Fprintf(out, "%s: %d usage records in %d lines, %d not sent before (malformed lines: %d)\n",
					src.name, len(events), sum.Read, fresh, sum.Malformed)
			}
			client := &http.Client{Timeout: 2 * time.Minute}
			var total api.UsageResult
			for len(records) > 0 {
				n := min(pushBatch, len(records))
				res, err := postUsage(client, server, key, records[:n])
				if err != nil {
					return err
				}
				total.Read += res.Read
				total.Imported += res.Imported
				total.Duplicate += res.Duplicate
				total.Malformed += res.Malformed
				if len(total.Problems) < 10 {
					total.Problems = append(total.Problems, res.Problems...)
				}
				// Refused records are remembered too: sending them again
				// would not make them acceptable.
				state.add(server, keys[:n])
				if err := state.write(statePath); err != nil {
					return err
				}
				records, keys = records[n:], keys[n:]
			}
			fmt.Fprintf(out, "sent %d: imported %d, duplicate %d, malformed %d\n", total.Read, total.Imported, total.Duplicate, total.Malformed)
			for _, p := range total.Problems {
				fmt.Fprintf(out, "  %s\n", p)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "", "the allot server, e.g. http://allot:8787 (default $ALLOT_SERVER)")
	cmd.Flags().StringVar(&key, "key", "", "your allot key (default $ALLOT_KEY)")
	cmd.Flags().StringVar(&statePath, "state", defaultPushState(), "where to remember what was sent")
	cmd.Flags().StringVar(&claudeDir, "claude-dir", claudecode.DefaultDir(), "Claude Code's session logs")
	cmd.Flags().StringVar(&codexDir, "codex-dir", codex.DefaultDir(), "Codex CLI's session logs")
	_ = g // push talks to a server, not to a local database
	return cmd
}
