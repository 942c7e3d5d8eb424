package allot

import (
	"context"
	"time"
)

// Ledger stores usage events. Appending is idempotent on Event.ID: an event
// appended twice is stored once, so retries and replays never double count.
type Ledger interface {
	// Append stores events in one batch and returns how many were new.
	Append(ctx context.Context, events []Event) (inserted int, err error)
	// Unpriced lists the models recorded with cost_known=false.
	Unpriced(ctx context.Context) ([]UnpricedModel, error)
}

// UnpricedModel is a model the catalog had no price for, with what it used.
type UnpricedModel struct {
	Provider string    `json:"provider"`
	Model    string    `json:"model"`
	Requests int64     `json:"requests"`
	Tokens   Tokens    `json:"tokens"`
	LastSeen time.Time `json:"last_seen"`
}

// Recorder accepts events on the request hot path without blocking on disk.
type Recorder interface {
	Record(e Event)
}

// IntentRecorder is a Recorder that can also journal a call's intent
// before the call is forwarded: the event to record in its place, flagged
// Estimated with status StatusCrashed, should the process die before
// Record is called with an event of the same ID. A provider bills a call
// it received whether or not allot lives to see the answer, so this keeps
// such spend in the ledger and its budgets.
type IntentRecorder interface {
	Recorder
	Intend(e Event)
}

// Directory holds the organization: teams, users and their virtual keys.
type Directory interface {
	// ApplyOrg makes the stored teams and users equal to org (declarative,
	// idempotent); users missing from org are deactivated, not deleted, so
	// their history stays attributed.
	ApplyOrg(ctx context.Context, org Org) (ApplyResult, error)
	// Users lists active users.
	Users(ctx context.Context) ([]User, error)
	// Teams lists teams.
	Teams(ctx context.Context) ([]Team, error)
	// CreateKey stores a new key for user; the secret is returned once and
	// never stored, only its hash.
	CreateKey(ctx context.Context, user, label string) (secret string, key Key, err error)
	// CreateKeyExpiring is CreateKey with an expiry: from expires on (when
	// not zero) the key is refused with a message saying how to make a new
	// one. Self-service keys (api/keys.go) are made with it.
	CreateKeyExpiring(ctx context.Context, user, label string, expires time.Time) (secret string, key Key, err error)
	// Keys lists keys, of one user or of everyone when user is "".
	Keys(ctx context.Context, user string) ([]Key, error)
	// RevokeKey revokes a key by its public id.
	RevokeKey(ctx context.Context, id string) error
	// PrincipalByKeyHash resolves an active key's hash to its principal;
	// an unknown or revoked key is EUnauthorized.
	PrincipalByKeyHash(ctx context.Context, hash []byte) (Principal, error)
	// UpsertUser creates u as an active user, or updates the email, team
	// (creating the team when it is missing) and role of the user named
	// u.Name, reactivating them; created says which. It is how people
	// come from outside org.yaml (OpenID Connect sign-in, SCIM, allot
	// admin add); the caller audits it. u is checked as org.yaml's users
	// are (allot.User.Check). A deactivated user stays deactivated.
	UpsertUser(ctx context.Context, u User) (created bool, err error)
	// UserByEmail finds the user whose email is email, compared without
	// case: ENotFound when there is none; a deactivated user is returned
	// together with an EForbidden error, so a sign-in can refuse them
	// rather than create them again.
	UserByEmail(ctx context.Context, email string) (User, error)
	// SetUserActive deactivates (false) or reactivates (true) the user
	// named name. Deactivating revokes every key of theirs at once, so
	// they stop working on every replica (RevokedKeys) and the sessions
	// signed in with them end; their history stays in reports.
	// Reactivating brings no key back. ENotFound for an unknown user.
	SetUserActive(ctx context.Context, name string, active bool) error
	// RevokedKeys lists the hashes of keys revoked within the last
	// `within` by the store's clock, at most limit: replicas poll it to
	// drop revoked keys from their caches (gateway.WatchRevocations).
	RevokedKeys(ctx context.Context, within time.Duration, limit int) ([][]byte, error)
	// Setting reads a stored setting (nil if unset); SetSetting writes one.
	Setting(ctx context.Context, name string) ([]byte, error)
	SetSetting(ctx context.Context, name string, value []byte) error
}

// ApplyResult counts what ApplyOrg changed.
type ApplyResult struct {
	TeamsCreated, TeamsRemoved               int
	UsersCreated, UsersUpdated, UsersRemoved int
}

// Pricer prices usage exactly.
type Pricer interface {
	// Cost prices t for model at provider at time at; known is false when no
	// price matches (the event then keeps its tokens with cost 0).
	Cost(provider, model string, at time.Time, t Tokens) (cost Money, known bool)
}

// EventQuery selects events for the request log: a time range, optional
// equality filters, newest first, paginated by a cursor.
type EventQuery struct {
	From, To time.Time
	Filter   map[Dimension]string // user, team, model, task, app, provider
	Limit    int                  // at most this many (default 100, max 1000)
	Before   string               // cursor: only events older than the event with this ID
}

// EventLog lists individual events (never any prompt text: events hold none).
type EventLog interface {
	// ListEvents answers the request log: newest first, paginated.
	ListEvents(ctx context.Context, q EventQuery) ([]Event, error)
	// Events lists the events in [from, to), oldest first, at most limit
	// (exports and reconciliation read the ledger back this way).
	Events(ctx context.Context, from, to time.Time, limit int) ([]Event, error)
}

// TaskLedger is what labelling tasks by system prompt reads and rewrites.
type TaskLedger interface {
	// PromptUsage sums the calls per system prompt fingerprint.
	PromptUsage(ctx context.Context, q InsightQuery) ([]PromptUsage, error)
	// RelabelTasks moves past untagged calls with a labelled prompt to
	// their task and returns how many calls moved.
	RelabelTasks(ctx context.Context, labels TaskLabels, from, to time.Time) (int64, error)
}

// Warmer prepares a store's insight aggregates for the last days ahead of
// the first reader, so a dashboard after a restart or a new day does not
// wait for them to be built.
type Warmer interface {
	WarmInsights(ctx context.Context, days int) error
}

// Store is everything allot keeps in its database, all of it required:
// SQLite is the embedded default and PostgreSQL the scaled one, both pass
// the same suite (internal/storetest), so callers never ask a store what
// it can do. What only PostgreSQL does (budget counters shared by
// replicas, ledger retention by monthly partitions) is no part of it:
// `allot serve` wires those from the *postgres.DB it opened.
type Store interface {
	Ledger
	Reporter
	Directory
	Provisioning
	AuditLog
	GrantStore
	NoticeStore
	EventLog
	UsageByHour
	InsightSource
	TaskLedger
	Warmer
	Close() error
}

// UsageByHour streams the ledger's hourly rollups as one synthetic event per
// hour and context (exact token and cost sums), e.g. to rebuild budget
// counters at start without reading every event.
type UsageByHour interface {
	EachHour(ctx context.Context, from, to time.Time, fn func(Event) error) error
}
