package jsonwalk

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func members(v string) (keys, values []string) {
	it := Members([]byte(v))
	for m, ok := it.Next(); ok; m, ok = it.Next() {
		keys = append(keys, string(m.Key))
		values = append(values, string(m.Value))
	}
	return keys, values
}

func TestMembers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in           string
		keys, values []string
	}{
		{`{"a":1,"b":"x","c":{"d":[1,{"e":"}"}]},"f":null}`, []string{`"a"`, `"b"`, `"c"`, `"f"`}, []string{`1`, `"x"`, `{"d":[1,{"e":"}"}]}`, `null`}},
		{" { \"a\" : [ 1 , 2 ] ,\n\"b\":true } ", []string{`"a"`, `"b"`}, []string{`[ 1 , 2 ]`, `true`}},
		{`{"q\"uote":"a\\","next":"\"}"}`, []string{`"q\"uote"`, `"next"`}, []string{`"a\\"`, `"\"}"`}},
		{`{}`, nil, nil},
		{`[1,2]`, nil, nil},
		{`"str"`, nil, nil},
		{``, nil, nil},
		{`{"a":1,`, []string{`"a"`}, []string{`1`}},       // cut: what is whole is read
		{`{"a":1 "b":2}`, []string{`"a"`}, []string{`1`}}, // malformed: stops
		{`{"a":{"b":`, nil, nil},
		{`{"a":"unterminated}`, nil, nil},
	}
	for _, tt := range tests {
		keys, values := members(tt.in)
		if !reflect.DeepEqual(keys, tt.keys) || !reflect.DeepEqual(values, tt.values) {
			t.Errorf("Members(%s) = %q %q, want %q %q", tt.in, keys, values, tt.keys, tt.values)
		}
	}
}

func TestMemberIsComparesExactKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key, name string
		want      bool
	}{
		{`"model"`, "model", true},
		{`"Model"`, "model", false}, // encoding/json would match this one
		{`"MODEL"`, "model", false},
		{`"mod\u0065l"`, "model", true}, // escapes are decoded, as the provider decodes them
		{`"model "`, "model", false},
		{`""`, "", true},
		{`"`, "", false},
	}
	for _, tt := range tests {
		if got := (Member{Key: []byte(tt.key)}).Is(tt.name); got != tt.want {
			t.Errorf("Member{%s}.Is(%q) = %v, want %v", tt.key, tt.name, got, tt.want)
		}
	}
}

func TestGetTakesTheLastDuplicate(t *testing.T) {
	t.Parallel()
	v, ok := Get([]byte(`{"model":"a","Model":"b","model":"c"}`), "model")
	if !ok || string(v) != `"c"` {
		t.Fatalf("Get = %s, %v; want \"c\" like encoding/json, Python and JavaScript", v, ok)
	}
	if _, ok := Get([]byte(`{"a":1}`), "b"); ok {
		t.Fatal("Get found a missing key")
	}
}

func TestElementsAndLen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{`[1, "a,b", {"c":[2]}, [], null]`, []string{`1`, `"a,b"`, `{"c":[2]}`, `[]`, `null`}},
		{` [ ] `, nil},
		{`{"a":1}`, nil},
		{`[1 2]`, []string{`1`}},
		{`[1,`, []string{`1`}},
	}
	for _, tt := range tests {
		var got []string
		it := Elements([]byte(tt.in))
		for e, ok := it.Next(); ok; e, ok = it.Next() {
			got = append(got, string(e))
		}
		if !reflect.DeepEqual(got, tt.want) || Len([]byte(tt.in)) != len(tt.want) {
			t.Errorf("Elements(%s) = %q (Len %d), want %q", tt.in, got, Len([]byte(tt.in)), tt.want)
		}
	}
}

func TestScalars(t *testing.T) {
	t.Parallel()
	strs := []struct {
		in, want string
		ok       bool
	}{
		{`"plain"`, "plain", true},
		{`"a\"b\\c\/d\b\f\n\r\t"`, "a\"b\\c/d\b\f\n\r\t", true},
		{`"\u00e9\u4e2d\ud83d\ude00"`, "é中😀", true},
		{`"\ud83d"`, "\uFFFD", true},        // lone surrogate
		{`"\ud83dx"`, "\uFFFDx", true},      // lone surrogate
		{`"\ud83d\u0041"`, "\uFFFDA", true}, // surrogate followed by a non-surrogate
		{"\"bad \xff byte\"", "bad \uFFFD byte", true},
		{`"\x"`, "", false},
		{`"\u12"`, "", false},
		{`nope`, "", false},
	}
	for _, tt := range strs {
		got, ok := String([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("String(%s) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	ints := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"-0", 0, true}, {"4096", 4096, true}, {"-12", -12, true},
		{"9223372036854775807", math.MaxInt64, true}, {"9223372036854775808", 0, false},
		{"1e3", 1000, true}, {"100.0", 100, true}, {"1.5", 0, false}, {"1e400", 0, false},
		{"01", 0, false}, {"-", 0, false}, {"", 0, false}, {`"5"`, 0, false}, {"true", 0, false}, {"1.", 0, false},
	}
	for _, tt := range ints {
		got, ok := Int([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("Int(%s) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	for in, want := range map[string][2]bool{"true": {true, true}, "false": {false, true}, "null": {}, `"true"`: {}} {
		if v, ok := Bool([]byte(in)); v != want[0] || ok != want[1] {
			t.Errorf("Bool(%s) = %v, %v; want %v", in, v, ok, want)
		}
	}
	if got := string(Trim([]byte(" \n\t{} \r"))); got != "{}" {
		t.Errorf("Trim = %q", got)
	}
}

func TestWalkingDoesNotAllocate(t *testing.T) {
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"system","content":"Be terse.\nAlways."},{"role":"user","content":"hi"}],"stream":true}`)
	var scratch [256]byte
	n := testing.AllocsPerRun(100, func() {
		it := Members(body)
		for m, ok := it.Next(); ok; m, ok = it.Next() {
			if m.Is("messages") {
				msgs := Elements(m.Value)
				for e, ok := msgs.Next(); ok; e, ok = msgs.Next() {
					c, _ := Get(e, "content")
					_, _ = AppendString(scratch[:0], c)
				}
			}
		}
	})
	if n != 0 {
		t.Fatalf("%.1f allocations per walk, want 0", n)
	}
}

// FuzzWalk checks the walkers against encoding/json on valid JSON and for
// termination without panics on anything.
func FuzzWalk(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":[1,2,{"c":"d"}],"e":"\u00e9\"","a":2}`, `[1,"x",null,true,{"k":[]}]`, `"\ud83d\ude00\n"`,
		`-12.5e3`, `{"A":1,"a":2}`, `{"a":"\\"}`, `[`, `{"a"`, "\"\xff\"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		// Any input: iteration ends and never panics.
		steps := 0
		o := Members(in)
		for _, ok := o.Next(); ok; _, ok = o.Next() {
			if steps++; steps > len(in) {
				t.Fatal("Members does not end")
			}
		}
		a := Elements(in)
		for _, ok := a.Next(); ok; _, ok = a.Next() {
			if steps++; steps > 2*len(in) {
				t.Fatal("Elements does not end")
			}
		}
		_, _ = AppendString(nil, in)
		_, _ = Int(in)

		if !json.Valid(in) {
			return
		}
		v := Trim(in)
		var obj map[string]json.RawMessage
		if json.Unmarshal(v, &obj) == nil && obj != nil {
			got := map[string]json.RawMessage{}
			o := Members(v)
			for m, ok := o.Next(); ok; m, ok = o.Next() {
				k, ok := String(m.Key)
				if !ok {
					t.Fatalf("key %s does not decode", m.Key)
				}
				got[k] = json.RawMessage(m.Value)
			}
			if !reflect.DeepEqual(got, obj) {
				t.Fatalf("Members = %q, encoding/json = %q", got, obj)
			}
		}
		var arr []json.RawMessage
		if json.Unmarshal(v, &arr) == nil && arr != nil {
			var got []json.RawMessage
			a := Elements(v)
			for e, ok := a.Next(); ok; e, ok = a.Next() {
				got = append(got, e)
			}
			if len(got) != len(arr) || (len(arr) > 0 && !reflect.DeepEqual(got, arr)) {
				t.Fatalf("Elements = %q, encoding/json = %q", got, arr)
			}
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			if got, ok := String(v); !ok || got != s {
				t.Fatalf("String(%s) = %q, %v; encoding/json = %q", v, got, ok, s)
			}
		}
		var n int64
		if json.Unmarshal(v, &n) == nil {
			if got, ok := Int(v); !ok || got != n {
				t.Fatalf("Int(%s) = %d, %v; encoding/json = %d", v, got, ok, n)
			}
		} else if got, ok := Int(v); ok {
			var f float64
			if json.Unmarshal(v, &f) != nil || f != float64(got) || strings.ContainsAny(string(v), `"tfn[{`) {
				t.Fatalf("Int(%s) = %d, but it is not that whole number", v, got)
			}
		}
	})
}

func TestObjectBuilder(t *testing.T) {
	t.Parallel()
	b := NewObjectBuilder([]byte("x"))
	if got := string(b.Bytes()); got != "x{}" {
		t.Fatalf("empty object = %s", got)
	}
	b = NewObjectBuilder(nil)
	b.Add([]byte(`"a\u0062"`), []byte(`[1, 2]`))
	b.AddName("c", []byte(`true`))
	if got := string(b.Bytes()); got != `{"a\u0062":[1, 2],"c":true}` || b.Len() != 2 {
		t.Fatalf("object = %s (%d members)", got, b.Len())
	}
}

func TestMemberName(t *testing.T) {
	t.Parallel()
	var scratch [16]byte
	for key, want := range map[string]string{`"model"`: "model", `"mod\u0065l"`: "model", `""`: "", `"`: ""} {
		if got := string((Member{Key: []byte(key)}).Name(scratch[:0])); got != want {
			t.Errorf("Name(%s) = %q, want %q", key, got, want)
		}
	}
}

func TestStringIs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v, s string
		want bool
	}{
		{`"system"`, "system", true}, {`"sys\u0074em"`, "system", true}, {`"System"`, "system", false},
		{`system`, "system", false}, {`"system`, "system", false}, {`null`, "", false}, {`""`, "", true},
	}
	for _, tt := range tests {
		if got := StringIs([]byte(tt.v), tt.s); got != tt.want {
			t.Errorf("StringIs(%s, %q) = %v, want %v", tt.v, tt.s, got, tt.want)
		}
	}
}

func TestObjectProblem(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		`{"a":1}`:  "",
		" {} \n":   "",
		"":         "is empty",
		" \t":      "is empty",
		`{"a":1,}`: "is not valid JSON: invalid character '}' looking for beginning of object key string at byte 8",
		`{"a":`:    "is not valid JSON: unexpected end of JSON input at byte 5",
		`[1]`:      "is an array, not a JSON object",
		`"s"`:      "is a string, not a JSON object",
		`true`:     "is a boolean, not a JSON object",
		`null`:     "is null, not a JSON object",
		`-1`:       "is a number, not a JSON object",
	}
	for in, want := range tests {
		if got := ObjectProblem([]byte(in)); got != want {
			t.Errorf("ObjectProblem(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWithout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		left     int
	}{
		{`{"task":"x","user_id":"u"}`, `{"user_id":"u"}`, 1},
		{`{"task":"x"}`, `{}`, 0},
		{`{"a":1, "task":2, "t\u0061sk":3}`, `{"a":1}`, 1},
		{`null`, `null`, 1},
	}
	for _, tt := range tests {
		got, left := Without([]byte(tt.in), "task")
		if string(got) != tt.want || left != tt.left {
			t.Errorf("Without(%s) = %s, %d; want %s, %d", tt.in, got, left, tt.want, tt.left)
		}
	}
}
