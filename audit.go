package allot

import (
	"context"
	"time"
)

// AuditEntry records one change to the organization, its keys, budgets or
// grants: who did what to which thing, so admins can answer "who raised
// this budget?" later (`allot audit`).
type AuditEntry struct {
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`  // "cli:<os user>" for the CLI, or the admin's user name for the API
	Action string    `json:"action"` // e.g. org.apply, policy.apply, key.create, key.revoke, budget.grant, budget.update
	Target string    `json:"target"` // what was changed: a user, key id or budget name
	Detail string    `json:"detail"` // a sentence or JSON for people; never a secret
}

// AuditLog stores audit entries; they are only ever appended.
type AuditLog interface {
	// Audit appends one entry.
	Audit(ctx context.Context, e AuditEntry) error
	// AuditEntries lists entries in [from, to), newest first, at most limit (0: no limit).
	AuditEntries(ctx context.Context, from, to time.Time, limit int) ([]AuditEntry, error)
}

// GrantStore keeps budget top-ups so they survive a restart and are shared
// by every replica.
type GrantStore interface {
	// AddGrant stores a grant.
	AddGrant(ctx context.Context, g Grant) error
	// Grants lists grants that have not expired at now.
	Grants(ctx context.Context, now time.Time) ([]Grant, error)
}
