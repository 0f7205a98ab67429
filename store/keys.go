package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// maxIDLen bounds every ID used in a key (instance, request, channel, day).
const maxIDLen = 128

// validID checks an ID that becomes (part of) a key: non-empty, at most 128 bytes, and free
// of the 0x00 separator.
func validID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty %s", ErrInvalid, what)
	case len(id) > maxIDLen:
		return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalid, what, maxIDLen)
	case strings.IndexByte(id, 0) >= 0:
		return fmt.Errorf("%w: %s %q contains a NUL byte", ErrInvalid, what, id)
	}
	return nil
}

// crockford is Crockford's base32 alphabet (no I, L, O, U). Its characters are in ASCII
// order, so fixed-width encodings sort like the numbers they encode.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// requestIDLen is len("R") + 13 base32 characters (65 bits, enough for a uint64).
const requestIDLen = 14

// formatRequestID encodes n as "R" + 13 Crockford base32 characters.
//
// n is (unix milliseconds << 16) | counter, kept strictly increasing per file (see
// nextRequestID), so IDs are unique, sort by creation time, and contain only upper-case
// letters and digits (safe in Slack button values, URLs and commands). Example: R01KBB6V3W0000.
func formatRequestID(n uint64) RequestID {
	var b [requestIDLen]byte
	b[0] = 'R'
	for i := requestIDLen - 1; i > 0; i-- {
		b[i] = crockford[n&31]
		n >>= 5
	}
	return RequestID(b[:])
}

// nextRequestID returns the next request number: the current millisecond shifted left by
// 16 bits, or last+1 when that would not be larger (same millisecond, or a clock that went
// back).
func nextRequestID(now time.Time, last uint64) uint64 {
	n := uint64(max(now.UnixMilli(), 0)) << 16
	if n <= last {
		n = last + 1
	}
	return n
}

// requestNumber decodes a canonical request ID back to its number.
func requestNumber(id RequestID) (uint64, bool) {
	if len(id) != requestIDLen || id[0] != 'R' {
		return 0, false
	}
	var n uint64
	for i := 1; i < requestIDLen; i++ {
		d := strings.IndexByte(crockford, id[i])
		if d < 0 || (i == 1 && d > 15) { // the first character carries 4 bits (13*5 = 65)
			return 0, false
		}
		n = n<<5 | uint64(d)
	}
	return n, true
}

// ParseRequestID reads a request ID as a person may type it: case-insensitive, with or
// without the leading R, with Crockford's look-alikes (O → 0, I and L → 1).
func ParseRequestID(s string) (RequestID, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if len(t) == requestIDLen {
		if t[0] != 'R' {
			return "", fmt.Errorf("%w: %q is not a request ID (like R01KBB6V3W0000)", ErrInvalid, s)
		}
		t = t[1:]
	}
	if len(t) != requestIDLen-1 {
		return "", fmt.Errorf("%w: %q is not a request ID (like R01KBB6V3W0000)", ErrInvalid, s)
	}
	b := []byte("R" + t)
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case 'O':
			b[i] = '0'
		case 'I', 'L':
			b[i] = '1'
		}
		if strings.IndexByte(crockford, b[i]) < 0 {
			return "", fmt.Errorf("%w: %q is not a request ID (like R01KBB6V3W0000)", ErrInvalid, s)
		}
	}
	return RequestID(b), nil
}

// auditKeyLen is the length of an audit key: sortable time (8 bytes) + sequence (8 bytes).
const auditKeyLen = 16

// timeKey encodes t as 8 bytes that sort like the time (unix nanoseconds with the sign bit
// flipped, big-endian).
func timeKey(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, auditKeyLen), uint64(t.UnixNano())^(1<<63))
}

// auditKey is the audit bucket key of an event: its time, then its sequence number, so a
// cursor walks the log in time order and Since seeks directly.
func auditKey(t time.Time, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(timeKey(t), seq)
}

// indexKey is id 0x00 auditKey, the key of the by-instance and by-request audit indexes.
func indexKey(id string, key []byte) []byte {
	k := make([]byte, 0, len(id)+1+len(key))
	k = append(k, id...)
	k = append(k, 0)
	return append(k, key...)
}

// compositeKey joins two IDs with the 0x00 separator (digests: channel 0x00 day).
func compositeKey(a, b string) []byte {
	return bytes.Join([][]byte{[]byte(a), []byte(b)}, []byte{0})
}
