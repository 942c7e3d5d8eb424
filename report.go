package allot

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Dimension is a field a report can group by.
type Dimension string

// Report dimensions.
const (
	DimUser     Dimension = "user"
	DimTeam     Dimension = "team"
	DimModel    Dimension = "model" // the served model
	DimTask     Dimension = "task"
	DimApp      Dimension = "app"
	DimProvider Dimension = "provider"
	DimDay      Dimension = "day"  // UTC date, 2006-01-02
	DimHour     Dimension = "hour" // UTC hour, 2006-01-02T15
)

// Dimensions lists every dimension in a stable order.
var Dimensions = []Dimension{DimUser, DimTeam, DimModel, DimTask, DimApp, DimProvider, DimDay, DimHour}

// ParseDimensions parses a comma list such as "user,model"; unknown names are EInvalid.
func ParseDimensions(s string) ([]Dimension, error) {
	var out []Dimension
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		ok := false
		for _, d := range Dimensions {
			if string(d) == part {
				ok = true
			}
		}
		if !ok {
			return nil, Errorf(EInvalid, "unknown report dimension %q; use a comma list of user,team,model,task,app,provider,day,hour", part)
		}
		out = append(out, Dimension(part))
	}
	return out, nil
}

// ReportQuery asks for usage totals grouped by dimensions over [From, To).
type ReportQuery struct {
	By       []Dimension
	From, To time.Time
	Filter   map[Dimension]string // optional equality filters, e.g. {DimTeam: "platform"}
}

// Validate checks the query and returns an EInvalid *Error if it cannot run.
func (q ReportQuery) Validate() error {
	if q.From.IsZero() || q.To.IsZero() || !q.From.Before(q.To) {
		return Errorf(EInvalid, "report range must have from before to (got %s .. %s)", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	for d := range q.Filter {
		if d == DimDay || d == DimHour {
			return Errorf(EInvalid, "filter on %s is not supported; use from/to", d)
		}
	}
	return nil
}

// ReportRow is one group of a report: the dimension values in the order of
// ReportQuery.By and the totals, which equal the sum of the group's events.
type ReportRow struct {
	Dims              []string
	Requests          int64
	Tokens            Tokens
	EstimatedRequests int64
	Cost              Money
}

// Reporter answers reports from the ledger's rollups.
type Reporter interface {
	Report(ctx context.Context, q ReportQuery) ([]ReportRow, error)
}

// String is a short human form of the row, for logs and test failures.
func (r ReportRow) String() string {
	return fmt.Sprintf("%v req=%d in=%d out=%d cost=%s", r.Dims, r.Requests, r.Tokens.Input, r.Tokens.Output, r.Cost)
}
