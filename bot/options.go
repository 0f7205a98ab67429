package bot

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/slack-go/slack/socketmode"
)

// serveOptions answers POST /slack/options, the options load URL of the instance picker
// (Slack sends block_suggestion there when it is set, else to the interactivity URL).
func (a *App) serveOptions(w http.ResponseWriter, r *http.Request, _ bool) {
	// A replay gets the same options: answering has no effect.
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	payload := r.PostForm.Get("payload")
	if payload == "" {
		http.Error(w, "no payload", http.StatusBadRequest)
		return
	}
	a.serveView(w, []byte(payload), false)
}

// serveView answers an interaction on a view over HTTP: its answer is the response body
// (options, response_action errors) and its work starts after it. A replay is answered
// empty and starts nothing.
func (a *App) serveView(w http.ResponseWriter, payload []byte, replay bool) {
	var ans viewAnswer
	var work func(context.Context)
	if !replay {
		ans, work = a.handleView(payload)
	}
	start := a.later("view interaction", work)
	writeAnswer(w, ans)
	start()
}

// writeAnswer writes ans as JSON, or an empty 200 when it is nil, and flushes it.
func writeAnswer(w http.ResponseWriter, ans viewAnswer) {
	if ans == nil {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush()
		return
	}
	body, err := json.Marshal(ans)
	if err != nil {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	_ = http.NewResponseController(w).Flush()
}

// socketView handles an "interactive" envelope on a view. The answer goes in the ack's
// payload. A submission may wait up to submitWait for its request, so it is answered on its
// own goroutine: other envelopes are not held up.
func (a *App) socketView(ctx context.Context, sm *socketmode.Client, req *socketmode.Request) {
	if !a.firstDelivery(req) {
		a.ack(ctx, sm, req, nil)
		return
	}
	answer := func() {
		ans, work := a.handleView(req.Payload)
		start := a.later("view interaction", work)
		var err error
		if ans != nil {
			err = sm.AckCtx(ctx, req.EnvelopeID, ans)
		}
		if ans == nil || err != nil {
			a.ack(ctx, sm, req, nil)
		}
		start()
	}
	a.mu.Lock()
	closing := a.closing
	if !closing {
		a.work.Add(1)
	}
	a.mu.Unlock()
	if closing {
		answer()
		return
	}
	go func() {
		defer a.work.Done()
		answer()
	}()
}
