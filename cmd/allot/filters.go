package main

import (
	"context"
	"fmt"

	"github.com/allot-dev/allot"
)

// checkFilterNames makes a filter on a person or team nobody knows an
// error rather than an empty answer: a typo in --user must not read as
// "this person spent nothing". It is asked only when a filtered query
// found no usage, so people removed from the org (whose history stays
// attributed to them) can still be reported on.
func checkFilterNames(ctx context.Context, dir allot.Directory, user, team string) error {
	if user != "" {
		users, err := dir.Users(ctx)
		if err != nil {
			return fmt.Errorf("list users: %w", err)
		}
		known := false
		for _, u := range users {
			known = known || u.Name == user
		}
		if !known {
			return allot.Errorf(allot.ENotFound, "no user %q in the org and no usage by that name in this range; people are declared in org.yaml (allot apply)", user)
		}
	}
	if team != "" {
		teams, err := dir.Teams(ctx)
		if err != nil {
			return fmt.Errorf("list teams: %w", err)
		}
		known := false
		for _, t := range teams {
			known = known || t.Name == team
		}
		if !known {
			return allot.Errorf(allot.ENotFound, "no team %q in the org and no usage by that name in this range; teams are declared in org.yaml (allot apply)", team)
		}
	}
	return nil
}
