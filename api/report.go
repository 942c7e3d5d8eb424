// Package api is allot's admin and self-service REST API (/api/v1/...) and
// the report encodings shared with the CLI.
package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/allot-dev/allot"
)

// ReportFormats are the encodings a report can be written in.
var ReportFormats = []string{"table", "json", "csv"}

// metricColumns are the totals of a report row, in output order.
var metricColumns = []string{"requests", "input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "output_tokens", "reasoning_tokens", "estimated_requests", "cost_usd"}

func metricValues(r allot.ReportRow) []string {
	t := r.Tokens
	return []string{
		strconv.FormatInt(r.Requests, 10), strconv.FormatInt(t.Input, 10), strconv.FormatInt(t.CacheRead, 10),
		strconv.FormatInt(t.CacheWrite(), 10), strconv.FormatInt(t.CacheWrite5m, 10), strconv.FormatInt(t.CacheWrite1h, 10),
		strconv.FormatInt(t.Output, 10), strconv.FormatInt(t.Reasoning, 10), strconv.FormatInt(r.EstimatedRequests, 10),
		r.Cost.String(),
	}
}

// WriteReport encodes rows in format (table, json or csv).
func WriteReport(w io.Writer, format string, by []allot.Dimension, rows []allot.ReportRow) error {
	switch format {
	case "json":
		return writeReportJSON(w, by, rows)
	case "csv":
		return writeReportCSV(w, by, rows)
	case "table", "":
		return writeReportTable(w, by, rows)
	}
	return allot.Errorf(allot.EInvalid, "unknown format %q; use table, json or csv", format)
}

// writeReportJSON writes an array of objects: the dimension fields, then
// the totals; cost_usd is a JSON number with the exact nine-place decimal.
func writeReportJSON(w io.Writer, by []allot.Dimension, rows []allot.ReportRow) error {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, r := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n  {")
		for j, d := range by {
			key, _ := json.Marshal(string(d))
			val, _ := json.Marshal(r.Dims[j])
			b.Write(key)
			b.WriteByte(':')
			b.Write(val)
			b.WriteByte(',')
		}
		for j, v := range metricValues(r) {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q:%s", metricColumns[j], v)
		}
		b.WriteByte('}')
	}
	if len(rows) > 0 {
		b.WriteByte('\n')
	}
	b.WriteString("]\n")
	_, err := w.Write(b.Bytes())
	return err
}

func writeReportCSV(w io.Writer, by []allot.Dimension, rows []allot.ReportRow) error {
	cw := allot.NewCSVWriter(w) // neutralises formula-looking cells
	header := make([]string, 0, len(by)+len(metricColumns))
	for _, d := range by {
		header = append(header, string(d))
	}
	if err := cw.Write(append(header, metricColumns...)); err != nil {
		return err
	}
	for _, r := range rows {
		rec := append(append([]string{}, r.Dims...), metricValues(r)...)
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeReportTable writes an aligned table that fits an 80-column terminal:
// dimensions, requests, input, cached, output and cost, and a total line.
func writeReportTable(w io.Writer, by []allot.Dimension, rows []allot.ReportRow) error {
	dimWidth := 14
	if len(by) > 0 {
		dimWidth = max(8, min(24, (80-49)/len(by)-1))
	}
	var b strings.Builder
	for _, d := range by {
		fmt.Fprintf(&b, "%-*s ", dimWidth, clip(strings.ToUpper(string(d)), dimWidth))
	}
	fmt.Fprintf(&b, "%6s %9s %9s %9s %12s\n", "REQS", "INPUT", "CACHED", "OUTPUT", "COST USD")
	var total allot.ReportRow
	for _, r := range rows {
		for j := range by {
			fmt.Fprintf(&b, "%-*s ", dimWidth, clip(r.Dims[j], dimWidth))
		}
		fmt.Fprintf(&b, "%6s %9s %9s %9s %12s\n", short(r.Requests), short(r.Tokens.Input), short(r.Tokens.CacheRead), short(r.Tokens.Output), usd(r.Cost))
		total.Requests = allot.SatAdd(total.Requests, r.Requests)
		total.Tokens = total.Tokens.Add(r.Tokens)
		total.Cost = total.Cost.Plus(r.Cost)
	}
	label := "TOTAL"
	for range by {
		fmt.Fprintf(&b, "%-*s ", dimWidth, clip(label, dimWidth))
		label = ""
	}
	fmt.Fprintf(&b, "%6s %9s %9s %9s %12s\n", short(total.Requests), short(total.Tokens.Input), short(total.Tokens.CacheRead), short(total.Tokens.Output), usd(total.Cost))
	_, err := io.WriteString(w, b.String())
	return err
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// short formats counts compactly: 950, 12.3k, 4.56M, 7.89G.
func short(n int64) string {
	switch {
	case n < 10_000:
		return strconv.FormatInt(n, 10)
	case n < 10_000_000:
		return fmt.Sprintf("%d.%dk", n/1000, n%1000/100)
	case n < 10_000_000_000:
		return fmt.Sprintf("%d.%02dM", n/1_000_000, n%1_000_000/10_000)
	}
	return fmt.Sprintf("%d.%02dG", n/1_000_000_000, n%1_000_000_000/10_000_000)
}

// usd formats money for people: four decimals (truncated), e.g. 12.3456.
func usd(m allot.Money) string {
	s := m.String()
	return s[:len(s)-5]
}
