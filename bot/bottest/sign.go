package bottest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// Sign returns Slack's v0 request-signing headers for body sent at ts:
// X-Slack-Request-Timestamp and X-Slack-Signature.
func Sign(secret string, ts time.Time, body []byte) (timestampHeader, signatureHeader string) {
	timestampHeader = strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + timestampHeader + ":"))
	mac.Write(body)
	return timestampHeader, "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// SignedRequest builds a form POST to url signed with secret at ts, as Slack sends slash
// commands and interactions.
func SignedRequest(secret, url string, form url.Values, ts time.Time) *http.Request {
	body := form.Encode()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		panic("bottest: " + err.Error()) // only a malformed url gets here
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	t, s := Sign(secret, ts, []byte(body))
	req.Header.Set("X-Slack-Request-Timestamp", t)
	req.Header.Set("X-Slack-Signature", s)
	return req
}

// CommandForm is the form Slack posts for a slash command.
func CommandForm(c slack.SlashCommand) url.Values {
	return url.Values{
		"token": {c.Token}, "team_id": {c.TeamID}, "team_domain": {c.TeamDomain},
		"channel_id": {c.ChannelID}, "channel_name": {c.ChannelName},
		"user_id": {c.UserID}, "user_name": {c.UserName},
		"command": {c.Command}, "text": {c.Text},
		"response_url": {c.ResponseURL}, "trigger_id": {c.TriggerID}, "api_app_id": {c.APIAppID},
	}
}

// InteractionForm is the form Slack posts for an interaction: one field, payload, holding JSON.
func InteractionForm(ic *slack.InteractionCallback) url.Values {
	raw, err := json.Marshal(ic)
	if err != nil {
		panic("bottest: interaction payload: " + err.Error())
	}
	return url.Values{"payload": {string(raw)}}
}

// BlockAction is a block_actions interaction: user clicked actionID (with value) on the message
// channel/ts. For overflow menus value is the selected option's value.
func BlockAction(user, channel, ts, actionID, value, responseURL string) *slack.InteractionCallback {
	act := &slack.BlockAction{ActionID: actionID, BlockID: actionID + "-block", Value: value, ActionTs: ts}
	if strings.HasPrefix(actionID, "digest_") {
		act.Type = "overflow"
		act.Value = ""
		act.SelectedOption = slack.OptionBlockObject{Value: value}
	} else {
		act.Type = "button"
	}
	return &slack.InteractionCallback{
		Type:        slack.InteractionTypeBlockActions,
		User:        slack.User{ID: user, Name: strings.ToLower(user)},
		Channel:     slack.Channel{GroupConversation: slack.GroupConversation{Conversation: slack.Conversation{ID: channel}}},
		Container:   slack.Container{Type: "message", MessageTs: ts, ChannelID: channel},
		Message:     slack.Message{Msg: slack.Msg{Timestamp: ts, Channel: channel}},
		ResponseURL: responseURL,
		TriggerID:   "trigger-" + ts,
		APIAppID:    "A0FAKE",
		Team:        slack.Team{ID: "T0FAKE"},
		ActionCallback: slack.ActionCallbacks{
			BlockActions: []*slack.BlockAction{act},
		},
	}
}
