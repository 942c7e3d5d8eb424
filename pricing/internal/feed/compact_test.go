package feed

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, want string
		changed  bool
		err      string
	}{
		{"0.075", "0.075", false, ""},
		{"3", "3", false, ""},
		{"0.123456789", "0.123456789", false, ""},
		{"0.18000000000000002", "0.18", true, ""},
		{"0.08333333333333334", "0.083333333", true, ""},
		{"0.0000000005", "0.000000001", true, ""}, // half rounds up
		{"0.0000000004", "0", true, ""},
		{"1.5e-1", "0.15", true, ""},
		{"2E3", "2000", true, ""},
		{"-1", "", false, "negative"},
	}
	for _, tc := range cases {
		got, changed, err := normalize(json.Number(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("normalize(%s) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != tc.want || changed != tc.changed {
			t.Errorf("normalize(%s) = %s, %v, %v; want %s, %v", tc.in, got, changed, err, tc.want, tc.changed)
		}
	}
}

// TestCompactIsStableAndReadable checks the compact form reads back to
// itself, one model per line, keeping only the price keys allot uses.
func TestCompactIsStableAndReadable(t *testing.T) {
	t.Parallel()
	in := `[{"id":"p","name":"P","api_pattern":"x","model_match":{"starts_with":"m"},"models":[
	 {"id":"m1","name":"M1","match":{"or":[{"equals":"m1"},{"regex":"^m1-\\d+$"}]},"prices":{"input_mtok":1,"output_mtok":2,"input_audio_mtok":3}},
	 {"id":"m2","match":{"equals":"m2"},"prices":[{"prices":{"input_mtok":{"base":1,"tiers":[{"start":10,"price":2}]}}},{"constraint":{"start_date":"2026-01-01"},"prices":{"input_mtok":0.5}}]}]}]`
	out, notes, err := Compact([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := `[
{"id":"p","model_match":{"starts_with":"m"},"models":[
{"id":"m1","match":{"or":[{"equals":"m1"},{"regex":"^m1-\\d+$"}]},"prices":{"input_mtok":1,"output_mtok":2}},
{"id":"m2","match":{"equals":"m2"},"prices":[{"prices":{"input_mtok":{"base":1,"tiers":[{"start":10,"price":2}]}}},{"constraint":{"start_date":"2026-01-01"},"prices":{"input_mtok":0.5}}]}]}
]
`
	if string(out) != want {
		t.Errorf("Compact =\n%s\nwant\n%s", out, want)
	}
	if len(notes) != 0 {
		t.Errorf("notes = %q, want none", notes)
	}
	again, _, err := Compact(out)
	if err != nil || string(again) != string(out) {
		t.Errorf("Compact is not idempotent: %v\n%s", err, again)
	}
}
