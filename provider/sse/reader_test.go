package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// ev is an event as a test compares it.
type ev struct {
	raw, name, data string
	hasData         bool
}

// readAll reads every event of src until an error; io.EOF ends it cleanly.
func readAll(src io.Reader) ([]ev, error) {
	rd := NewReader(src)
	var out []ev
	for {
		e, err := rd.Next()
		if len(e.Raw) > 0 {
			out = append(out, ev{string(e.Raw), e.Name, string(e.Data), e.Data != nil})
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if len(e.Raw) == 0 {
			return out, errors.New("Next returned an empty event without an error")
		}
	}
}

func TestReaderSplitsEvents(t *testing.T) {
	t.Parallel()
	d := func(raw, data string) ev { return ev{raw: raw, data: data, hasData: true} }
	tests := []struct {
		name string
		in   string
		want []ev
	}{
		{"openai chunks", "data: {\"a\":1}\n\ndata: [DONE]\n\n",
			[]ev{d("data: {\"a\":1}\n\n", `{"a":1}`), d("data: [DONE]\n\n", "[DONE]")}},
		{"named events", "event: message_start\ndata: {}\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n",
			[]ev{{"event: message_start\ndata: {}\n\n", "message_start", "{}", true}, {"event: ping\ndata: {\"type\": \"ping\"}\n\n", "ping", `{"type": "ping"}`, true}}},
		{"crlf line ends", "event: x\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n",
			[]ev{{"event: x\r\ndata: 1\r\n\r\n", "x", "1", true}, d("data: 2\r\n\r\n", "2")}},
		{"bare cr line ends", "event: x\rdata: 1\r\rdata: 2\r\r",
			[]ev{{"event: x\rdata: 1\r\r", "x", "1", true}, d("data: 2\r\r", "2")}},
		{"mixed line ends", "data: a\r\ndata: b\rdata: c\n\n", []ev{d("data: a\r\ndata: b\rdata: c\n\n", "a\nb\nc")}},
		{"multi-line data is joined with newlines", "data: a\ndata: b\n\n", []ev{d("data: a\ndata: b\n\n", "a\nb")}},
		{"empty data lines count", "data\ndata:\ndata: x\n\n", []ev{d("data\ndata:\ndata: x\n\n", "\n\nx")}},
		{"comment is an event of its own", ": keep-alive\n\ndata: x\n\n", []ev{{raw: ": keep-alive\n\n"}, d("data: x\n\n", "x")}},
		{"comment inside an event", "data: a\n: note\ndata: b\n\n", []ev{d("data: a\n: note\ndata: b\n\n", "a\nb")}},
		{"no space after colon", "data:x\n\n", []ev{d("data:x\n\n", "x")}},
		{"only one space is dropped", "data:  x \n\n", []ev{d("data:  x \n\n", " x ")}},
		{"last event name wins", "event: a\nevent: b\ndata: 1\n\n", []ev{{"event: a\nevent: b\ndata: 1\n\n", "b", "1", true}}},
		{"id and retry are kept raw only", "id: 7\nretry: 10\ndata: x\n\n", []ev{d("id: 7\nretry: 10\ndata: x\n\n", "x")}},
		{"unknown fields are ignored", "datum: no\nDATA: no\ndata: yes\n\n", []ev{d("datum: no\nDATA: no\ndata: yes\n\n", "yes")}},
		{"unterminated last event", "data: x\n\ndata: y", []ev{d("data: x\n\n", "x"), d("data: y", "y")}},
		{"last event without blank line", "data: x\n", []ev{d("data: x\n", "x")}},
		{"stray blank lines are events", "\n\ndata: x\n\n", []ev{{raw: "\n"}, {raw: "\n"}, d("data: x\n\n", "x")}},
		{"leading BOM is ignored", "\xEF\xBB\xBFdata: x\n\n", []ev{d("\xEF\xBB\xBFdata: x\n\n", "x")}},
		{"BOM later is data", "data: x\n\n\xEF\xBB\xBFdata: y\n\n", []ev{d("data: x\n\n", "x"), {raw: "\xEF\xBB\xBFdata: y\n\n"}}},
		{"event without data", "event: ping\n\n", []ev{{raw: "event: ping\n\n", name: "ping"}}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := readAll(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d events %+v, want %d %+v", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("event %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
			// However the bytes are split into reads, the events are the same.
			checkChunkingInvariant(t, tt.in)
		})
	}
}

// checkChunkingInvariant asserts what must hold for any input: the raw
// bytes of all events are the input, and reading it one byte at a time
// yields the same events as reading it at once.
func checkChunkingInvariant(t *testing.T, in string) {
	t.Helper()
	whole, err := readAll(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	bytewise, err := readAll(iotest.OneByteReader(strings.NewReader(in)))
	if err != nil {
		t.Fatal(err)
	}
	for name, evs := range map[string][]ev{"whole": whole, "byte by byte": bytewise} {
		var raw strings.Builder
		for _, e := range evs {
			raw.WriteString(e.raw)
		}
		if raw.String() != in {
			t.Fatalf("%s: raw bytes %q, want the input %q", name, raw.String(), in)
		}
	}
	a, b := dispatched(whole), dispatched(bytewise)
	if len(a) != len(b) {
		t.Fatalf("read whole: %+v; byte by byte: %+v", a, b)
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("event %d read whole %+v, byte by byte %+v", i, a[i], b[i])
		}
	}
	ref := reference(in)
	if len(a) != len(ref) {
		t.Fatalf("events %+v, reference parser %+v", a, ref)
	}
	for i := range a {
		if a[i] != ref[i] {
			t.Fatalf("event %d = %+v, reference parser %+v", i, a[i], ref[i])
		}
	}
}

// dispatched keeps the events a client would act on (a name or data),
// without their raw bytes (which may split differently at a "\r\n").
func dispatched(evs []ev) []ev {
	var out []ev
	for _, e := range evs {
		if e.name != "" || e.hasData {
			e.raw = ""
			out = append(out, e)
		}
	}
	return out
}

// reference is a plain, slow reading of the event-stream rules, to check
// the Reader against.
func reference(in string) []ev {
	in = strings.TrimPrefix(in, "\xEF\xBB\xBF")
	var out []ev
	var cur ev
	pending := false
	flush := func() {
		if pending && (cur.name != "" || cur.hasData) {
			out = append(out, cur)
		}
		cur, pending = ev{}, false
	}
	for len(in) > 0 {
		i := strings.IndexAny(in, "\r\n")
		line, rest := in, ""
		if i >= 0 {
			line, rest = in[:i], in[i+1:]
			if in[i] == '\r' && strings.HasPrefix(rest, "\n") {
				rest = rest[1:]
			}
		}
		in = rest
		if line == "" && i >= 0 {
			flush()
			continue
		}
		pending = true
		field, value, found := strings.Cut(line, ":")
		if field == "" && found {
			continue
		}
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			cur.name = value
		case "data":
			if cur.hasData {
				cur.data += "\n"
			}
			cur.data += value
			cur.hasData = true
		}
	}
	flush()
	return out
}

// TestNextReturnsEachEventWithoutWaiting: Next returns an event as soon as
// its blank line arrives, even though the source has nothing more yet.
func TestNextReturnsEachEventWithoutWaiting(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	rd := NewReader(pr)
	go func() { _, _ = pw.Write([]byte("data: first\n\ndata: sec")) }() // and then nothing for now
	e, err := rd.Next()
	if err != nil || string(e.Data) != "first" {
		t.Fatalf("Next = %q, %v; want the first event", e.Data, err)
	}
	go func() { _, _ = pw.Write([]byte("ond\r\n\r")) }() // the last "\r" may or may not be followed by "\n"
	e, err = rd.Next()
	if err != nil || string(e.Data) != "second" {
		t.Fatalf("Next = %q, %v; want the second event", e.Data, err)
	}
	go func() {
		_, _ = pw.Write([]byte("\ndata: third\r\n\r\n"))
		_ = pw.Close()
	}()
	e, err = rd.Next()
	if err != nil || string(e.Data) != "third" || string(e.Raw) != "\ndata: third\r\n\r\n" {
		t.Fatalf("Next = %q (raw %q), %v; want the third event, starting with the \\n of the split \\r\\n", e.Data, e.Raw, err)
	}
	if e, err = rd.Next(); err != io.EOF || len(e.Raw) != 0 {
		t.Fatalf("after the end Next = %q, %v; want io.EOF", e.Raw, err)
	}
}

func TestReaderLargeEvents(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 1<<20)
	got, err := readAll(strings.NewReader("data: " + big + "\n\ndata: small\n\n"))
	if err != nil || len(got) != 2 || got[0].data != big || got[1].data != "small" {
		t.Fatalf("1 MiB event: err=%v events=%d", err, len(got))
	}
	rd := NewReader(io.MultiReader(strings.NewReader("data: ok\n\ndata: "), neverEnding('y')))
	if e, err := rd.Next(); err != nil || string(e.Data) != "ok" {
		t.Fatalf("first event = %q, %v", e.Data, err)
	}
	if e, err := rd.Next(); !errors.Is(err, ErrEventTooLarge) || len(e.Raw) != 0 {
		t.Fatalf("oversized event: %d raw bytes, error %v; want no bytes and ErrEventTooLarge", len(e.Raw), err)
	}
	if _, err := rd.Next(); !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("the error is not sticky: %v", err)
	}
}

// neverEnding is a source of endless copies of one byte.
type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

func TestReaderSourceErrors(t *testing.T) {
	t.Parallel()
	broken := errors.New("connection reset")
	rd := NewReader(io.MultiReader(strings.NewReader("data: 1\n\ndata: par"), iotest.ErrReader(broken)))
	if e, err := rd.Next(); err != nil || string(e.Data) != "1" {
		t.Fatalf("first event = %q, %v", e.Data, err)
	}
	e, err := rd.Next()
	if !errors.Is(err, broken) || string(e.Raw) != "data: par" || string(e.Data) != "par" {
		t.Fatalf("broken stream: event %q, error %v; want the partial event and the cause", e.Raw, err)
	}
	if _, err := rd.Next(); !errors.Is(err, broken) {
		t.Fatalf("the error is not sticky: %v", err)
	}

	// Bytes that arrive together with an error are read first.
	rd = NewReader(iotest.DataErrReader(strings.NewReader("data: a\n\ndata: b\n\n")))
	for _, want := range []string{"a", "b"} {
		if e, err := rd.Next(); err != nil || string(e.Data) != want {
			t.Fatalf("Next = %q, %v; want %q", e.Data, err, want)
		}
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Fatalf("after the last event: %v, want io.EOF", err)
	}

	if _, err := NewReader(stuck{}).Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("a source that returns nothing: %v, want io.ErrNoProgress", err)
	}
}

// stuck is a broken source that always returns 0, nil.
type stuck struct{}

func (stuck) Read([]byte) (int, error) { return 0, nil }

// TestReaderDoesNotAllocatePerEvent: once warm, reading events costs no
// allocation, whether data is on one line or several. (Not parallel:
// AllocsPerRun measures the whole process.)
func TestReaderDoesNotAllocatePerEvent(t *testing.T) {
	stream := "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"hi\"}}\n\n" +
		"data: a\ndata: b\n\n: ping\n\n"
	rd := NewReader(&cycle{s: stream})
	for range 10 {
		_, _ = rd.Next()
	}
	if n := testing.AllocsPerRun(300, func() {
		if _, err := rd.Next(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%.1f allocations per event, want 0", n)
	}
}

// cycle repeats s forever, in reads of at most 100 bytes.
type cycle struct {
	s string
	i int
}

func (c *cycle) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && n < 100 {
		k := copy(p[n:min(len(p), 100)], c.s[c.i:])
		n += k
		c.i = (c.i + k) % len(c.s)
	}
	return n, nil
}

func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"data: x\n\n", "event: a\r\ndata: 1\r\n\r\n", ": c\n\ndata", "data:\ndata:\n\n\n",
		"data: a\rdata: b\r\r", "\xEF\xBB\xBFevent: e\n\n", "\r\n\r\n", "data: x\r", "id: 1\nretry: 2\ndata: 3",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkChunkingInvariant(t, in)
	})
}

// BenchmarkReader reads a chat completion stream of 100 chunks.
func BenchmarkReader(b *testing.B) {
	chunk := `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"hello"},"finish_reason":null}],"usage":null}` + "\n\n"
	in := []byte(strings.Repeat(chunk, 100))
	src := bytes.NewReader(in)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		src.Reset(in)
		rd := NewReader(src)
		for {
			if _, err := rd.Next(); err != nil {
				break
			}
		}
	}
}
