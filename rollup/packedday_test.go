package rollup

import (
	"reflect"
	"testing"
)

func TestPackedDayRoundTrip(t *testing.T) {
	t.Parallel()
	const day = 20000
	calls := []DayCall{{Attr: 3, Session: 0, FP: -5, V: Calls{1, 2, 3, 4, 5, 6, 7, 8, 9, day*usPerDay + 5, day*usPerDay + 9, 12, 13, 14}}}
	extras := []DayExtra{{Attr: 7, V: Extras{1, -2, 3}}}
	gotCalls, err := DecodeCalls(day, EncodeCalls(day, calls), nil)
	if err != nil || !reflect.DeepEqual(gotCalls, calls) {
		t.Fatalf("calls round trip: %+v, %v; want %+v", gotCalls, err, calls)
	}
	gotExtras, err := DecodeExtras(EncodeExtras(extras), nil)
	if err != nil || !reflect.DeepEqual(gotExtras, extras) {
		t.Fatalf("extras round trip: %+v, %v; want %+v", gotExtras, err, extras)
	}
	for _, bad := range [][]byte{{5}, {1, 2}, append(EncodeCalls(day, calls), 0), {}} {
		if _, err := DecodeCalls(day, bad, nil); err == nil {
			t.Errorf("decoded corrupt calls %v", bad)
		}
		if _, err := DecodeExtras(bad, nil); err == nil {
			t.Errorf("decoded corrupt extras %v", bad)
		}
	}
}

// TestPackedSessionRoundTrip: a packed session unpacks to the figures
// sessions use (not its smallest input or cache misses).
func TestPackedSessionRoundTrip(t *testing.T) {
	t.Parallel()
	base := int64(20000 * usPerDay)
	for _, v := range []Calls{
		{1, 2, 3, 4, 5, 6, 7, 0, 0, base + 5, base + 9, 12, 13, 14},
		{Requests: 3, Input: -1 << 62, FirstUS: base - 10, LastUS: base + usPerDay, FirstInput: 100, LastInput: 7},
	} {
		b := PackSession(nil, base, 2, -3, &v)
		r := Varints{B: b}
		var e [PackedSessionValues]int64
		r.Fill(e[:])
		if r.Err || len(r.B) != 0 || e[0] != 2 || e[1] != -3 {
			t.Fatalf("packed session %v reads back %v (err %v, %d left)", v, e, r.Err, len(r.B))
		}
		if got := UnpackSession(base, &e); got != v {
			t.Errorf("session %v unpacks as %v", v, got)
		}
	}
}

// FuzzDecodePackedDay: packed days are read from disk; whatever bytes a
// blob holds decode without a panic, and what decodes re-encodes to the
// same entries.
func FuzzDecodePackedDay(f *testing.F) {
	f.Add(EncodeCalls(1, []DayCall{{Attr: 1}}), EncodeExtras([]DayExtra{{Attr: 2}}))
	f.Add([]byte{}, []byte{0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, []byte{1, 0x80})
	f.Fuzz(func(t *testing.T, cb, xb []byte) {
		if calls, err := DecodeCalls(3, cb, nil); err == nil {
			again, err := DecodeCalls(3, EncodeCalls(3, calls), nil)
			if err != nil || !reflect.DeepEqual(again, calls) {
				t.Fatalf("re-encoding changed %+v into %+v (%v)", calls, again, err)
			}
		}
		if extras, err := DecodeExtras(xb, nil); err == nil {
			again, err := DecodeExtras(EncodeExtras(extras), nil)
			if err != nil || !reflect.DeepEqual(again, extras) {
				t.Fatalf("re-encoding changed %+v into %+v (%v)", extras, again, err)
			}
		}
		r := Varints{B: cb}
		var e [PackedSessionValues]int64
		r.Fill(e[:])
		_ = UnpackSession(0, &e)
	})
}
