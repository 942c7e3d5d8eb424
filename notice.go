package allot

import (
	"context"
	"time"
)

// NoticeKind says what a notice is about.
type NoticeKind string

// Notice kinds.
const (
	NoticeThreshold NoticeKind = "threshold" // a budget crossed one of its alert_at percentages
	NoticeDowngrade NoticeKind = "downgrade" // a budget started downgrading calls
	NoticeRefusal   NoticeKind = "refusal"   // a budget started refusing calls
)

// Notice is an alert worth telling people about: stored in the ledger
// database (`allot alerts`) and delivered to webhooks. ID makes it unique:
// at most one notice per kind, budget, threshold and period.
type Notice struct {
	ID      string         `json:"id"` // e.g. "threshold|platform-monthly|80|2026-11-01T00:00:00Z"
	Time    time.Time      `json:"time"`
	Kind    NoticeKind     `json:"kind"`
	Budget  string         `json:"budget"`
	Scope   string         `json:"scope"`
	User    string         `json:"user,omitempty"` // the caller whose call raised it
	Message string         `json:"message"`        // a sentence for people
	Detail  map[string]any `json:"detail,omitempty"`
}

// NoticeStore stores notices, once each.
type NoticeStore interface {
	// AddNotice stores n unless a notice with its ID exists; added says which.
	AddNotice(ctx context.Context, n Notice) (added bool, err error)
	// Notices lists notices in [from, to), newest first, at most limit (0: no limit).
	Notices(ctx context.Context, from, to time.Time, limit int) ([]Notice, error)
}
