package main

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/config"
	"github.com/allot-dev/allot/upstreamsim"
)

// reportFixture is a database of the testdata org with usage on two days
// on models whose names are long, and costs with odd nano-dollars.
func reportFixture(t *testing.T) string {
	t.Helper()
	var events []allot.Event
	models := []string{"claude-opus-4-1-20250805", "text-embedding-3-large", "gpt-4o"}
	for i := range 60 {
		day := time.Date(2026, 11, 10+i%2, 9, 0, 0, 0, time.UTC)
		model := models[i%3]
		// the cheap day has the most calls, so cost order is not date order
		in := int64(6_363_700)
		if i%2 == 0 {
			in = 59_590_000
		}
		events = append(events, allot.Event{
			ID: fmt.Sprintf("ev-%d", i), Time: day.Add(time.Duration(i) * time.Minute),
			Principal: allot.Principal{Org: "acme", Team: "platform", User: "alice", KeyID: "k1"},
			Provider:  "openai", RequestedModel: model, ServedModel: model, Route: allot.RouteChat,
			Task: "untagged", App: "curl", Source: allot.SourceGateway, Status: 200,
			Tokens: allot.Tokens{Input: in, Output: 7}, Cost: allot.Money(int64(i%2*40+1)*int64(allot.USD) + 760_592_910), CostKnown: true,
		})
	}
	return orgLedger(t, events)
}

// TestReportTableForPeople: identifiers whole, one unit per column (plain
// digits with separators), money to the cent, rows by date when day is a
// dimension; the exact nine places stay in CSV.
func TestReportTableForPeople(t *testing.T) {
	t.Parallel()
	db := reportFixture(t)
	span := []string{"--from", "2026-11-10", "--to", "2026-11-11", "--database", db}
	tests := []struct {
		name    string
		args    []string
		want    []string // substrings
		notWant []string
	}{
		{"long model names whole", []string{"report", "--by", "team,model"},
			[]string{"claude-opus-4-1-20250805", "text-embedding-3-large", "gpt-4o", "TOTAL"}, []string{"…"}},
		{"one unit per column", []string{"report", "--by", "model"},
			[]string{"659,537,000", "1,978,611,000"}, []string{"k ", "M ", ".7k"}},
		{"money to the cent", []string{"report", "--by", "user"},
			[]string{"$1,305.64"}, []string{"1305.6355", "635574600"}},
		{"rows by date", []string{"report", "--by", "day"},
			[]string{"2026-11-10", "2026-11-11", "TOTAL"}, nil},
		{"rows by date, then cost", []string{"report", "--by", "day,model"},
			[]string{"2026-11-10", "2026-11-11", "TOTAL"}, nil},
		{"csv keeps nine places", []string{"report", "--by", "user", "--format", "csv"},
			[]string{",1305.635574600"}, []string{"$"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := mustRun(t, append(tc.args, span...)...)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
	// the 11th costs more than the 10th: by date, not by cost, it comes second
	out := mustRun(t, append([]string{"report", "--by", "day"}, span...)...)
	lines := strings.Split(out, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[1], "2026-11-10") || !strings.HasPrefix(lines[2], "2026-11-11") {
		t.Errorf("--by day is not in date order:\n%s", out)
	}
}

// TestNoSilentFailure: each case exits non-zero with a message a person
// can act on, and a command that only reads creates no database.
func TestNoSilentFailure(t *testing.T) {
	t.Parallel()
	db := reportFixture(t)
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.db")
	missingDir := filepath.Join(dir, "no-such-folder", "allot.db")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"report on a database that does not exist", []string{"report", "--database", typo},
			"no allot database at " + typo + "; run allot serve or allot apply first, or pass --database"},
		{"me on a database that does not exist", []string{"me", "--key", "ak-x", "--database", typo}, "no allot database at " + typo},
		{"audit on a database that does not exist", []string{"audit", "--database", typo}, "no allot database at " + typo},
		{"insights on a database that does not exist", []string{"insights", "--database", typo}, "no allot database at " + typo},
		{"budgets status on a database that does not exist", []string{"budgets", "status", "--database", typo}, "no allot database at " + typo},
		{"report on a folder", []string{"report", "--database", dir}, dir + " is a folder, not an allot database"},
		{"apply into a missing folder", []string{"apply", "-f", "testdata/org.yaml", "--database", missingDir},
			"cannot create database " + missingDir + ": the folder " + filepath.Dir(missingDir) + " does not exist"},
		{"an unknown user", []string{"report", "--user", "nobody", "--database", db}, `no user "nobody" in the org`},
		{"an unknown team", []string{"report", "--team", "nope", "--database", db}, `no team "nope" in the org`},
		{"an unknown format", []string{"report", "--format", "yaml", "--database", db}, `unknown format "yaml"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := run(t, tc.args...)
			if err == nil {
				t.Fatalf("allot %s succeeded; want %q", strings.Join(tc.args, " "), tc.want)
			}
			if msg := cliMessage(err); !strings.Contains(msg, tc.want) || strings.Count(msg, "open database") > 1 {
				t.Errorf("allot %s: %q, want %q", strings.Join(tc.args, " "), msg, tc.want)
			}
		})
	}
	if _, err := os.Stat(typo); err == nil {
		t.Errorf("a command that only reads created %s", typo)
	}
	// A known user with no usage in range is an empty report, not an error.
	if out := mustRun(t, "report", "--user", "bob", "--database", db); !strings.Contains(out, "TOTAL") {
		t.Errorf("report --user bob:\n%s", out)
	}
}

// cliMessage is what main prints for err.
func cliMessage(err error) string {
	if e, ok := err.(*allot.Error); ok {
		return e.Message
	}
	return err.Error()
}

// TestGrantAndMeSayItAsWritten: a grant echoes the date the user wrote and
// dollars to the cent; me shows dollars to the cent and counts with
// separators.
func TestGrantAndMeSayItAsWritten(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "allot.db")
	mustRun(t, "apply", "-f", "testdata/org_budgets.yaml", "--database", db)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--usd", "20", "--until", "2099-12-31"}, "granted $20.00 to data-monthly until the end of 2099-12-31 (UTC)\n"},
		{[]string{"--usd", "12.345", "--until", "2099-06-30T12:00:00Z"}, "granted $12.35 to data-monthly until 2099-06-30T12:00:00Z\n"},
	}
	for _, tc := range tests {
		out := mustRun(t, append([]string{"budgets", "grant", "--budget", "data-monthly", "--reason", "launch", "--database", db}, tc.args...)...)
		if out != tc.want {
			t.Errorf("grant %v = %q, want %q", tc.args, out, tc.want)
		}
	}
	out := mustRun(t, "budgets", "status", "--database", db)
	if strings.Contains(out, "000000") || !strings.Contains(out, "$") {
		t.Errorf("budgets status shows more than cents:\n%s", out)
	}
}

// TestVersion: allot version and allot --version print the module
// version, the commit and the Go version.
func TestVersion(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out := mustRun(t, args...)
		if !strings.HasPrefix(out, "allot ") || !strings.Contains(out, "go1.") {
			t.Errorf("allot %s = %q", args[0], out)
		}
	}
	built := time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-12-07T22:10:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	tests := []struct {
		info *debug.BuildInfo
		ok   bool
		want string
	}{
		{info, true, "allot v1.4.0, commit 0123456789ab+dirty of 2026-12-07T22:10:00Z, built 2026-12-08T03:00:00Z, go1.26.8"},
		{&debug.BuildInfo{GoVersion: "go1.26.8"}, true, "allot (devel), built 2026-12-08T03:00:00Z, go1.26.8"},
		{nil, false, "allot (no build information)"},
	}
	for _, tc := range tests {
		if got := versionLine(tc.info, tc.ok, built); got != tc.want {
			t.Errorf("versionLine = %q, want %q", got, tc.want)
		}
	}
}

// TestMissingProviderKeys: a provider whose key variable is unset or
// blank is named with its variable; one with a key, a key file or no key
// variable (a local model) is not.
func TestMissingProviderKeys(t *testing.T) {
	t.Parallel()
	env := map[string]string{"OPENAI_API_KEY": "sk-set", "BLANK_KEY": "  "}
	getenv := func(k string) string { return env[k] }
	providers := []config.Provider{
		{Name: "openai", APIKeyEnv: "OPENAI_API_KEY"},
		{Name: "anthropic", APIKeyEnv: "ANTHROPIC_API_KEY"},
		{Name: "blank", APIKeyEnv: "BLANK_KEY"},
		{Name: "local", BaseURL: "http://127.0.0.1:11434/v1"},
		{Name: "mounted", APIKeyFile: "/run/secrets/key"},
	}
	got := missingProviderKeys(providers, getenv)
	want := []string{
		"provider anthropic has no key: ANTHROPIC_API_KEY is not set, so its calls fail until it is",
		"provider blank has no key: BLANK_KEY is not set, so its calls fail until it is",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("missingProviderKeys = %q, want %q", got, want)
	}
	var logged strings.Builder
	warnings := warnMissingProviderKeys(slog.New(slog.NewTextHandler(&logged, nil)), providers, getenv)
	if len(warnings()) != 2 || !strings.Contains(logged.String(), "level=WARN") || !strings.Contains(logged.String(), "ANTHROPIC_API_KEY") {
		t.Errorf("warnings %q, log %q", warnings(), logged.String())
	}
}

// TestTableWrapsFreeTextOnly: identifier cells are never cut; the last
// column wraps at spaces, a word longer than the room stays whole.
func TestTableWrapsFreeTextOnly(t *testing.T) {
	t.Parallel()
	tb := newTable("NAME", "N|>", "TEXT")
	tb.wrap = 60
	tb.add("a-very-long-identifier-that-is-wider-than-anything", "1,234", strings.Repeat("word ", 20))
	tb.add("b", "7", "short\tcell\nwith breaks")
	var b strings.Builder
	if err := tb.write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if !strings.Contains(lines[1], "a-very-long-identifier-that-is-wider-than-anything  1,234  word") {
		t.Errorf("first row: %q", lines[1])
	}
	if len(lines) < 4 || !strings.HasPrefix(lines[2], strings.Repeat(" ", 59)+"word") {
		t.Errorf("the text does not wrap under its column:\n%s", out)
	}
	if !strings.HasSuffix(lines[len(lines)-1], "short cell with breaks") || strings.Contains(out, "…") {
		t.Errorf("last row: %q", lines[len(lines)-1])
	}
	for _, l := range lines {
		if strings.HasSuffix(l, " ") {
			t.Errorf("trailing blanks: %q", l)
		}
	}
}

// TestServeWarnsOfAMissingProviderKey: serve starts (other providers
// serve), logs a warning naming the provider and its variable, and
// /readyz stays 200 "ready" while reporting it.
func TestServeWarnsOfAMissingProviderKey(t *testing.T) {
	t.Parallel()
	sim := httptest.NewServer(upstreamsim.New(upstreamsim.Options{}))
	defer sim.Close()
	var logged syncBuffer
	srv := startTestServer(t, sim.URL, serverOptions{logger: slog.New(slog.NewTextHandler(&logged, nil))},
		func(c *config.Config) { c.Providers[1].APIKeyEnv = "ALLOT_TEST_KEY_NEVER_SET_16" })
	if !strings.Contains(logged.String(), "level=WARN") || !strings.Contains(logged.String(), "provider anthropic has no key: ALLOT_TEST_KEY_NEVER_SET_16 is not set") {
		t.Errorf("serve logged %q, want a warning naming anthropic and its variable", logged.String())
	}
	resp, err := http.Get("http://" + srv.addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "ready\n") ||
		!strings.Contains(string(body), "warning: provider anthropic has no key: ALLOT_TEST_KEY_NEVER_SET_16") || strings.Contains(string(body), "openai") {
		t.Errorf("/readyz = %d %q", resp.StatusCode, body)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestInsightsTextForPeople: counts carry separators and a rank that
// cannot be shown says why instead of a bare "-".
func TestInsightsTextForPeople(t *testing.T) {
	t.Parallel()
	at := time.Now().UTC().Add(-48 * time.Hour)
	var events []allot.Event
	for i := range 40 {
		user, team := "alice", "platform"
		if i%2 == 1 {
			user, team = "bob", "data"
		}
		events = append(events, allot.Event{
			ID: fmt.Sprintf("in-%d", i), Time: at.Add(time.Duration(i) * time.Minute),
			Principal: allot.Principal{Org: "acme", Team: team, User: user, KeyID: "k1"},
			Provider:  "openai", RequestedModel: "gpt-4o", ServedModel: "gpt-4o", Route: allot.RouteChat,
			Task: "code-review", App: "curl", Source: allot.SourceGateway, Status: 200,
			Tokens: allot.Tokens{Input: 123_456, Output: 7}, Cost: allot.MustUSD("0.123456789"), CostKnown: true,
		})
	}
	out := mustRun(t, "insights", "--user", "alice", "--database", orgLedger(t, events))
	for _, want := range []string{"2,469,260 tokens", "123,463", "not ranked (too few people)"} {
		if !strings.Contains(out, want) {
			t.Errorf("insights lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, " - ") || strings.Contains(out, "2469260") {
		t.Errorf("insights prints a bare - or an unseparated count:\n%s", out)
	}
}
