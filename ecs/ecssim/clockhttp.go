package ecssim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// The business clock's control endpoint:
//
//	GET  /_sim/clock                                    {"Now":"2026-11-25T08:00:00Z"}
//	POST /_sim/clock {"Advance":"24h"}                  moves it forward by a Go duration
//	POST /_sim/clock {"Now":"2026-12-01T00:00:00Z"}     moves it forward to a time
//
// Both POSTs answer {"Now": …}. The clock only moves forward: orders, renewals on their way
// and released instances would not make sense backwards. Everything that reads the business
// clock follows it: expiry and the financial lock of expired instances, release 15 days
// after expiry, renewals becoming visible, and (with Options.AutoRenew) the auto-renew
// deductions, which are charged at each deduction time the move crosses, as Alibaba would
// have charged them on the way.

// clockShift is the distance the control endpoint has moved the clock past its source
// (Options.Now, Fleet.Now plus the real time elapsed, or the wall clock).
type clockShift struct {
	mu     sync.Mutex
	base   func() time.Time
	offset time.Duration
}

func (c *clockShift) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base().Add(c.offset)
}

// clockRequest is the body of POST /_sim/clock: exactly one of the two fields.
type clockRequest struct {
	Advance string     `json:",omitempty"`
	Now     *time.Time `json:",omitempty"`
}

// clockAnswer is what both routes answer.
type clockAnswer struct {
	Now time.Time
}

// Now is the emulator's business clock, as GET /_sim/clock reports it. Run the emulator's
// clients on it (e.g. a bot in the same process) to have them agree on what has expired.
func (s *Server) Now() time.Time { return s.now() }

// mountClock makes the business clock movable and serves /_sim/clock on mux. It wraps
// s.now, so it runs once, while the Server is built, before anything reads the clock.
func (s *Server) mountClock(mux *http.ServeMux) {
	shift := &clockShift{base: s.now}
	s.now = shift.now
	mux.HandleFunc("GET /_sim/clock", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, clockAnswer{Now: s.now().UTC()})
	})
	mux.HandleFunc("POST /_sim/clock", func(w http.ResponseWriter, r *http.Request) {
		var req clockRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<12))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "clock: " + err.Error() +
				`; send {"Advance":"24h"} or {"Now":"2026-12-01T00:00:00Z"}`})
			return
		}
		now, err := s.moveClock(shift, req)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "clock: " + err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, clockAnswer{Now: now.UTC()})
	})
}

// moveClock moves the business clock as req says and returns the new time.
func (s *Server) moveClock(shift *clockShift, req clockRequest) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	from := s.now()
	var to time.Time
	switch {
	case req.Advance != "" && req.Now != nil:
		return time.Time{}, fmt.Errorf("send Advance or Now, not both")
	case req.Advance != "":
		d, err := time.ParseDuration(req.Advance)
		if err != nil {
			return time.Time{}, fmt.Errorf("Advance %q is not a duration like 24h or 90m", req.Advance)
		}
		if d <= 0 {
			return time.Time{}, fmt.Errorf("Advance %q: the clock only moves forward", req.Advance)
		}
		to = from.Add(d)
	case req.Now != nil:
		to = *req.Now
		if to.Before(from) {
			return time.Time{}, fmt.Errorf("Now %s is before the clock's %s: it only moves forward",
				to.UTC().Format(time.RFC3339), from.UTC().Format(time.RFC3339))
		}
	default:
		return time.Time{}, fmt.Errorf(`send {"Advance":"24h"} or {"Now":"2026-12-01T00:00:00Z"}`)
	}
	// Charge the auto-renewals on the way, a day at a time: a deduction is due on one day
	// (nine days before expiry) and retried daily until expiry, so no step skips one.
	for t := from.Add(24 * time.Hour); t.Before(to); t = t.Add(24 * time.Hour) {
		s.autoRenew(t)
	}
	s.autoRenew(to)
	shift.mu.Lock()
	shift.offset += to.Sub(from)
	shift.mu.Unlock()
	return s.now(), nil
}
