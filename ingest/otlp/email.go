package otlp

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/allot-dev/allot"
)

// UsersByEmail makes a Receiver.UserByEmail from a user lister (e.g. the
// directory's Users), reading the list at most once per ttl (a minute when
// 0) so telemetry does not query the directory per record.
func UsersByEmail(list func(ctx context.Context) ([]allot.User, error), ttl time.Duration) func(ctx context.Context, email string) (allot.User, bool, error) {
	if ttl <= 0 {
		ttl = time.Minute
	}
	var (
		mu      sync.Mutex
		byEmail map[string]allot.User
		read    time.Time
	)
	return func(ctx context.Context, email string) (allot.User, bool, error) {
		mu.Lock()
		defer mu.Unlock()
		if byEmail == nil || time.Since(read) > ttl {
			users, err := list(ctx)
			if err != nil {
				return allot.User{}, false, err
			}
			byEmail = make(map[string]allot.User, len(users))
			for _, u := range users {
				if u.Email != "" {
					byEmail[strings.ToLower(strings.TrimSpace(u.Email))] = u
				}
			}
			read = time.Now()
		}
		u, ok := byEmail[strings.ToLower(strings.TrimSpace(email))]
		return u, ok, nil
	}
}
