package rollup

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// TestCheckTakesBackWhatItRecorded: a fold records its calls in the
// duplicate and prompt windows as it goes; if its transaction fails the
// windows are exactly as before, if it commits they hold the calls, and
// either way it finds the same repeats as a check of the calls alone.
func TestCheckTakesBackWhatItRecorded(t *testing.T) {
	t.Parallel()
	sec := int64(time.Second / time.Microsecond)
	before := func() *Windows {
		return &Windows{dups: map[dupKey]dupSeen{{"ana", 7}: {100 * sec, "old-1"}, {"bo", 9}: {50 * sec, "old-2"}}, dupMax: 100 * sec, dupPrune: 4096,
			prompts: map[int64]int64{11: 90 * sec}, promptMax: 90 * sec, promptPrune: 4096}
	}
	evs := []Event{
		{ID: "a", User: "ana", T: 160 * sec, RequestFP: 7, SystemFP: 11}, // repeats old-1, a known prompt
		{ID: "b", User: "ana", T: 170 * sec, RequestFP: 7, SystemFP: 12}, // repeats a
		{ID: "c", User: "bo", T: 900 * sec, RequestFP: 9, SystemFP: 12},  // old-2 is too old
		{ID: "d", User: "cy", T: 910 * sec, RequestFP: 5},
	}
	wantDup, wantKnown := []bool{true, true, false, false}, []bool{true, false, true, false}
	for _, ok := range []bool{false, true} {
		t.Run(fmt.Sprintf("committed=%v", ok), func(t *testing.T) {
			t.Parallel()
			w := before()
			check := NewCheck(w)
			for i := range evs {
				e := evs[i]
				if known := check.KnownPrompt(&e); known != wantKnown[i] {
					t.Errorf("call %s: known prompt %v, want %v", e.ID, known, wantKnown[i])
				}
				if dup := check.Repeat(&e); dup != wantDup[i] {
					t.Errorf("call %s: repeat %v, want %v", e.ID, dup, wantDup[i])
				}
			}
			check.Finish(ok)
			if w0 := before(); !ok {
				if !reflect.DeepEqual(w, w0) {
					t.Fatalf("after a failed fold the windows are\n %+v\nwant\n %+v", w, w0)
				}
				return
			}
			if got := w.dups[dupKey{"ana", 7}]; got.id != "b" || w.dupMax != 910*sec || w.dups[dupKey{"bo", 9}].id != "c" {
				t.Fatalf("after a committed fold the duplicate window is %+v", w.dups)
			}
			if w.prompts[11] != 160*sec || w.prompts[12] != 900*sec || w.promptMax != 900*sec {
				t.Fatalf("after a committed fold the prompt window is %+v", w.prompts)
			}
		})
	}
}
