package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
)

type ev struct {
	raw, name, data string
}

func readAll(t testing.TB, in string) ([]ev, error) {
	rd := NewReader(strings.NewReader(in))
	var out []ev
	for {
		e, err := rd.Next()
		if len(e.Raw) > 0 {
			out = append(out, ev{string(e.Raw), e.Name, string(e.Data)})
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func TestReader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []ev
	}{
		{"openai chunks", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []ev{{"data: {\"a\":1}\n\n", "", `{"a":1}`}, {"data: [DONE]\n\n", "", "[DONE]"}}},
		{"named events", "event: message_start\ndata: {}\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n", []ev{{"event: message_start\ndata: {}\n\n", "message_start", "{}"}, {"event: ping\ndata: {\"type\": \"ping\"}\n\n", "ping", `{"type": "ping"}`}}},
		{"crlf", "event: x\r\ndata: 1\r\n\r\n", []ev{{"event: x\r\ndata: 1\r\n\r\n", "x", "1"}}},
		{"multi-line data", "data: a\ndata: b\n\n", []ev{{"data: a\ndata: b\n\n", "", "a\nb"}}},
		{"comment kept raw", ": keep-alive\n\ndata: x\n\n", []ev{{": keep-alive\n\n", "", ""}, {"data: x\n\n", "", "x"}}},
		{"no space after colon", "data:x\n\n", []ev{{"data:x\n\n", "", "x"}}},
		{"unterminated last event", "data: x\n\ndata: y", []ev{{"data: x\n\n", "", "x"}, {"data: y", "", "y"}}},
		{"stray blank lines", "\n\ndata: x\n\n", []ev{{"data: x\n\n", "", "x"}}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := readAll(t, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d events %q, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("event %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestReaderLargeEvent(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 200<<10)
	got, err := readAll(t, "data: "+big+"\n\n")
	if err != nil || len(got) != 1 || got[0].data != big {
		t.Fatalf("large event: err=%v events=%d", err, len(got))
	}
	_, err = readAll(t, "data: "+strings.Repeat("y", MaxEventBytes+10)+"\n\n")
	if !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("oversized event error = %v, want ErrEventTooLarge", err)
	}
}

// TestReaderReturnsEachEventWithoutWaiting: Next returns an event as soon
// as its blank line arrives, without waiting for more bytes.
func TestReaderReturnsEachEventWithoutWaiting(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	rd := NewReader(pr)
	go func() { _, _ = pw.Write([]byte("data: first\n\n")) }() // and then nothing
	e, err := rd.Next()
	if err != nil || string(e.Data) != "first" {
		t.Fatalf("Next = %q, %v", e.Data, err)
	}
	pw.Close()
}

func FuzzReader(f *testing.F) {
	for _, s := range []string{"data: x\n\n", "event: a\r\ndata: 1\r\n\r\n", ": c\n\ndata", "data:\ndata:\n\n\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := readAll(t, in)
		if err != nil {
			t.Fatal(err)
		}
		var total int
		for _, e := range got {
			total += len(e.raw)
		}
		if strings.TrimLeft(in, "\n") != "" && total > len(in) {
			t.Fatalf("raw bytes %d exceed input %d", total, len(in))
		}
	})
}

func BenchmarkReader(b *testing.B) {
	chunk := "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hello\"}}]}\n\n"
	in := strings.Repeat(chunk, 100)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		rd := NewReader(strings.NewReader(in))
		for {
			if _, err := rd.Next(); err != nil {
				break
			}
		}
	}
}
