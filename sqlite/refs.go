package sqlite

import (
	"context"
	"database/sql"

	"github.com/allot-dev/allot"
)

// eventRef is what an events row stores in place of an event's strings.
type eventRef struct {
	attr    int64 // attrs id of the event's context
	session int64 // dict id of its session
}

// resolveRefs finds the attrs and dict ids of every event in batch,
// storing in tx the strings and contexts not seen before. Each cache is
// read under one lock for the whole batch. commit must be called once tx
// has committed, to cache what was added.
func (db *DB) resolveRefs(ctx context.Context, tx *sql.Tx, batch []allot.Event) (refs []eventRef, commit func(), err error) {
	attrs := make([]attr, len(batch))
	refs = make([]eventRef, len(batch))
	in := db.dict.interner()
	var incomplete []int // events with a string the dictionary lacks
	db.dict.mu.RLock()
	for i := range batch {
		missing := false
		for j, s := range attrStrings(&batch[i]) {
			id, ok := db.dict.ids[s]
			if !ok {
				id, missing = -1, true
				in.note(s)
			}
			attrs[i][j] = id
		}
		id, ok := db.dict.ids[batch[i].Session]
		if !ok {
			id, missing = -1, true
			in.note(batch[i].Session)
		}
		refs[i].session = id
		if missing {
			incomplete = append(incomplete, i)
		}
	}
	db.dict.mu.RUnlock()
	if len(incomplete) > 0 {
		if err := in.resolve(ctx, tx); err != nil {
			return nil, nil, err
		}
		for _, i := range incomplete {
			for j, s := range attrStrings(&batch[i]) {
				if attrs[i][j] < 0 {
					attrs[i][j] = in.id(s)
				}
			}
			if refs[i].session < 0 {
				refs[i].session = in.id(batch[i].Session)
			}
		}
	}

	ain := db.attrs.interner()
	incomplete = incomplete[:0]
	db.attrs.mu.RLock()
	for i := range batch {
		id, ok := db.attrs.ids[attrs[i]]
		if !ok {
			id = -1
			ain.note(attrs[i])
			incomplete = append(incomplete, i)
		}
		refs[i].attr = id
	}
	db.attrs.mu.RUnlock()
	if len(incomplete) > 0 {
		if err := ain.resolve(ctx, tx); err != nil {
			return nil, nil, err
		}
		for _, i := range incomplete {
			refs[i].attr = ain.id(attrs[i])
		}
	}
	return refs, func() { in.commit(); ain.commit() }, nil
}
