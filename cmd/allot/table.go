package main

import (
	"io"
	"strings"
	"unicode/utf8"
)

// table is the one table printer of the CLI: a header and rows, columns
// two spaces apart and as wide as their widest cell, so identifiers are
// never cut (a long model name widens its column). Numeric columns are
// right-aligned. Cells are written on one line: tabs and newlines become
// spaces, so stored text cannot break the layout.
type table struct {
	header []string
	right  []bool // right-aligned columns (counts and money)
	rows   [][]string
	// wrap, when set, is the widest line: the last column (free text such
	// as a detail or summary) wraps at spaces onto continuation lines
	// instead of being cut. Identifier columns are never shortened.
	wrap int
}

// newTable starts a table; a header ending in "|>" marks a right-aligned
// column ("COST|>" prints as COST).
func newTable(header ...string) *table {
	t := &table{header: make([]string, len(header)), right: make([]bool, len(header))}
	for i, h := range header {
		h, t.right[i] = strings.CutSuffix(h, "|>")
		t.header[i] = h
	}
	return t
}

// add appends a row; missing cells print empty, extra cells are dropped.
func (t *table) add(cells ...string) {
	row := make([]string, len(t.header))
	for i := range row {
		if i < len(cells) {
			row[i] = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(cells[i])
		}
	}
	t.rows = append(t.rows, row)
}

// write prints the header and rows.
func (t *table) write(w io.Writer) error {
	width := make([]int, len(t.header))
	for _, r := range append([][]string{t.header}, t.rows...) {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	last := len(width) - 1
	indent := 0
	for _, n := range width[:last] {
		indent += n + 2
	}
	room := 0
	if t.wrap > 0 {
		room = max(t.wrap-indent, 40)
	}
	var b strings.Builder
	for _, r := range append([][]string{t.header}, t.rows...) {
		var more []string
		if room > 0 && last >= 0 {
			parts := wrapText(r[last], room)
			r = append(append([]string{}, r[:last]...), parts[0])
			more = parts[1:]
		}
		line := make([]byte, 0, 80)
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i > 0 {
				line = append(line, "  "...)
			}
			if t.right[i] {
				line = append(append(line, pad...), c...)
			} else if i < len(r)-1 {
				line = append(append(line, c...), pad...)
			} else {
				line = append(line, c...) // no trailing blanks
			}
		}
		b.Write(line)
		b.WriteByte('\n')
		for _, m := range more {
			b.WriteString(strings.Repeat(" ", indent))
			b.WriteString(m)
			b.WriteByte('\n')
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// wrapText breaks s at spaces into lines of at most n characters; a word
// longer than n stays whole on its own line (it is never cut).
func wrapText(s string, n int) []string {
	var lines []string
	cur := ""
	for _, word := range strings.Fields(s) {
		switch {
		case cur == "":
			cur = word
		case utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(word) <= n:
			cur += " " + word
		default:
			lines = append(lines, cur)
			cur = word
		}
	}
	return append(lines, cur)
}

// tableWidth is the line width free text wraps to in tables that have it
// (audit details, alert summaries); identifier columns may widen past it.
const tableWidth = 100
