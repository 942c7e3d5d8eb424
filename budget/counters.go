package budget

import (
	"context"
	"errors"
	"time"

	"github.com/allot-dev/allot"
)

// NoLimit as a Charge's Limit records the charge without ever refusing it
// (notify budgets).
const NoLimit int64 = -1

// DefaultLeaseTTL is how long a Rationer's reservations live unless settled
// or released first: longer than the gateway's default upstream timeout
// (10m), so only reservations of a replica that died (kill -9, lost host)
// lapse, and they hold budget room for at most this long.
const DefaultLeaseTTL = 15 * time.Minute

// ErrUnreachable marks a Counters error caused by the store being out of
// reach (connection refused or reset, timeout, failover in progress), as
// opposed to a bug or a bad charge. Stores wrap it into such errors so
// Failover can apply its failure policy; test with errors.Is.
var ErrUnreachable = errors.New("budget counters unreachable")

// Charge is one amount on one counter. A counter is a series of cells named
// by Key (a budget instance or rate limit) and numbered by Bucket (the
// period's start in Unix seconds, or a rolling window's bucket). The
// amount goes to cell Bucket; the limit applies to the sum of the Span
// cells Bucket-Span+1 .. Bucket, which is a single cell for calendar
// periods and the buckets of the window for rolling ones.
type Charge struct {
	Key    string
	Bucket int64
	Span   int   // cells counted against Limit; 0 is taken as 1
	Amount int64 // reserved by Reserve, taken back by Settle and Release
	Limit  int64 // spent+reserved+Amount must stay <= Limit; NoLimit never refuses
	Actual int64 // for Settle: the amount actually used, added to spent

	// Lease names the holder of the reservation (one Rationer admission;
	// unique across replicas) and LeaseTTL bounds its life: when both are
	// set, a reservation not settled or released within LeaseTTL of its
	// Reserve lapses by itself, so a replica killed mid-call does not hold
	// budget room forever. Settle and Release of a lapsed lease take back
	// nothing (Settle still adds Actual to spent). A lease holds at most
	// one reservation per cell. Without a lease a reservation lasts until
	// it is settled or released.
	Lease    string
	LeaseTTL time.Duration
	// Keep is when the cell stops mattering (its period's end); a shared
	// store may forget it some time after. Zero keeps it for good.
	Keep time.Time

	// Set by Reserve (after adding, or as found for the charge that did
	// not fit) and by Settle (after settling): the window's sums.
	Spent, Reserved int64
}

// leased reports whether the charge's reservation lapses by itself.
func (c *Charge) leased() bool { return c.Lease != "" && c.LeaseTTL > 0 }

// Counters stores budget and rate-limit counters. Implementations must make
// Reserve atomic across all its charges, also across processes when shared
// (Redis does it in one Lua script, Postgres in one transaction). The
// package budget/counterstest checks an implementation against this
// contract.
type Counters interface {
	// Reserve adds every charge's Amount to its cell's reserved if each
	// one fits (spent+reserved+Amount <= Limit over its span), or adds
	// nothing. It returns -1 when all were added, else the index of the
	// first charge that did not fit. Leased reservations (Charge.Lease)
	// that lapsed are taken back before the check.
	Reserve(ctx context.Context, charges []Charge) (failed int, err error)
	// Settle moves each charge from reserved to spent: reserved drops by
	// Amount (unless its lease lapsed) and spent grows by Actual, which may
	// be less or more than Amount. Spend is the truth (the provider billed
	// it), so a spent sum may end above its limit when a call used more
	// than its worst case; later reservations then fail until the period
	// moves on.
	Settle(ctx context.Context, charges []Charge) error
	// Release drops each charge's Amount from reserved (nothing when its
	// lease lapsed); nothing is spent.
	Release(ctx context.Context, charges []Charge) error
	// Read returns spent and reserved summed over the span cells up to bucket.
	Read(ctx context.Context, key string, bucket int64, span int) (spent, reserved int64, err error)
	// AddSpent adds each charge's Actual to its cell's spent without a
	// reservation (Amount, Limit and Lease are ignored): for rebuilding
	// counters from the ledger at start and for usage that did not pass
	// through the gateway.
	AddSpent(ctx context.Context, charges []Charge) error
}

// fits reports whether amount fits under limit on top of spent and
// reserved, with the sum saturated rather than wrapped: no counter value,
// however absurd, can make a full budget look empty. A negative amount
// never fits (counters refuse it before asking).
func fits(spent, reserved, amount, limit int64) bool {
	return amount >= 0 && allot.SatAdd(allot.SatAdd(spent, reserved), amount) <= limit
}

// addSpent adds a settled amount to a cell's spent, saturated, and never
// below what was spent: spend only grows, so a negative amount (a bug
// upstream) adds nothing instead of freeing budget room.
func addSpent(spent, actual int64) int64 {
	if actual <= 0 {
		return spent
	}
	return allot.SatAdd(spent, actual)
}
