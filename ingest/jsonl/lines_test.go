package jsonl

import (
	"errors"
	"strings"
	"testing"
)

func TestLines(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 200_000) // longer than the read buffer
	in := "a\n\n  b  \r\n" + long + "\nlast"
	var got []string
	var nums []int
	err := Lines(strings.NewReader(in), func(n int, line []byte, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(line))
		nums = append(nums, n)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a", "b", long, "last"}
	if len(got) != len(want) {
		t.Fatalf("%d lines", len(got))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d differs", i)
		}
	}
	if nums[0] != 1 || nums[1] != 3 || nums[2] != 4 || nums[3] != 5 {
		t.Errorf("line numbers %v", nums)
	}
	stop := errors.New("stop")
	if err := Lines(strings.NewReader("a\nb\n"), func(int, []byte, error) error { return stop }); err != stop {
		t.Errorf("error from fn: %v", err)
	}
}
