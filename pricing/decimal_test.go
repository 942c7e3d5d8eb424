package pricing_test

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/allot-dev/allot/pricing"
)

func TestParseDecimal(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in       string
		wantNano int64
		wantErr  string
	}{
		{"0.075", 75_000_000, ""},
		{"3", 3_000_000_000, ""},
		{"2.5", 2_500_000_000, ""},
		{".5", 500_000_000, ""},
		{"5.", 5_000_000_000, ""},
		{"0", 0, ""},
		{"-0", 0, ""},
		{"+1", 1_000_000_000, ""},
		{"0.000000001", 1, ""},
		{"0.1000000000000", 100_000_000, ""}, // trailing zeros are exact
		{"7.5e-2", 75_000_000, ""},
		{"1E3", 1_000_000_000_000, ""},
		{"1e-9", 1, ""},
		{"12.5e+1", 125_000_000_000, ""},
		{"0.0000000001", 0, "more than 9 decimal places"},
		{"0.18000000000000002", 0, "more than 9 decimal places"},
		{"1e-10", 0, "more than 9 decimal places"},
		{"-1", 0, "negative"},
		{"1e99", 0, "out of range"},
		{"10000000000", 0, "too large"},
		{"", 0, "empty"},
		{".", 0, "no digits"},
		{"1.2.3", 0, "not a decimal"},
		{"0x10", 0, "not a decimal"},
		{"1e", 0, "bad exponent"},
		{"1e+-2", 0, "bad exponent"},
		{"NaN", 0, "not a decimal"},
	}
	for _, tc := range cases {
		d, err := pricing.ParseDecimal(tc.in)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseDecimal(%q) = %d, %v; want error %q", tc.in, d.Nano(), err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("ParseDecimal(%q): %v", tc.in, err)
		case d.Nano() != tc.wantNano || !d.IsSet():
			t.Errorf("ParseDecimal(%q) = %d nano, want %d", tc.in, d.Nano(), tc.wantNano)
		}
	}
}

func TestDecimalString(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"0.075": "0.075", "3.000": "3", "1e-9": "0.000000001", "12.5e+1": "125"} {
		if got := mustDecimal(t, in).String(); got != want {
			t.Errorf("ParseDecimal(%q).String() = %q, want %q", in, got, want)
		}
	}
	if got := (pricing.Decimal{}).String(); got != "" {
		t.Errorf("unset Decimal.String() = %q, want empty", got)
	}
}

func TestDecimalYAMLAndJSON(t *testing.T) {
	t.Parallel()
	var y struct {
		A, B, C, D pricing.Decimal
	}
	if err := yaml.Unmarshal([]byte("a: 3\nb: 0.5\nc: \"0.5\"\nd: ~\n"), &y); err != nil {
		t.Fatal(err)
	}
	if y.A.Nano() != 3e9 || y.B.Nano() != 5e8 || y.C.Nano() != 5e8 || y.D.IsSet() {
		t.Errorf("yaml decimals = %+v", y)
	}
	if err := yaml.Unmarshal([]byte("a: 0.1234567891\n"), &y); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("yaml with 10 decimals: err = %v, want a line-numbered error", err)
	}
	if err := yaml.Unmarshal([]byte("a: [1]\n"), &y); err == nil {
		t.Error("yaml list accepted as a decimal")
	}
	var j struct{ A, B, C pricing.Decimal }
	if err := json.Unmarshal([]byte(`{"A": 0.075, "B": "2.5", "C": null}`), &j); err != nil {
		t.Fatal(err)
	}
	if j.A.Nano() != 75_000_000 || j.B.Nano() != 2_500_000_000 || j.C.IsSet() {
		t.Errorf("json decimals = %+v", j)
	}
	out, err := json.Marshal(j)
	if err != nil || string(out) != `{"A":0.075,"B":2.5,"C":null}` {
		t.Errorf("json.Marshal = %s, %v", out, err)
	}
	yout, err := yaml.Marshal(map[string]pricing.Decimal{"a": j.A})
	if err != nil || string(yout) != "a: 0.075\n" {
		t.Errorf("yaml.Marshal = %q, %v", yout, err)
	}
}

// FuzzParseDecimal checks the parser against math/big: whatever it
// accepts equals the exact rational value × 1e9, and it never panics.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0.075", "3", ".5", "1e-9", "7.5E-2", "-0", "0.18000000000000002", "1e99", "", "+.", "9223372036.854775807", "9223372036.854775808"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := pricing.ParseDecimal(s)
		if err != nil {
			return
		}
		if d.Nano() < 0 {
			t.Fatalf("ParseDecimal(%q) = %d, negative", s, d.Nano())
		}
		want, ok := new(big.Rat).SetString(strings.TrimSpace(s))
		if !ok || strings.ContainsAny(s, "/xXpP_") {
			t.Fatalf("ParseDecimal(%q) accepted what big.Rat does not read as a decimal", s)
		}
		want.Mul(want, big.NewRat(1_000_000_000, 1))
		if !want.IsInt() || want.Num().Cmp(big.NewInt(d.Nano())) != 0 {
			t.Fatalf("ParseDecimal(%q) = %d nano, want %s", s, d.Nano(), want.RatString())
		}
		back, err := pricing.ParseDecimal(d.String())
		if err != nil || back != d {
			t.Fatalf("round trip of %q via %q = %v, %v", s, d.String(), back, err)
		}
	})
}
