package bottest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Slack's documented limits on views (docs.slack.dev/reference/views, views.open/publish
// error lists): the fake refuses what Slack refuses, with Slack's error codes.
const (
	triggerTTL        = 3 * time.Second // a trigger_id must be exchanged within 3 s
	maxViewBytes      = 250 << 10       // view_too_large above 250 KB
	maxViewBlocks     = 100             // blocks per modal or Home tab
	maxViewTitle      = 24              // modal title, submit and close labels
	maxPrivateMeta    = 3000            // private_metadata
	maxViewCallbackID = 255
)

// fakeView is a view the fake holds: a modal opened with views.open, or a user's Home tab.
type fakeView struct {
	id     string
	user   string
	hash   string
	closed bool           // CloseView: the person submitted or cancelled it
	view   map[string]any // the view as sent, with id, hash and state added
}

// viewState is the part of FakeSlack that speaks views; guarded by FakeSlack.mu.
type viewState struct {
	triggers map[string]trigger   // issued by Trigger
	views    map[string]*fakeView // by view ID
	homes    map[string]string    // user → view ID of the Home tab
	seq      int
}

type trigger struct {
	issued time.Time
	user   string
	used   bool
	gone   bool // ExpireTrigger
}

func (f *FakeSlack) viewsInit() {
	if f.vs.views == nil {
		f.vs = viewState{triggers: map[string]trigger{}, views: map[string]*fakeView{}, homes: map[string]string{}}
	}
}

// Trigger issues a trigger_id for user, as Slack puts one in a slash command, a click or a
// view submission. views.open accepts it once, within 3 seconds (expired_trigger_id,
// exchanged_trigger_id otherwise). trigger_ids the fake did not issue are accepted once too.
func (f *FakeSlack) Trigger(user string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.viewsInit()
	f.vs.seq++
	id := fmt.Sprintf("%d.%d.%x", 1700000000+f.vs.seq, 4242, f.vs.seq*7919)
	f.vs.triggers[id] = trigger{issued: time.Now(), user: user}
	return id
}

// ExpireTrigger makes trigger id expired, as it is 3 seconds after Slack issued it.
func (f *FakeSlack) ExpireTrigger(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.viewsInit()
	t := f.vs.triggers[id]
	t.gone = true
	f.vs.triggers[id] = t
}

// View returns the current view (as Slack holds it: with id, hash and state) of a modal or
// Home tab by view ID.
func (f *FakeSlack) View(id string) (map[string]any, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.viewsInit()
	v, ok := f.vs.views[id]
	if !ok {
		return nil, false
	}
	return v.view, true
}

// OpenModal is a modal open for a person.
type OpenModal struct {
	ID   string
	User string
	View map[string]any
}

// OpenModals lists the modals opened (views.open) and not closed, oldest first. Only
// modals opened with a trigger_id from Trigger know their person.
func (f *FakeSlack) OpenModals() []OpenModal {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []OpenModal
	for _, v := range f.vs.views {
		if !v.closed && v.view["type"] == "modal" {
			out = append(out, OpenModal{ID: v.id, User: v.user, View: v.view})
		}
	}
	slices.SortFunc(out, func(a, b OpenModal) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// CloseView closes a modal, as Slack does when it is submitted without errors or cancelled.
func (f *FakeSlack) CloseView(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.vs.views[id]; ok {
		v.closed = true
		f.record(Call{Method: "view.closed", Form: map[string][]string{"view_id": {id}}, Status: http.StatusOK})
	}
}

// HomeView returns the Home tab last published for user.
func (f *FakeSlack) HomeView(user string) (map[string]any, bool) {
	f.mu.Lock()
	id, ok := f.vs.homes[user]
	f.mu.Unlock()
	if !ok {
		return nil, false
	}
	return f.View(id)
}

// WaitView blocks until the n-th call (1-based) of a views method succeeded and returns the
// view it left, e.g. WaitView(ctx, "views.open", 1).
func (f *FakeSlack) WaitView(ctx context.Context, method string, n int) (map[string]any, error) {
	for i := n; ; i++ {
		calls, err := f.Wait(ctx, method, i)
		if err != nil {
			return nil, err
		}
		c := calls[i-1]
		id := c.Form.Get("view_id")
		if c.Status != http.StatusOK || id == "" {
			if i == n {
				return nil, fmt.Errorf("%s call %d failed: %s", method, n, c.Form.Get("error"))
			}
			continue
		}
		v, ok := f.View(id)
		if !ok {
			return nil, fmt.Errorf("%s call %d: view %s gone", method, n, id)
		}
		return v, nil
	}
}

// serveViews answers views.open, views.update and views.publish, which slack-go sends as
// JSON with the token in the Authorization header. The call is recorded with its JSON body,
// and Form holds view_id (on success) or error.
func (f *FakeSlack) serveViews(w http.ResponseWriter, r *http.Request, method string) {
	body, _ := io.ReadAll(r.Body)
	call := Call{Method: method, JSON: body, Status: http.StatusOK, Form: map[string][]string{}}
	f.mu.Lock()
	if q := f.fail[method]; len(q) > 0 {
		fl := q[0]
		f.fail[method] = q[1:]
		f.mu.Unlock()
		if fl.slackErr == "" {
			call.Status = fl.status
			f.mu.Lock()
			f.record(call)
			f.mu.Unlock()
			if fl.status == http.StatusTooManyRequests || fl.retryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(fl.retryAfter))
			}
			http.Error(w, http.StatusText(fl.status), fl.status)
			return
		}
		call.Form.Set("error", fl.slackErr)
		f.answer(w, call, obj{"ok": false, "error": fl.slackErr})
		return
	}
	f.mu.Unlock()
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer xoxb-") {
		call.Form.Set("error", "not_authed")
		f.answer(w, call, obj{"ok": false, "error": "not_authed"})
		return
	}
	res := f.viewResult(method, body)
	if res["ok"] == true {
		call.Form.Set("view_id", res["view"].(obj)["id"].(string))
	} else {
		call.Form.Set("error", fmt.Sprint(res["error"]))
	}
	f.answer(w, call, res)
}

func (f *FakeSlack) viewResult(method string, body []byte) obj {
	var req struct {
		TriggerID string         `json:"trigger_id"`
		UserID    string         `json:"user_id"`
		ViewID    string         `json:"view_id"`
		Hash      *string        `json:"hash"`
		View      map[string]any `json:"view"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.View == nil {
		return obj{"ok": false, "error": "invalid_arguments"}
	}
	viewJSON, _ := json.Marshal(req.View)
	if len(viewJSON) > maxViewBytes {
		return obj{"ok": false, "error": "view_too_large"}
	}
	want := "modal"
	if method == "views.publish" {
		want = "home"
	}
	if msg := checkView(req.View, want); msg != "" {
		return obj{"ok": false, "error": "invalid_arguments", "response_metadata": obj{"messages": []string{msg}}}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.viewsInit()
	var v *fakeView
	switch method {
	case "views.open":
		if req.TriggerID == "" {
			return obj{"ok": false, "error": "invalid_arguments"}
		}
		t, issued := f.vs.triggers[req.TriggerID]
		switch {
		case t.used:
			return obj{"ok": false, "error": "exchanged_trigger_id"}
		case t.gone || (issued && time.Since(t.issued) > triggerTTL):
			return obj{"ok": false, "error": "expired_trigger_id"}
		}
		t.used = true
		f.vs.triggers[req.TriggerID] = t
		f.vs.seq++
		v = &fakeView{id: fmt.Sprintf("V%07d", f.vs.seq), user: t.user}
		f.vs.views[v.id] = v
	case "views.update":
		var ok bool
		if v, ok = f.vs.views[req.ViewID]; !ok || req.ViewID == "" {
			return obj{"ok": false, "error": "not_found"}
		}
		if req.Hash != nil && *req.Hash != "" && *req.Hash != v.hash {
			return obj{"ok": false, "error": "hash_conflict"}
		}
	case "views.publish":
		if req.UserID == "" {
			return obj{"ok": false, "error": "invalid_arguments"}
		}
		if id, ok := f.vs.homes[req.UserID]; ok {
			v = f.vs.views[id]
			if req.Hash != nil && *req.Hash != "" && *req.Hash != v.hash {
				return obj{"ok": false, "error": "hash_conflict"}
			}
		} else {
			f.vs.seq++
			v = &fakeView{id: fmt.Sprintf("V%07d", f.vs.seq), user: req.UserID}
			f.vs.views[v.id] = v
			f.vs.homes[req.UserID] = v.id
		}
	default:
		return obj{"ok": false, "error": "unknown_method"}
	}
	f.vs.seq++
	v.hash = fmt.Sprintf("%d.%08x", 1700000000+f.vs.seq, f.vs.seq*2654435761)
	view := obj{}
	for k, x := range req.View {
		view[k] = x
	}
	view["id"], view["hash"], view["team_id"] = v.id, v.hash, "T0FAKE"
	view["state"] = obj{"values": obj{}}
	v.view = view
	return obj{"ok": true, "view": view}
}

// checkView returns why Slack would refuse view as a view of type want, or "".
func checkView(view map[string]any, want string) string {
	if t, _ := view["type"].(string); t != want {
		return fmt.Sprintf("view type %q, want %q", t, want)
	}
	blocks, _ := view["blocks"].([]any)
	if len(blocks) > maxViewBlocks {
		return fmt.Sprintf("%d blocks (max %d)", len(blocks), maxViewBlocks)
	}
	if want == "modal" {
		title, _ := view["title"].(map[string]any)
		if s, _ := title["text"].(string); s == "" || utf8.RuneCountInString(s) > maxViewTitle {
			return fmt.Sprintf("modal title %q (1 to %d characters)", s, maxViewTitle)
		}
		for _, k := range []string{"submit", "close"} {
			if t, ok := view[k].(map[string]any); ok {
				if s, _ := t["text"].(string); s == "" || utf8.RuneCountInString(s) > maxViewTitle {
					return fmt.Sprintf("%s label %q (1 to %d characters)", k, s, maxViewTitle)
				}
			}
		}
		hasInput := false
		for _, b := range blocks {
			if bm, _ := b.(map[string]any); bm["type"] == "input" {
				hasInput = true
			}
		}
		if _, ok := view["submit"]; hasInput && !ok {
			return "a modal with input blocks needs a submit label"
		}
	}
	if s, _ := view["private_metadata"].(string); len(s) > maxPrivateMeta {
		return fmt.Sprintf("private_metadata is %d characters (max %d)", len(s), maxPrivateMeta)
	}
	if s, _ := view["callback_id"].(string); len(s) > maxViewCallbackID {
		return fmt.Sprintf("callback_id is %d characters (max %d)", len(s), maxViewCallbackID)
	}
	return ""
}

// Values are the input values of a view, block_id → action_id → value. A value is the
// selected option's value for selects, the text for plain-text inputs, the channel ID for a
// conversations select.
type Values map[string]map[string]string

// state builds Slack's view.state.values from vals, shaped by each element's type in view.
func state(view map[string]any, vals Values) obj {
	types := map[string]string{} // block_id/action_id → element type
	blocks, _ := view["blocks"].([]any)
	for _, b := range blocks {
		bm, _ := b.(map[string]any)
		bid, _ := bm["block_id"].(string)
		var els []any
		if el, ok := bm["element"].(map[string]any); ok {
			els = append(els, el)
		}
		if acc, ok := bm["accessory"].(map[string]any); ok {
			els = append(els, acc)
		}
		if es, ok := bm["elements"].([]any); ok {
			els = append(els, es...)
		}
		for _, e := range els {
			em, _ := e.(map[string]any)
			aid, _ := em["action_id"].(string)
			t, _ := em["type"].(string)
			types[bid+"/"+aid] = t
		}
	}
	out := obj{}
	for bid, acts := range vals {
		b := obj{}
		for aid, v := range acts {
			b[aid] = elementValue(types[bid+"/"+aid], v)
		}
		out[bid] = b
	}
	return obj{"values": out}
}

func elementValue(typ, v string) obj {
	switch typ {
	case "static_select", "external_select":
		if v == "" {
			return obj{"type": typ, "selected_option": nil}
		}
		return obj{"type": typ, "selected_option": obj{"text": obj{"type": "plain_text", "text": v}, "value": v}}
	case "conversations_select":
		return obj{"type": typ, "selected_conversation": v}
	case "channels_select":
		return obj{"type": typ, "selected_channel": v}
	}
	return obj{"type": "plain_text_input", "value": v}
}

// withState is view (as the fake holds it) with the given input values.
func withState(view map[string]any, vals Values) obj {
	out := obj{}
	for k, x := range view {
		out[k] = x
	}
	out["state"] = state(view, vals)
	return out
}

// ViewSubmission is the view_submission payload of user submitting view (as View returns
// it) with vals entered.
func ViewSubmission(user string, view map[string]any, vals Values) map[string]any {
	return obj{
		"type": "view_submission", "team": obj{"id": "T0FAKE"}, "api_app_id": "A0FAKE",
		"user":       obj{"id": user, "name": strings.ToLower(user)},
		"view":       withState(view, vals),
		"trigger_id": fmt.Sprintf("%d.4242.sub", time.Now().UnixNano()),
	}
}

// BlockSuggestion is the block_suggestion payload Slack sends when user types query into the
// external select actionID of block blockID in view.
func BlockSuggestion(user string, view map[string]any, blockID, actionID, query string) map[string]any {
	return obj{
		"type": "block_suggestion", "team": obj{"id": "T0FAKE"}, "api_app_id": "A0FAKE",
		"user":     obj{"id": user, "name": strings.ToLower(user)},
		"block_id": blockID, "action_id": actionID, "value": query,
		"container": obj{"type": "view", "view_id": view["id"]},
		"view":      view,
	}
}

// ViewAction is the block_actions payload of user picking value in element actionID of
// block blockID of view (a modal or a Home tab), with vals the view's input state.
// trigger is its trigger_id (from Trigger).
func ViewAction(user, trigger string, view map[string]any, blockID, actionID, value string, vals Values) map[string]any {
	typ := "button"
	for _, b := range asList(view["blocks"]) {
		bm, _ := b.(map[string]any)
		if bm["block_id"] != blockID {
			continue
		}
		els := asList(bm["elements"])
		for _, k := range []string{"element", "accessory"} {
			if e, ok := bm[k]; ok {
				els = append(els, e)
			}
		}
		for _, e := range els {
			if em, _ := e.(map[string]any); em["action_id"] == actionID {
				typ, _ = em["type"].(string)
			}
		}
	}
	act := elementValue(typ, value)
	act["action_id"], act["block_id"], act["action_ts"] = actionID, blockID, "1700000000.000001"
	if typ == "button" {
		act = obj{"type": "button", "action_id": actionID, "block_id": blockID, "value": value, "action_ts": "1700000000.000001"}
	}
	return obj{
		"type": "block_actions", "team": obj{"id": "T0FAKE"}, "api_app_id": "A0FAKE",
		"user":       obj{"id": user, "name": strings.ToLower(user)},
		"container":  obj{"type": "view", "view_id": view["id"]},
		"view":       withState(view, vals),
		"trigger_id": trigger,
		"actions":    []any{act},
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return append([]any(nil), l...)
}
