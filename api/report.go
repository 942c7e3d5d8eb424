// Package api is allot's admin and self-service REST API (/api/v1/...) and
// the report encodings shared with the CLI.
package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/allot-dev/allot"
)

// ReportFormats are the encodings a report can be written in; the CLI
// prints the table for people itself (cmd/allot/report.go).
var ReportFormats = []string{"json", "csv"}

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

// WriteReport encodes rows in format (json or csv), with the exact
// nine-place cost.
func WriteReport(w io.Writer, format string, by []allot.Dimension, rows []allot.ReportRow) error {
	switch format {
	case "json":
		return writeReportJSON(w, by, rows)
	case "csv":
		return writeReportCSV(w, by, rows)
	}
	return allot.Errorf(allot.EInvalid, "unknown format %q; use json or csv", format)
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
