package allot_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/allot-dev/allot"
)

func TestCapLabel(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("s", 20<<20)
	for _, c := range []struct {
		name, in string
		same     bool // returned unchanged
	}{
		{"empty", "", true},
		{"short", "claude-sonnet-4-5", true},
		{"exactly the limit", strings.Repeat("a", allot.MaxLabelBytes), true},
		{"one byte over", strings.Repeat("a", allot.MaxLabelBytes+1), false},
		{"a 20 MB session id", long, false},
		{"multi-byte runes across the cut", strings.Repeat("é", 300), false},
		{"a 4-byte rune across the cut", strings.Repeat("a", 181) + strings.Repeat("😀", 100), false},
		{"invalid UTF-8", strings.Repeat("\xff", 500), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := allot.CapLabel(c.in)
			if c.same {
				if got != c.in {
					t.Fatalf("CapLabel changed a label that fits: %q", got)
				}
				return
			}
			if len(got) > allot.MaxLabelBytes {
				t.Fatalf("capped to %d bytes, want at most %d", len(got), allot.MaxLabelBytes)
			}
			if utf8.ValidString(c.in) && !utf8.ValidString(got) {
				t.Fatalf("cut inside a rune: %q", got)
			}
			if allot.CapLabel(c.in) != got {
				t.Fatal("not deterministic")
			}
			if allot.CapLabel(got) != got {
				t.Fatal("capping twice changes the label")
			}
		})
	}
}

func TestCapLabelKeepsLongLabelsDistinct(t *testing.T) {
	t.Parallel()
	prefix := strings.Repeat("session-", 100)
	a, b := allot.CapLabel(prefix+"a"), allot.CapLabel(prefix+"b")
	if a == b {
		t.Fatalf("two session ids that differ after the cap were merged into %q", a)
	}
	if !strings.HasPrefix(a, prefix[:100]) {
		t.Fatalf("capped label %q does not keep the readable start", a)
	}
}

func TestCapEvents(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("m", 1<<20)
	events := []allot.Event{
		{ID: "a", ServedModel: "gpt-4o"},
		{ID: "b", ServedModel: long, Session: long, Task: long, App: long, Principal: allot.Principal{User: long, Team: long, KeyLabel: long}},
	}
	got := allot.CapEvents(events)
	if events[1].ServedModel != long {
		t.Fatal("CapEvents changed the caller's slice")
	}
	for _, e := range got {
		if !e.LabelsCapped() {
			t.Fatalf("event %s still has an over-long label", e.ID)
		}
	}
	if got[0] != events[0] {
		t.Fatal("an event that fits was changed")
	}
	fits := events[:1]
	if g := allot.CapEvents(fits); &g[0] != &fits[0] {
		t.Fatal("a batch that fits was copied")
	}
}

func FuzzCapLabel(f *testing.F) {
	f.Add("claude-sonnet-4-5")
	f.Add(strings.Repeat("é", 150))
	f.Add(strings.Repeat("x", 201))
	f.Fuzz(func(t *testing.T, s string) {
		got := allot.CapLabel(s)
		switch {
		case len(s) <= allot.MaxLabelBytes && got != s:
			t.Fatalf("changed a label that fits: %q -> %q", s, got)
		case len(got) > allot.MaxLabelBytes:
			t.Fatalf("%d bytes", len(got))
		case utf8.ValidString(s) && !utf8.ValidString(got):
			t.Fatalf("cut inside a rune: %q", got)
		}
	})
}

func TestOrgNormalizeRefusesOverLongNames(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("n", allot.MaxLabelBytes+1)
	for name, org := range map[string]allot.Org{
		"org name":   {Name: long},
		"team name":  {Teams: []allot.Team{{Name: long}}},
		"user name":  {Teams: []allot.Team{{Name: "t"}}, Users: []allot.User{{Name: long, Team: "t"}}},
		"user email": {Teams: []allot.Team{{Name: "t"}}, Users: []allot.User{{Name: "u", Email: long + "@x", Team: "t"}}},
	} {
		if _, err := org.Normalize(); allot.CodeOf(err) != allot.EInvalid {
			t.Errorf("%s over %d bytes: err = %v, want EInvalid", name, allot.MaxLabelBytes, err)
		}
	}
}
