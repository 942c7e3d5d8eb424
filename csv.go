package allot

import (
	"encoding/csv"
	"io"
)

// CSVCell returns s safe to put in a CSV cell that a spreadsheet will
// open: a cell starting with '=', '+', '-', '@', a tab or a carriage
// return is a formula to Excel, LibreOffice and Google Sheets, so such a
// cell gets a leading single quote, as OWASP recommends (an event's task
// comes from the caller's X-Allot-Task header, so "=HYPERLINK(…)" would
// otherwise run in whoever opens the export). A plain decimal number
// (-1.5, +3, -0.000000001) is left as it is, so numeric columns stay
// numbers; no other text is changed.
func CSVCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		if (s[0] == '-' || s[0] == '+') && isDecimal(s[1:]) {
			return s
		}
		return "'" + s
	}
	return s
}

// isDecimal reports whether s is digits with at most one '.' between
// digits: "1", "1.5", "0.000000001".
func isDecimal(s string) bool {
	digits, dot := 0, -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && dot < 0 && digits > 0:
			dot = i
		default:
			return false
		}
	}
	return digits > 0 && dot != len(s)-1
}

// CSVWriter is a csv.Writer that passes every cell through CSVCell. Every
// CSV allot writes (reports, request logs, alerts, exports) goes through
// one, so no writer can forget to neutralise a cell.
type CSVWriter struct {
	w   *csv.Writer
	rec []string
}

// NewCSVWriter returns a CSVWriter writing to w.
func NewCSVWriter(w io.Writer) *CSVWriter { return &CSVWriter{w: csv.NewWriter(w)} }

// Write writes one record, each cell through CSVCell.
func (c *CSVWriter) Write(record []string) error {
	c.rec = c.rec[:0]
	for _, s := range record {
		c.rec = append(c.rec, CSVCell(s))
	}
	return c.w.Write(c.rec)
}

// Flush writes any buffered data to the underlying io.Writer.
func (c *CSVWriter) Flush() { c.w.Flush() }

// Error reports any error from a previous Write or Flush.
func (c *CSVWriter) Error() error { return c.w.Error() }
