package postgres

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
	"time"

	"github.com/allot-dev/allot/internal/storetest"
)

// TestCopyReader: the COPY stream is the same however it is read, and holds
// the header, one row per event in the order given, and the trailer.
func TestCopyReader(t *testing.T) {
	t.Parallel()
	evs := storetest.GenEvents(5, 300, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Hour, storetest.SmallWorld)
	evs[0].ID = "an id longer than the usual ones, to span reads"
	refs := make([]eventRef, len(evs))
	ids := make([][]byte, len(evs))
	order := make([]int, len(evs))
	want := append([]byte{}, copyHeader...)
	for i := range evs {
		refs[i] = eventRef{attr: int32(i), session: int32(2 * i)}
		ids[i] = encodeID(evs[i].ID)
		order[i] = len(evs) - 1 - i
	}
	for _, i := range order {
		want = appendEventRow(want, &evs[i], refs[i], ids[i])
	}
	want = append(want, 0xff, 0xff)
	for name, r := range map[string]io.Reader{
		"whole":       eventRows(evs, refs, ids, order),
		"byte a time": iotest.OneByteReader(eventRows(evs, refs, ids, order)),
		"half":        iotest.HalfReader(eventRows(evs, refs, ids, order)),
	} {
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: read %d bytes (%v), want %d", name, len(got), err, len(want))
		}
	}
	if got, _ := io.ReadAll(eventRows(nil, nil, nil, nil)); !bytes.Equal(got, append(append([]byte{}, copyHeader...), 0xff, 0xff)) {
		t.Errorf("no rows: %q", got)
	}
}
