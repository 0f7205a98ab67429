package bottest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// openIM answers conversations.open for one user (users=U…): the user's DM channel, the
// same one every time. Called with f.mu held.
func (f *FakeSlack) openIM(form url.Values) obj {
	users := form.Get("users")
	if users == "" || strings.Contains(users, ",") {
		return obj{"ok": false, "error": "not_enough_users"} // the bot only opens 1:1 DMs
	}
	if f.ims == nil {
		f.ims = map[string]string{}
	}
	ch, ok := f.ims[users]
	if !ok {
		ch = "D" + strings.TrimLeft(users, "UW")
		f.ims[users] = ch
	}
	return obj{"ok": true, "channel": obj{"id": ch}, "already_open": ok}
}

// EventCallback is the Events API envelope Slack posts to the Request URL (and puts in a
// Socket Mode "events_api" envelope's payload) for one event.
func EventCallback(eventID string, event map[string]any) map[string]any {
	return map[string]any{
		"token": "verification-token-unused", "team_id": "T0FAKE", "api_app_id": "A0FAKE",
		"type": "event_callback", "event_id": eventID, "event_time": time.Now().Unix(),
		"event":          event,
		"authorizations": []any{map[string]any{"team_id": "T0FAKE", "user_id": "U0BOT", "is_bot": true}},
	}
}

// AppHomeOpened is the app_home_opened event of user opening the app's tab ("home" or "messages").
func AppHomeOpened(user, tab string) map[string]any {
	return map[string]any{
		"type": "app_home_opened", "user": user, "channel": "D" + strings.TrimLeft(user, "UW"), "tab": tab,
		"event_ts": fmt.Sprintf("%d.000100", time.Now().Unix()),
	}
}

// URLVerification is the challenge Slack posts when the Request URL is set.
func URLVerification(challenge string) map[string]any {
	return map[string]any{"token": "verification-token-unused", "challenge": challenge, "type": "url_verification"}
}

// SignedEvent builds the JSON POST Slack sends to the Events API Request URL, signed with
// secret at ts. retry > 0 adds Slack's retry headers (X-Slack-Retry-Num, X-Slack-Retry-Reason).
func SignedEvent(secret, url string, body map[string]any, ts time.Time, retry int) *http.Request {
	raw, err := json.Marshal(body)
	if err != nil {
		panic("bottest: event: " + err.Error())
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		panic("bottest: " + err.Error())
	}
	req.Header.Set("Content-Type", "application/json")
	t, s := Sign(secret, ts, raw)
	req.Header.Set("X-Slack-Request-Timestamp", t)
	req.Header.Set("X-Slack-Signature", s)
	if retry > 0 {
		req.Header.Set("X-Slack-Retry-Num", strconv.Itoa(retry))
		req.Header.Set("X-Slack-Retry-Reason", "http_timeout")
	}
	return req
}

// SignedPayload builds the form POST Slack sends to the interactivity (or options load)
// URL: one field, payload, holding payload as JSON.
func SignedPayload(secret, url string, payload map[string]any, ts time.Time) *http.Request {
	raw, err := json.Marshal(payload)
	if err != nil {
		panic("bottest: payload: " + err.Error())
	}
	return SignedRequest(secret, url, map[string][]string{"payload": {string(raw)}}, ts)
}

// PushEvent queues an "events_api" Socket Mode envelope carrying event with eventID, and
// returns the envelope ID.
func (f *FakeSlack) PushEvent(eventID string, event map[string]any) string {
	return f.PushEnvelopeAccepting("events_api", EventCallback(eventID, event), false)
}

// IMUser reports whose DM channel (opened with conversations.open) channel is.
func (f *FakeSlack) IMUser(channel string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for u, ch := range f.ims {
		if ch == channel {
			return u, true
		}
	}
	return "", false
}
