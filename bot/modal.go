package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

// The modals: callback IDs, block IDs and action IDs.
const (
	CallbackRequest = "renew_request" // the request modal
	CallbackReject  = "reject_reason" // the reject modal

	blockChannel  = "channel"
	blockInstance = "instance"
	blockPeriod   = "period"
	blockReason   = "reason"
	blockQuote    = "quote"

	ActionPickChannel  = "channel_pick"
	ActionPickInstance = "instance_pick" // external_select: options from /slack/options
	ActionPickPeriod   = "period_pick"
	actionReason       = "reason_text"
)

// submitWait is how long a modal submission waits for the request to be created before
// the modal is closed anyway (Slack wants the answer within 3 seconds): a refusal that comes
// in time shows in the modal, a later one as an ephemeral message.
const submitWait = 2 * time.Second

// modalMeta is a modal's private_metadata: where it came from.
type modalMeta struct {
	Channel string          `json:"ch,omitempty"` // where the approval message goes, and replies
	Request store.RequestID `json:"id,omitempty"` // the reject modal's request
}

func (m modalMeta) String() string {
	js, _ := json.Marshal(m)
	return string(js)
}

// RequestModalData is what the request modal starts with.
type RequestModalData struct {
	Channel   string        // where the approval message goes; "" asks for one
	Default   string        // the channel preselected when Channel is ""
	Instance  *ecs.Instance // preselected (a digest row)
	Months    int           // preselected period; 0: 1 month
	MaxMonths int           // the policy's longest period
	Quote     string        // the quote line (mrkdwn)
	Now       time.Time     // in RENEWBOT_TIMEZONE
}

// RequestModal is the request modal: an instance picker with search, a period within the
// policy, an optional reason, and the live quote.
func RequestModal(d RequestModalData) slack.ModalViewRequest {
	var blocks []slack.Block
	if d.Channel == "" {
		sel := &slack.SelectBlockElement{Type: slack.OptTypeConversations, ActionID: ActionPickChannel,
			Placeholder: plain("A channel renewbot is in"), InitialConversation: d.Default,
			Filter: &slack.SelectBlockElementFilter{Include: []string{"public", "private"}, ExcludeBotUsers: true}}
		blocks = append(blocks, slack.NewInputBlock(blockChannel, plain("Post the approval request in"),
			plain("Approvers click Approve on the message there."), sel))
	}
	zero := 0
	inst := &slack.SelectBlockElement{Type: slack.OptTypeExternal, ActionID: ActionPickInstance,
		Placeholder: plain("Search by ID, name or tag"), MinQueryLength: &zero}
	if d.Instance != nil {
		inst.InitialOption = instanceOption(*d.Instance, d.Now)
	}
	in := slack.NewInputBlock(blockInstance, plain("Instance"), plain("Subscription instances from the last ECS scan."), inst)
	in.DispatchAction = true
	blocks = append(blocks, in)

	months := d.Months
	if months <= 0 {
		months = 1
	}
	var opts []*slack.OptionBlockObject
	var initial *slack.OptionBlockObject
	for m := 1; m <= max(d.MaxMonths, 1); m++ {
		if !ecs.ValidRenewalPeriod(m) {
			continue
		}
		o := slack.NewOptionBlockObject(strconv.Itoa(m), plain(plural(m, "month", "months")), nil)
		opts = append(opts, o)
		if m == months {
			initial = o
		}
	}
	period := &slack.SelectBlockElement{Type: slack.OptTypeStatic, ActionID: ActionPickPeriod, Options: opts, InitialOption: initial}
	pb := slack.NewInputBlock(blockPeriod, plain("Renew for"), nil, period)
	pb.DispatchAction = true
	blocks = append(blocks, pb)

	reason := &slack.PlainTextInputBlockElement{Type: slack.METPlainTextInput, ActionID: actionReason, Multiline: true,
		MaxLength: renewal.MaxReasonLength, Placeholder: plain("Why renew? Approvers see this.")}
	rb := slack.NewInputBlock(blockReason, plain("Reason"), nil, reason)
	rb.Optional = true
	blocks = append(blocks, rb)

	quote := d.Quote
	if quote == "" {
		quote = "Pick an instance and a period to see the price."
	}
	blocks = append(blocks, slack.NewSectionBlock(mrkdwn(clipRunes(quote, sectionBudget)), nil, nil, slack.SectionBlockOptionBlockID(blockQuote)))
	return slack.ModalViewRequest{Type: slack.VTModal, CallbackID: CallbackRequest, Title: plain("Request a renewal"),
		Submit: plain("Request"), Close: plain("Cancel"), Blocks: slack.Blocks{BlockSet: blocks},
		PrivateMetadata: modalMeta{Channel: d.Channel}.String()}
}

// RejectModal asks for the reason of a rejection.
func RejectModal(r *store.Request, channel string) slack.ModalViewRequest {
	reason := &slack.PlainTextInputBlockElement{Type: slack.METPlainTextInput, ActionID: actionReason, Multiline: true,
		MaxLength: renewal.MaxReasonLength, Placeholder: plain("Optional: the requester and the audit log see it.")}
	rb := slack.NewInputBlock(blockReason, plain("Reason"), nil, reason)
	rb.Optional = true
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn(clipRunes("Reject *"+escape(approvalTitle(r))+"*, asked by "+mention(r.Requester)+"?", sectionBudget)), nil, nil),
		rb,
	}
	return slack.ModalViewRequest{Type: slack.VTModal, CallbackID: CallbackReject, Title: plain("Reject request"),
		Submit: plain("Reject"), Close: plain("Cancel"), Blocks: slack.Blocks{BlockSet: blocks},
		PrivateMetadata: modalMeta{Channel: channel, Request: r.ID}.String()}
}

// instanceOption is a picker option: value the instance ID, text ID · name · expiry and
// days left at now (in now's location).
func instanceOption(in ecs.Instance, now time.Time) *slack.OptionBlockObject {
	text := in.ID
	if in.Name != "" {
		text += " · " + in.Name
	}
	if !in.ExpiredTime.IsZero() {
		text += " · expires " + renewal.FormatDate(in.ExpiredTime, now.Location())
		text += " (" + shortDaysLeft(in.ExpiredTime, now) + ")"
	}
	return slack.NewOptionBlockObject(in.ID, plain(clipRunes(text, maxOptionText)), nil)
}

// ---- interaction payloads on views

// viewPayload is what the bot reads of an interaction on a view: view_submission,
// block_suggestion, view_closed, and block_actions in a modal or the Home tab.
type viewPayload struct {
	Type string `json:"type"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	TriggerID string `json:"trigger_id"`
	ActionID  string `json:"action_id"` // block_suggestion
	BlockID   string `json:"block_id"`
	Value     string `json:"value"` // block_suggestion: what was typed
	Container struct {
		Type string `json:"type"`
	} `json:"container"`
	View    *viewJSON `json:"view"`
	Actions []struct {
		ActionID       string `json:"action_id"`
		BlockID        string `json:"block_id"`
		Value          string `json:"value"`
		SelectedOption *struct {
			Value string `json:"value"`
		} `json:"selected_option"`
	} `json:"actions"`
}

type viewJSON struct {
	ID              string `json:"id"`
	Hash            string `json:"hash"`
	Type            string `json:"type"`
	CallbackID      string `json:"callback_id"`
	PrivateMetadata string `json:"private_metadata"`
	State           struct {
		Values map[string]map[string]stateValue `json:"values"`
	} `json:"state"`
}

type stateValue struct {
	Value                *string `json:"value"`
	SelectedConversation string  `json:"selected_conversation"`
	SelectedChannel      string  `json:"selected_channel"`
	SelectedOption       *struct {
		Value string `json:"value"`
	} `json:"selected_option"`
}

// value is the input's value: the text, the selected option's value, or the conversation.
func (v *viewJSON) value(block, action string) string {
	if v == nil {
		return ""
	}
	s := v.State.Values[block][action]
	switch {
	case s.SelectedOption != nil:
		return s.SelectedOption.Value
	case s.Value != nil:
		return *s.Value
	case s.SelectedConversation != "":
		return s.SelectedConversation
	}
	return s.SelectedChannel
}

func (v *viewJSON) meta() modalMeta {
	var m modalMeta
	if v != nil {
		_ = json.Unmarshal([]byte(v.PrivateMetadata), &m)
	}
	return m
}

// viewAnswer is the immediate answer to a view interaction: nil for an empty 200, or a
// JSON body (response_action errors, options).
type viewAnswer any

// isViewInteraction reports whether payload is an interaction on a view (not a message).
func isViewInteraction(payload []byte) bool {
	var p struct {
		Type      string `json:"type"`
		Container struct {
			Type string `json:"type"`
		} `json:"container"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return false
	}
	switch p.Type {
	case "view_submission", "view_closed", "block_suggestion":
		return true
	}
	return p.Type == string(slack.InteractionTypeBlockActions) && p.Container.Type == "view"
}

// handleView answers an interaction on a view: the answer to send at once and work for
// after it. It may take up to submitWait (a submission waits for its request).
func (a *App) handleView(payload []byte) (viewAnswer, func(context.Context)) {
	var p viewPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		a.log.Warn("view interaction not understood", "err", err)
		return nil, nil
	}
	user := p.User.ID
	switch p.Type {
	case "block_suggestion":
		return a.suggest(p), nil
	case "view_closed":
		return nil, nil
	case "view_submission":
		if p.View == nil {
			return nil, nil
		}
		switch p.View.CallbackID {
		case CallbackRequest:
			return a.submitRequest(user, p.View)
		case CallbackReject:
			return a.submitReject(user, p.View)
		}
		return nil, nil
	}
	// block_actions in a view
	if len(p.Actions) == 0 || user == "" {
		return nil, nil
	}
	act := p.Actions[0]
	value := act.Value
	if act.SelectedOption != nil {
		value = act.SelectedOption.Value
	}
	a.log.Info("view click", "action", act.ActionID, "user", user, "value", value)
	to := replyTo{user: user, dm: true}
	switch act.ActionID {
	case ActionHomeRequest:
		trigger := p.TriggerID
		return nil, func(ctx context.Context) { a.openRequestModal(ctx, trigger, to, RequestModalData{}) }
	case ActionApprove:
		return nil, func(ctx context.Context) { a.approve(ctx, to, store.RequestID(value)) }
	case ActionReject:
		trigger := p.TriggerID
		return nil, func(ctx context.Context) { a.rejectClick(ctx, to, store.RequestID(value), trigger) }
	case ActionPickInstance, ActionPickPeriod:
		if p.View == nil || p.View.CallbackID != CallbackRequest {
			return nil, nil
		}
		view := p.View
		return nil, func(ctx context.Context) { a.updateQuote(ctx, view) }
	}
	return nil, nil
}

// openRequestModal opens the request modal with trigger (from a slash command, the Home
// tab button or a digest row). The catalog is read meanwhile, for the picker.
func (a *App) openRequestModal(ctx context.Context, trigger string, to replyTo, d RequestModalData) {
	a.scans.refresh(a, false)
	d.MaxMonths, d.Now = a.wf.Policy().MaxMonths, a.now().In(a.loc)
	if d.Channel == "" {
		d.Default = a.defaultChannel
	}
	_, err := a.slack.OpenViewContext(ctx, trigger, RequestModal(d))
	if err != nil {
		recordSlackError(a.metrics, "views.open", err)
		a.log.Warn("open request modal", "user", to.user, "err", err)
		a.reply(ctx, to, "I could not open the request form ("+slackErrText(err)+"). Type `/renew INSTANCE_ID MONTHS` instead, or try again.")
	}
}

// updateQuote shows the price of the picked instance and period in the modal (views.update).
func (a *App) updateQuote(ctx context.Context, v *viewJSON) {
	id := v.value(blockInstance, ActionPickInstance)
	months, _ := strconv.Atoi(v.value(blockPeriod, ActionPickPeriod))
	if months <= 0 {
		months = 1
	}
	meta := v.meta()
	d := RequestModalData{Channel: meta.Channel, Months: months, MaxMonths: a.wf.Policy().MaxMonths, Now: a.now().In(a.loc)}
	if meta.Channel == "" {
		d.Default = v.value(blockChannel, ActionPickChannel)
	}
	if id == "" {
		return
	}
	d.Quote = a.quoteLine(ctx, id, months, &d)
	_, err := a.slack.UpdateViewContext(ctx, RequestModal(d), "", v.Hash, v.ID)
	if err != nil {
		// hash_conflict: another pick updated the modal first; its quote is the newer one.
		recordSlackError(a.metrics, "views.update", err)
		a.log.Info("update request modal", "view", v.ID, "err", err)
	}
}

// quoteLine prices renewing instance id for months, for the modal; it fills d.Instance.
func (a *App) quoteLine(ctx context.Context, id string, months int, d *RequestModalData) string {
	if !ecs.IsInstanceID(id) {
		return "⚠️ `" + escape(clipRunes(id, 80)) + "` is not an instance ID."
	}
	insts, err := a.cloud.Lookup(ctx, []string{id})
	if err != nil || len(insts) == 0 {
		return "⚠️ Could not find `" + escape(id) + "` (released, or in another account?)."
	}
	in := insts[0]
	d.Instance = &in
	if !in.Subscription() {
		return "⚠️ `" + escape(id) + "` is pay-as-you-go: there is nothing to renew."
	}
	if a.quoter == nil {
		return "Expires " + renewal.FormatTime(in.ExpiredTime, a.loc) + "."
	}
	q, err := a.quoter.Quote(ctx, in.RegionID, in.ID, months)
	if err != nil {
		return "⚠️ No price for `" + escape(id) + "`: " + escape(clipRunes(err.Error(), 300))
	}
	return fmt.Sprintf("*%s* for %s: *%s*\nExpires %s → new expiry %s (%s)", escape(in.ID), months2(months),
		money(q.Trade, q.Currency), renewal.FormatTime(in.ExpiredTime, a.loc), renewal.FormatTime(ecs.AddMonths(in.ExpiredTime, months), a.loc), escape(nameOr(in.Name)))
}

func months2(n int) string { return plural(n, "month", "months") }

// submitRequest validates a submitted request modal and creates the request, the same as
// /renew ID MONTHS. Bad input and refusals that come within submitWait show in the modal
// (response_action errors); the approval message is posted after the answer.
func (a *App) submitRequest(user string, v *viewJSON) (viewAnswer, func(context.Context)) {
	meta := v.meta()
	channel := meta.Channel
	if channel == "" {
		channel = v.value(blockChannel, ActionPickChannel)
	}
	id := strings.TrimSpace(v.value(blockInstance, ActionPickInstance))
	months, perr := strconv.Atoi(v.value(blockPeriod, ActionPickPeriod))
	reason := strings.TrimSpace(v.value(blockReason, actionReason))
	errs := map[string]string{}
	switch {
	case id == "":
		errs[blockInstance] = "Pick an instance."
	case !ecs.IsInstanceID(id):
		errs[blockInstance] = "That is not an ECS instance ID."
	}
	if max := a.wf.Policy().MaxMonths; perr != nil || !ecs.ValidRenewalPeriod(months) || months > max {
		errs[blockPeriod] = fmt.Sprintf("Pick a period of %s months, at most %d.", ecs.RenewalPeriodsText, max)
	}
	if n := utf8.RuneCountInString(reason); n > renewal.MaxReasonLength {
		errs[blockReason] = fmt.Sprintf("%d characters; at most %d.", n, renewal.MaxReasonLength)
	}
	if channel == "" || !IsChannelID(channel) {
		if meta.Channel == "" {
			errs[blockChannel] = "Pick the channel for the approval request."
		} else {
			errs[blockInstance] = "This form lost its channel; close it and open it again from a channel."
		}
	}
	if user == "" {
		errs[blockInstance] = "Slack did not say who you are; try again."
	}
	if len(errs) > 0 {
		a.metrics.Command("invalid")
		return slack.NewErrorsViewSubmissionResponse(errs), nil
	}
	a.metrics.Command(VerbRenew.String())
	a.log.Info("request modal", "user", user, "channel", channel, "instance", id, "months", months)
	in := renewal.RenewalInput{Requester: user, Channel: channel, InstanceIDs: []string{id}, Months: months, Reason: reason}
	to := replyTo{channel: channel, user: user}

	type outcome struct {
		r   *store.Request
		err error
	}
	res := make(chan outcome, 1)
	shown := make(chan bool, 1) // whether the answer carried the error
	a.later("request modal", func(ctx context.Context) {
		r, err := a.wf.RequestRenewal(ctx, in)
		res <- outcome{r, err}
		inModal := <-shown
		if err != nil {
			if !inModal {
				a.replyErr(ctx, to, "could not open the request", err)
			}
			return
		}
		a.open(ctx, to, func(context.Context) (*store.Request, error) { return r, nil })
	})() // started at once: the answer waits for it
	t := time.NewTimer(submitWait)
	defer t.Stop()
	select {
	case o := <-res:
		if o.err != nil {
			shown <- true
			return slack.NewErrorsViewSubmissionResponse(map[string]string{blockInstance: clipRunes(sentence(userText(o.err)), 150)}), nil
		}
		shown <- false
	case <-t.C:
		shown <- false
	}
	return nil, nil
}

// userText is what a person is told of err.
func userText(err error) string {
	var ref *renewal.Refusal
	var uerr *renewal.UserError
	switch {
	case errors.As(err, &ref):
		return ref.Error()
	case errors.As(err, &uerr):
		return uerr.Error()
	}
	return "could not open the request: " + err.Error()
}

// rejectClick opens the reject modal for an approver's click on Reject. The requester's own
// click cancels at once; anyone else is refused at once; and when the modal cannot be
// opened (an expired trigger), the request is rejected without a reason, as the click asked.
func (a *App) rejectClick(ctx context.Context, to replyTo, id store.RequestID, trigger string) {
	if a.requests == nil {
		a.reject(ctx, to, id, "")
		return
	}
	r, err := a.requests.GetRequest(id)
	may := err == nil && r.EffectiveState(a.now()) == store.StatePending && r.Requester != to.user
	if may {
		ap, aerr := a.wf.MayApprove(ctx, to.user, r.Accounts())
		may = aerr == nil && ap.Allowed
	}
	if !may || trigger == "" {
		a.reject(ctx, to, id, "") // cancels, refuses, or rejects: the workflow decides and says why
		return
	}
	_, err = a.slack.OpenViewContext(ctx, trigger, RejectModal(r, to.channel))
	if err != nil {
		recordSlackError(a.metrics, "views.open", err)
		a.log.Warn("open reject modal: rejecting without a reason", "request", id, "user", to.user, "err", err)
		a.reject(ctx, to, id, "")
	}
}

// submitReject rejects the request of a submitted reject modal with its reason.
func (a *App) submitReject(user string, v *viewJSON) (viewAnswer, func(context.Context)) {
	meta := v.meta()
	reason := strings.TrimSpace(v.value(blockReason, actionReason))
	if n := utf8.RuneCountInString(reason); n > renewal.MaxReasonLength {
		return slack.NewErrorsViewSubmissionResponse(map[string]string{blockReason: fmt.Sprintf("%d characters; at most %d.", n, renewal.MaxReasonLength)}), nil
	}
	if meta.Request == "" || user == "" {
		return nil, nil
	}
	to := replyTo{channel: meta.Channel, user: user, dm: meta.Channel == ""}
	a.log.Info("reject modal", "user", user, "request", meta.Request)
	return nil, func(ctx context.Context) { a.reject(ctx, to, meta.Request, reason) }
}

// ---- the instance picker (block_suggestion)

// suggestWait bounds how long the picker waits for a first scan: Slack wants its options
// within 3 seconds.
const suggestWait = 2 * time.Second

// maxSuggestions is Slack's limit on the options of an external select.
const maxSuggestions = 100

// optionsAnswer is the answer to block_suggestion; options is always present, [] for none.
type optionsAnswer struct {
	Options []*slack.OptionBlockObject `json:"options"`
}

// suggest answers the instance picker from the last scan: instances whose ID, name or a
// tag (key or value) contains the query, most urgent first, at most 100.
func (a *App) suggest(p viewPayload) optionsAnswer {
	out := optionsAnswer{Options: []*slack.OptionBlockObject{}}
	if p.ActionID != ActionPickInstance {
		return out
	}
	ctx, cancel := context.WithTimeout(a.base, suggestWait)
	defer cancel()
	done := a.scans.refresh(a, false)
	if _, at, _ := a.scans.last(); at.IsZero() { // nothing to answer from yet
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
	scan, _, _ := a.scans.last()
	now := a.now().In(a.loc)
	for _, in := range MatchInstances(scan.Instances, p.Value, maxSuggestions) {
		out.Options = append(out.Options, instanceOption(in, now))
	}
	return out
}

// MatchInstances returns up to limit instances whose ID, name, or a tag key or value contains
// query (case-insensitive; every word of it), in their order. An empty query matches all.
func MatchInstances(insts []ecs.Instance, query string, limit int) []ecs.Instance {
	words := strings.Fields(strings.ToLower(query))
	var out []ecs.Instance
	for _, in := range insts {
		if len(out) >= limit {
			break
		}
		hay := strings.ToLower(in.ID + " " + in.Name)
		for k, v := range in.Tags.All() {
			hay += " " + strings.ToLower(k) + "=" + strings.ToLower(v)
		}
		all := true
		for _, w := range words {
			if !strings.Contains(hay, w) {
				all = false
				break
			}
		}
		if all {
			out = append(out, in)
		}
	}
	return out
}

// digestFormSuffix ends the value of the digest row option that opens the request modal:
// "INSTANCE_ID:form".
const digestFormSuffix = ":form"

// digestForm opens the request modal for one instance of a digest row, preselected, with
// the approval message going to the digest's channel.
func (a *App) digestForm(ctx context.Context, to replyTo, id, trigger string) {
	if to.channel == "" || to.user == "" {
		a.metrics.Interaction(ActionDigestRenew, "error")
		a.reply(ctx, to, noChannelOrUser)
		return
	}
	if trigger == "" {
		a.metrics.Interaction(ActionDigestRenew, "error")
		a.reply(ctx, to, "Slack sent no trigger to open the request form with; pick a period from the menu, or type `/renew "+id+" MONTHS`.")
		return
	}
	a.metrics.Interaction(ActionDigestRenew, "accepted")
	d := RequestModalData{Channel: to.channel}
	scan, _, _ := a.scans.last()
	for _, in := range scan.Instances {
		if in.ID == id {
			d.Instance = &in
			break
		}
	}
	if d.Instance == nil && ecs.IsInstanceID(id) {
		d.Instance = &ecs.Instance{ID: id} // not in the last scan: preselected by ID alone
	}
	a.openRequestModal(ctx, trigger, to, d)
}
