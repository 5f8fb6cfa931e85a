package envelope

// Buffer collects encoded envelope records. Each record is one compact JSON
// object followed by a single '\n', so a request body is the plain
// concatenation of records. A Buffer is reused across batches with Reset;
// it is not safe for concurrent use.
type Buffer struct {
	data []byte
	ends []int // ends[i] is the end offset of record i in data
	head int   // bytes of headroom before each record (SetHeadroom)
}

// SetHeadroom makes every record appended from now on follow n bytes of
// scratch space in the buffer, which [Buffer.Framed] includes and the other
// accessors leave out: room for a consumer to frame each record in place
// (the spool's FrameHeadroom, for its AppendFramed). With headroom,
// [Buffer.Bytes] is not a request body. Call it on an empty buffer.
func (b *Buffer) SetHeadroom(n int) { b.head = max(n, 0) }

// Reset empties the buffer, keeping its memory.
func (b *Buffer) Reset() {
	b.data = b.data[:0]
	b.ends = b.ends[:0]
}

// Len returns the number of records.
func (b *Buffer) Len() int { return len(b.ends) }

// Size returns the total size of all records in bytes, with their
// headroom (see [Buffer.SetHeadroom]).
func (b *Buffer) Size() int { return len(b.data) }

// Record returns record i, including its trailing newline. The slice
// aliases the buffer: it is valid until the next call that appends to or
// resets the buffer.
func (b *Buffer) Record(i int) []byte {
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.data[start+b.head : b.ends[i] : b.ends[i]]
}

// Framed appends every record, each with the headroom before it (see
// [Buffer.SetHeadroom]), to dst and returns it. The records alias the
// buffer, as with Record; a consumer may write into the headroom.
func (b *Buffer) Framed(dst [][]byte) [][]byte {
	start := 0
	for _, end := range b.ends {
		dst = append(dst, b.data[start:end:end])
		start = end
	}
	return dst
}

// Records appends every record to dst and returns it. The records alias
// the buffer, as with Record.
func (b *Buffer) Records(dst [][]byte) [][]byte {
	for i := range b.ends {
		dst = append(dst, b.Record(i))
	}
	return dst
}

// Bytes returns all records concatenated: a complete newline-delimited
// JSON body, unless the buffer has headroom. It aliases the buffer, as with
// Record.
func (b *Buffer) Bytes() []byte { return b.data }

// truncate drops everything after n bytes and the records that end past it.
func (b *Buffer) truncate(n, records int) {
	b.data = b.data[:n]
	b.ends = b.ends[:records]
}
