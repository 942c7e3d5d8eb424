package jsonwalk

// ObjectBuilder appends a JSON object to a buffer member by member. A
// rewrite copies the members it keeps exactly as they were written,
// replaces some values and adds members, so every byte it does not mean to
// change reaches the provider unchanged.
type ObjectBuilder struct {
	buf []byte
	n   int
}

// NewObjectBuilder starts an object at the end of dst.
func NewObjectBuilder(dst []byte) ObjectBuilder {
	return ObjectBuilder{buf: append(dst, '{')}
}

// Add appends a member; key is written as given, quotes and escapes included.
func (b *ObjectBuilder) Add(key, value []byte) {
	if b.n > 0 {
		b.buf = append(b.buf, ',')
	}
	b.buf = append(b.buf, key...)
	b.buf = append(b.buf, ':')
	b.buf = append(b.buf, value...)
	b.n++
}

// AddName appends a member whose key is name, which must need no escaping.
func (b *ObjectBuilder) AddName(name string, value []byte) {
	if b.n > 0 {
		b.buf = append(b.buf, ',')
	}
	b.buf = append(b.buf, '"')
	b.buf = append(b.buf, name...)
	b.buf = append(b.buf, '"', ':')
	b.buf = append(b.buf, value...)
	b.n++
}

// Len returns the number of members added.
func (b *ObjectBuilder) Len() int { return b.n }

// Bytes closes the object and returns the buffer.
func (b *ObjectBuilder) Bytes() []byte { return append(b.buf, '}') }
