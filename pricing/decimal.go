package pricing

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Decimal is an exact non-negative decimal with at most nine places, such
// as a price in USD per million tokens. It is held as an integer count of
// 1e-9 units, so a $/Mtok price is directly a rate in nano-USD per million
// tokens. The zero value is unset; IsSet tells "0" from "absent".
type Decimal struct {
	nano int64
	set  bool
}

// maxDecimalNano bounds parsed values (about 9.2e9 whole units), far above
// any real price, so sums of rates cannot overflow on their own.
const maxDecimalNano = math.MaxInt64

// NewDecimalNano is the Decimal of n billionths (n nano-USD per Mtok for a
// rate); negative n panics, as prices are never negative.
func NewDecimalNano(n int64) Decimal {
	if n < 0 {
		panic(fmt.Sprintf("pricing: negative decimal %d", n))
	}
	return Decimal{nano: n, set: true}
}

// ParseDecimal reads a plain decimal ("3", "0.075", ".5") or one in
// exponent form ("7.5e-2") exactly. It refuses what it cannot represent
// exactly: more than nine significant decimal places, negative numbers,
// values above about 9.2e9, anything that is not a number.
func ParseDecimal(s string) (Decimal, error) {
	n, err := parseNano(strings.TrimSpace(s))
	if err != nil {
		return Decimal{}, fmt.Errorf("parse decimal %q: %w", s, err)
	}
	return Decimal{nano: n, set: true}, nil
}

// parseNano returns s × 1e9 as an integer, or an error if that is not
// exactly an integer in [0, MaxInt64].
func parseNano(s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty")
	}
	neg := s[0] == '-'
	if s[0] == '+' || s[0] == '-' {
		s = s[1:]
	}
	v, err := parseUnsignedNano(s)
	if err == nil && neg && v != 0 {
		return 0, fmt.Errorf("prices cannot be negative")
	}
	return v, err
}

func parseUnsignedNano(s string) (int64, error) {
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e := s[i+1:]
		eneg := false
		if e != "" && (e[0] == '+' || e[0] == '-') {
			eneg = e[0] == '-'
			e = e[1:]
		}
		if e == "" || len(e) > 3 || strings.Trim(e, "0123456789") != "" {
			return 0, fmt.Errorf("bad exponent")
		}
		exp, _ = strconv.Atoi(e)
		if exp > 40 {
			return 0, fmt.Errorf("exponent %s out of range", s[i+1:])
		}
		if eneg {
			exp = -exp
		}
	}
	whole, frac, _ := strings.Cut(mant, ".")
	if whole == "" && frac == "" {
		return 0, fmt.Errorf("no digits")
	}
	digits := whole + frac
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, fmt.Errorf("not a decimal number")
		}
	}
	// value = digits × 10^(exp-len(frac)); value × 1e9 = digits × 10^shift.
	shift := 9 + exp - len(frac)
	digits = strings.TrimLeft(digits, "0")
	if shift < 0 {
		cut := -shift
		if cut > len(digits) {
			cut = len(digits)
		}
		if strings.Trim(digits[len(digits)-cut:], "0") != "" {
			return 0, fmt.Errorf("more than 9 decimal places")
		}
		digits = digits[:len(digits)-cut]
		shift = 0
	}
	if digits == "" {
		return 0, nil
	}
	if len(digits)+shift > 19 {
		return 0, fmt.Errorf("too large")
	}
	v, err := strconv.ParseUint(digits+strings.Repeat("0", shift), 10, 64)
	if err != nil || v > maxDecimalNano {
		return 0, fmt.Errorf("too large")
	}
	return int64(v), nil
}

// IsSet reports whether the decimal was given (a parsed "0" is set).
func (d Decimal) IsSet() bool { return d.set }

// Nano is the value in billionths: for a $/Mtok price, the rate in
// nano-USD per million tokens.
func (d Decimal) Nano() int64 { return d.nano }

// String writes the shortest exact decimal, e.g. "0.075", "3"; an unset
// decimal writes "".
func (d Decimal) String() string {
	if !d.set {
		return ""
	}
	whole, frac := d.nano/1_000_000_000, d.nano%1_000_000_000
	s := strconv.FormatInt(whole, 10)
	if frac != 0 {
		f := strings.TrimRight(fmt.Sprintf("%09d", frac), "0")
		s += "." + f
	}
	return s
}

// UnmarshalYAML reads a scalar's text, so `3`, `0.5` and `"0.5"` all parse
// exactly (yaml.v3 would otherwise go through float64); null leaves it unset.
func (d *Decimal) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: price must be a number such as 0.5", n.Line)
	}
	if n.Tag == "!!null" {
		*d = Decimal{}
		return nil
	}
	v, err := ParseDecimal(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// MarshalYAML writes the exact decimal as a YAML number.
func (d Decimal) MarshalYAML() (any, error) {
	if !d.set {
		return nil, nil
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: d.String()}, nil
}

// UnmarshalJSON reads a JSON number or a string holding one, exactly;
// null leaves it unset.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*d = Decimal{}
		return nil
	}
	s := string(b)
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		u, err := strconv.Unquote(s)
		if err != nil {
			return fmt.Errorf("parse decimal %s: %w", s, err)
		}
		s = u
	}
	v, err := ParseDecimal(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON writes the exact decimal as a JSON number (null if unset).
func (d Decimal) MarshalJSON() ([]byte, error) {
	if !d.set {
		return []byte("null"), nil
	}
	return []byte(d.String()), nil
}
