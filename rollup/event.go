package rollup

import "github.com/allot-dev/allot"

// Event is what the insight rules need of one stored event; the stores
// fill it from allot.Event and their own ids for attributions, sessions
// and users.
type Event struct {
	ID        string
	User      string
	T         int64 // unix microseconds
	Attr      int64 // the store's attribution id
	Session   int64 // the store's session id, 0 for none
	Status    int64
	MaxTokens int64
	SystemFP  int64
	RequestFP int64
	Tokens    allot.Tokens
	Cost      int64
}
