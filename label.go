package allot

import (
	"crypto/sha256"
	"encoding/hex"
	"unicode/utf8"
)

// MaxLabelBytes bounds every text an event carries (its id, the names of
// its org, team, user, key, provider, models, route, task, session and
// app). Every such string comes from outside (headers, request and
// response bodies, OTLP attributes, imported files, /api/v1/usage), and
// none that names something real is near this long; one that is would
// otherwise be stored, indexed and sent back in every report.
const MaxLabelBytes = 200

// labelHashLen is how many hex digits of a capped label's SHA-256 its
// capped form ends with.
const labelHashLen = 16

// CapLabel returns s unchanged when it fits in MaxLabelBytes; a longer s
// becomes its longest prefix that ends on a UTF-8 boundary and fits with
// "~" and the first 16 hex digits of the SHA-256 of the whole s. The
// result is at most MaxLabelBytes, the same for the same s, and distinct
// long strings stay distinct (two session ids that share their first 183
// bytes are not merged), so ids keep their uniqueness and grouping keeps
// its meaning.
func CapLabel(s string) string {
	if len(s) <= MaxLabelBytes {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	keep := MaxLabelBytes - 1 - labelHashLen
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	b := make([]byte, 0, MaxLabelBytes)
	b = append(b, s[:keep]...)
	b = append(b, '~')
	b = hex.AppendEncode(b, sum[:labelHashLen/2])
	return string(b)
}

// labels returns pointers to every text field of e, for CapLabels.
func (e *Event) labels() [15]*string {
	return [...]*string{&e.ID, &e.Org, &e.Team, &e.User, &e.KeyID, &e.KeyLabel, (*string)(&e.Role),
		&e.Provider, &e.RequestedModel, &e.ServedModel, (*string)(&e.Route), &e.Task, &e.Session, &e.App,
		(*string)(&e.Source)}
}

// CapLabels caps every text field of e with CapLabel. The edges that build
// events call it (the gateway, the OTLP receiver, the importers), and the
// ledger writer and the stores' Append call it again as the last line, so
// no path can store an over-long string.
func (e *Event) CapLabels() {
	for _, p := range e.labels() {
		if len(*p) > MaxLabelBytes {
			*p = CapLabel(*p)
		}
	}
}

// LabelsCapped reports whether every text field of e fits MaxLabelBytes.
func (e *Event) LabelsCapped() bool {
	for _, p := range e.labels() {
		if len(*p) > MaxLabelBytes {
			return false
		}
	}
	return true
}

// CapEvents returns events with every label capped (see CapLabels). It
// returns events itself when nothing needs capping (the usual case, which
// costs one pass of length checks) and otherwise a copy, so the caller's
// slice is never changed.
func CapEvents(events []Event) []Event {
	for i := range events {
		if events[i].LabelsCapped() {
			continue
		}
		out := make([]Event, len(events))
		copy(out, events)
		for j := i; j < len(out); j++ {
			out[j].CapLabels()
		}
		return out
	}
	return events
}
