package sqlite

import (
	"fmt"
	"strings"
)

// Sums of stored values saturate at the int64 range (allot.MaxMoney for
// costs) instead of failing: SQLite's + turns an overflowing integer sum
// into a REAL, which no int64 reads back, and its sum() aborts the
// statement with "integer overflow". Either way one huge event would make
// every report, and the budget rebuild at start, fail for everyone.

// satMax and satMin are the bounds sums saturate at, as SQL literals
// (allot.MaxMoney and allot.MinMoney).
const (
	satMax = "9223372036854775807"
	satMin = "-9223372036854775807"
)

// satAddSQL is the SQL for a+b saturated at satMax and satMin; a and b are
// integer expressions. The bound is tested before adding, so the sum is
// never computed when it would overflow.
func satAddSQL(a, b string) string {
	return fmt.Sprintf(`CASE WHEN %[2]s > 0 AND %[1]s > %[3]s - %[2]s THEN %[3]s WHEN %[2]s < 0 AND %[1]s < %[4]s - %[2]s THEN %[4]s ELSE %[1]s + %[2]s END`,
		a, b, satMax, satMin)
}

// satSumSQL is the SQL for sum(x) saturated at satMax and satMin, for an
// integer expression x. It sums the high and the low 32 bits of x apart
// (each sum fits in int64 for fewer than 2^31 rows) with the built-in
// sum(), as fast as a plain one, and joins them: past the bounds the high
// half, carries included, is 2^31 or more (or below -2^31). SQLite
// computes an aggregate written twice once. NULL for no rows, as sum().
func satSumSQL(x string) string {
	hi := fmt.Sprintf("(sum((%[1]s) >> 32) + (sum((%[1]s) & 4294967295) >> 32))", x)
	lo := fmt.Sprintf("(sum((%[1]s) & 4294967295) & 4294967295)", x)
	return fmt.Sprintf(`CASE WHEN %[1]s >= 2147483648 THEN %[3]s WHEN %[1]s < -2147483648 THEN %[4]s ELSE max((%[1]s << 32) + %[2]s, %[4]s) END`,
		hi, lo, satMax, satMin)
}

// satAddColumn is the DO UPDATE assignment that adds excluded's value of
// column c to the stored one: saturated, unless c counts calls (its name
// ends in "requests"), which grows by one a stored event and cannot come
// near the bound, so the append path does not pay for the test.
func satAddColumn(c string) string {
	if strings.HasSuffix(c, "requests") {
		return c + " = " + c + " + excluded." + c
	}
	return c + " = " + satAddSQL(c, "excluded."+c)
}

// satAddColumns is satAddColumn of each of cols (a comma-separated list).
func satAddColumns(cols string) string {
	var set []string
	for _, c := range strings.Split(cols, ",") {
		set = append(set, satAddColumn(strings.TrimSpace(c)))
	}
	return strings.Join(set, ",\n\t\t")
}
