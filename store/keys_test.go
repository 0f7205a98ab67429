package store

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestTimeKey_SortsLikeTime(t *testing.T) {
	times := []time.Time{
		time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), // before 1970: negative nanoseconds
		time.Unix(0, -1),
		time.Unix(0, 0),
		time.Unix(0, 1),
		time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 25, 9, 0, 0, 1, time.UTC),
		time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for i := 1; i < len(times); i++ {
		a, b := auditKey(times[i-1], 99), auditKey(times[i], 1)
		if bytes.Compare(a, b) >= 0 {
			t.Errorf("key(%v) >= key(%v)", times[i-1], times[i])
		}
	}
	if k := auditKey(times[4], 7); len(k) != auditKeyLen || bytes.Compare(k, auditKey(times[4], 8)) >= 0 {
		t.Errorf("same time: sequence does not order the keys")
	}
}

func FuzzParseRequestID(f *testing.F) {
	for _, s := range []string{"R01KBB6V3W0000", "r01kbb6v3w0000", "01KBB6V3W0000", "ROIL0000000000", "", "R"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseRequestID(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseRequestID(%q) err = %v, not ErrInvalid", s, err)
			}
			return
		}
		if again, err := ParseRequestID(string(id)); err != nil || again != id {
			t.Fatalf("ParseRequestID(%q) = %q, but that parses to %q, %v", s, id, again, err)
		}
		if validID("request ID", string(id)) != nil || len(id) != requestIDLen {
			t.Fatalf("ParseRequestID(%q) = %q: not a valid key", s, id)
		}
		if n, ok := requestNumber(id); ok && formatRequestID(n) != id {
			t.Fatalf("%q does not round-trip through its number", id)
		}
	})
}
