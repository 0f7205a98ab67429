package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The Slack manifest and the RAM policy are generated from these two lists, which say what
// the code calls; setup_test.go checks them against the source tree.

// slackMethod is one Slack Web API method the bot calls and the bot scope it needs.
type slackMethod struct {
	Method string // Web API method(s)
	GoName string // bot.SlackAPI method
	Scope  string
}

// slackMethods is every Web API method the bot calls (the bot.SlackAPI interface).
func slackMethods() []slackMethod {
	return []slackMethod{
		{"chat.postMessage", "PostMessageContext", "chat:write"},
		{"chat.update", "UpdateMessageContext", "chat:write"},
		{"chat.postEphemeral", "PostEphemeralContext", "chat:write"},
		{"usergroups.users.list", "GetUserGroupMembersContext", "usergroups:read"},
		{"files.getUploadURLExternal, files.completeUploadExternal", "UploadFileContext", "files:write"},
		{"views.open", "OpenViewContext", ""},                         // the request and reject modals; views.* need no scope
		{"views.update", "UpdateViewContext", ""},                     // the live quote in the request modal
		{"views.publish", "PublishViewContext", ""},                   // the Home tab
		{"conversations.open", "OpenConversationContext", "im:write"}, // the requester's DM of each outcome
	}
}

// slackScopes is the bot scopes: "commands" for the slash command, plus those of the methods.
func slackScopes() []string {
	scopes := []string{"commands"}
	for _, m := range slackMethods() {
		if m.Scope != "" && !slices.Contains(scopes, m.Scope) { // views.* need no scope
			scopes = append(scopes, m.Scope)
		}
	}
	return scopes
}

// ecsActions is every ECS API action the ecs package calls.
func ecsActions() []string {
	return []string{
		"DescribeRegions",
		"DescribeInstances",
		"DescribeRenewalPrice",
		"RenewInstance",
		"DescribeInstanceAutoRenewAttribute",
		"ModifyInstanceAutoRenewAttribute",
	}
}

// ---- slack-manifest

type manifestConfig struct {
	URL     string
	Socket  bool
	Command string
	Name    string
}

func newManifestSettings(c *manifestConfig) *settings {
	return newSettings("slack-manifest", []setting{
		{flag: "url", env: "RENEWBOT_PUBLIC_URL", usage: "public HTTPS base URL of the bot (https://HOST); not needed with --socket",
			parse: func(s string) error { c.URL = strings.TrimRight(s, "/"); return nil }},
		boolSetting("socket", "RENEWBOT_SOCKET_MODE", "Socket Mode app: no public URL", &c.Socket),
		{flag: "command", env: "RENEWBOT_COMMAND", def: "/renew", usage: "slash command name",
			parse: func(s string) error { c.Command = s; return checkCommandName(s) }},
		{flag: "name", env: "RENEWBOT_APP_NAME", def: "renewbot", usage: "app and bot display name",
			parse: func(s string) error {
				if s == "" || len(s) > 35 {
					return errors.New("must be 1 to 35 characters")
				}
				c.Name = s
				return nil
			}},
	})
}

func runManifest(_ context.Context, e env, args []string) error {
	var c manifestConfig
	if err := newManifestSettings(&c).parseNoArgs(args, e.getenv); err != nil {
		return err
	}
	if !c.Socket {
		if c.URL == "" {
			return usageError{errors.New("--url: is required (the public https://HOST Slack sends requests to), or use --socket")}
		}
		if err := checkBaseURL(c.URL); err != nil {
			return usageError{fmt.Errorf("--url: %q %w", c.URL, err)}
		}
	} else if c.URL != "" {
		return usageError{errors.New("--url and --socket do not go together: a Socket Mode app has no request URL")}
	}
	js, err := json.MarshalIndent(manifest(c), "", "  ")
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(append(js, '\n'))
	return err
}

// checkCommandName accepts a slash command name as Slack's app settings do: a slash, then
// 1 to 31 lowercase letters, digits, '-' or '_' (Slack lower-cases nothing for you, and a
// command with a capital letter or a space is refused when the manifest is pasted).
func checkCommandName(s string) error {
	name, ok := strings.CutPrefix(s, "/")
	if !ok || name == "" || len(s) > 32 {
		return errors.New("is not a slash command like /renew (a slash and 1 to 31 characters)")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("is not a slash command like /renew: %q is not allowed (lowercase letters, digits, - and _ only)", r)
		}
	}
	return nil
}

// checkBaseURL accepts the public base URL the manifest's request URLs are built on:
// https, a host, optionally a path (a bot behind a reverse proxy at /renewbot), and nothing
// that would not survive "/slack/commands" being appended: no query, no fragment, no
// user info, no characters that need escaping (Slack refuses a request URL with a space).
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Scheme != "https" || u.Host == "" || u.Opaque != "":
		return errors.New("is not an https://HOST URL (Slack only calls HTTPS)")
	case u.RawQuery != "" || u.ForceQuery:
		return errors.New("has a query (?…): give the base URL only; renewbot appends /slack/commands and /slack/interactions")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return errors.New("has a fragment (#…): give the base URL only")
	case u.User != nil:
		return errors.New("has user info (user@): Slack does not send credentials in the URL")
	case strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || r > 0x7e }):
		return errors.New("has a space or a character that needs escaping: Slack refuses such request URLs")
	}
	return nil
}

// Manifest types: only the fields renewbot sets (api.slack.com/reference/manifests).
type (
	appManifest struct {
		DisplayInformation manifestDisplay  `json:"display_information"`
		Features           manifestFeatures `json:"features"`
		OAuthConfig        manifestOAuth    `json:"oauth_config"`
		Settings           manifestSettings `json:"settings"`
	}
	manifestDisplay struct {
		Name            string `json:"name"`
		Description     string `json:"description"`
		BackgroundColor string `json:"background_color"`
	}
	manifestFeatures struct {
		AppHome       manifestAppHome        `json:"app_home"`
		BotUser       manifestBotUser        `json:"bot_user"`
		SlashCommands []manifestSlashCommand `json:"slash_commands"`
	}
	manifestAppHome struct {
		HomeTabEnabled             bool `json:"home_tab_enabled"`
		MessagesTabEnabled         bool `json:"messages_tab_enabled"`
		MessagesTabReadOnlyEnabled bool `json:"messages_tab_read_only_enabled"`
	}
	manifestBotUser struct {
		DisplayName  string `json:"display_name"`
		AlwaysOnline bool   `json:"always_online"`
	}
	manifestSlashCommand struct {
		Command      string `json:"command"`
		URL          string `json:"url,omitempty"`
		Description  string `json:"description"`
		UsageHint    string `json:"usage_hint"`
		ShouldEscape bool   `json:"should_escape"`
	}
	manifestOAuth struct {
		Scopes struct {
			Bot []string `json:"bot"`
		} `json:"scopes"`
	}
	manifestSettings struct {
		EventSubscriptions   manifestEvents        `json:"event_subscriptions"`
		Interactivity        manifestInteractivity `json:"interactivity"`
		OrgDeployEnabled     bool                  `json:"org_deploy_enabled"`
		SocketModeEnabled    bool                  `json:"socket_mode_enabled"`
		TokenRotationEnabled bool                  `json:"token_rotation_enabled"`
	}
	manifestInteractivity struct {
		IsEnabled             bool   `json:"is_enabled"`
		RequestURL            string `json:"request_url,omitempty"`
		MessageMenuOptionsURL string `json:"message_menu_options_url,omitempty"` // external_select options
	}
	manifestEvents struct {
		RequestURL string   `json:"request_url,omitempty"`
		BotEvents  []string `json:"bot_events"`
	}
)

func manifest(c manifestConfig) appManifest {
	var m appManifest
	m.DisplayInformation = manifestDisplay{Name: c.Name, BackgroundColor: "#1d3c5a",
		Description: "Daily digests of expiring Alibaba Cloud ECS subscriptions, and renewals with approval."}
	m.Features.BotUser = manifestBotUser{DisplayName: c.Name, AlwaysOnline: true}
	cmd := manifestSlashCommand{Command: c.Command, Description: "Renew ECS subscription instances (with approval)",
		UsageHint: "help | list [30d] | status ID | ID[,ID] [MONTHS] | autorenew ID on|off|never | history [ID]"}
	// The Home tab (views.publish on app_home_opened); the messages tab carries the
	// requester's DMs, read-only: the bot reads no messages.
	m.Features.AppHome = manifestAppHome{HomeTabEnabled: true, MessagesTabEnabled: true, MessagesTabReadOnlyEnabled: true}
	m.Settings.EventSubscriptions.BotEvents = []string{"app_home_opened"}
	m.Settings.Interactivity.IsEnabled = true
	if c.Socket {
		m.Settings.SocketModeEnabled = true
	} else {
		cmd.URL = c.URL + "/slack/commands"
		m.Settings.Interactivity.RequestURL = c.URL + "/slack/interactions"
		m.Settings.Interactivity.MessageMenuOptionsURL = c.URL + "/slack/options"
		m.Settings.EventSubscriptions.RequestURL = c.URL + "/slack/events"
	}
	m.Features.SlashCommands = []manifestSlashCommand{cmd}
	m.OAuthConfig.Scopes.Bot = slackScopes()
	return m
}

// ---- ram-policy

// bssActions is every BSS (billing) API action the ecs package calls: the balance the
// forecast compares with the automatic renewals to come.
func bssActions() []string { return []string{"QueryAccountBalance"} }

// ramAction is the RAM policy action of an API action. BSS OpenAPI's actions are
// "bssapi:NAME" (Alibaba's authorization table for QueryAccountBalance).
func ramAction(api string) string {
	if slices.Contains(bssActions(), api) {
		return "bssapi:" + api
	}
	return "ecs:" + api
}

type ramPolicy struct {
	Version   string         `json:"Version"`
	Statement []ramStatement `json:"Statement"`
}

type ramStatement struct {
	Effect    string            `json:"Effect"`
	Action    []string          `json:"Action"`
	Resource  []string          `json:"Resource,omitempty"`
	Principal *ramPrincipal     `json:"Principal,omitempty"`
	Condition map[string]ramKVs `json:"Condition,omitempty"`
}

type ramPrincipal struct {
	RAM []string `json:"RAM"`
}

type ramKVs map[string][]string

// policy is the least-privilege policy of the identity that makes the calls: the base one,
// or the role in a member account (the same calls, in that account).
func policy() ramPolicy {
	var actions []string
	for _, a := range append(ecsActions(), bssActions()...) {
		actions = append(actions, ramAction(a))
	}
	return ramPolicy{Version: "1", Statement: []ramStatement{{Effect: "Allow", Action: actions, Resource: []string{"*"}}}}
}

// trustPolicy lets the base account's identities assume the member account's role, with
// the external ID when one is set.
func trustPolicy(baseUID, externalID string) ramPolicy {
	st := ramStatement{Effect: "Allow", Action: []string{"sts:AssumeRole"},
		Principal: &ramPrincipal{RAM: []string{"acs:ram::" + baseUID + ":root"}}}
	if externalID != "" {
		st.Condition = map[string]ramKVs{"StringEquals": {"sts:ExternalId": {externalID}}}
	}
	return ramPolicy{Version: "1", Statement: []ramStatement{st}}
}

type ramPolicyConfig struct {
	Member     bool
	BaseUID    string
	ExternalID string
}

func newRAMPolicySettings(c *ramPolicyConfig) *settings {
	return newSettings("ram-policy", []setting{
		boolSetting("member", "", "print the policy of the RAM role in a member account and its trust policy instead", &c.Member),
		{flag: "base-uid", env: "RENEWBOT_BASE_UID", usage: "with --member: the ID of the account whose identity renewbot runs as (trusted to assume the role)",
			parse: func(s string) error {
				if s != "" && !reUID().MatchString(s) {
					return errors.New("is not an Alibaba Cloud account ID (digits)")
				}
				c.BaseUID = s
				return nil
			}},
		{flag: "external-id", env: "RENEWBOT_EXTERNAL_ID", usage: "with --member: the external_id the accounts file gives the role (the trust policy then requires it)",
			parse: func(s string) error { c.ExternalID = s; return nil }},
	})
}

func runRAMPolicy(_ context.Context, e env, args []string) error {
	var c ramPolicyConfig
	if err := newRAMPolicySettings(&c).parseNoArgs(args, e.getenv); err != nil {
		return err
	}
	var doc any = policy()
	if c.Member {
		if c.BaseUID == "" {
			return usageError{errors.New("--base-uid: is required with --member (the account renewbot's own credentials belong to)")}
		}
		doc = struct {
			RolePolicy  ramPolicy `json:"role_policy"`
			TrustPolicy ramPolicy `json:"trust_policy"`
		}{policy(), trustPolicy(c.BaseUID, c.ExternalID)}
	} else if c.BaseUID != "" || c.ExternalID != "" {
		return usageError{errors.New("--base-uid and --external-id go with --member")}
	}
	js, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(append(js, '\n'))
	return err
}

// ---- healthcheck

type healthcheckConfig struct {
	URL     string
	Timeout time.Duration
}

func newHealthcheckSettings(c *healthcheckConfig) *settings {
	return newSettings("healthcheck", []setting{
		{flag: "url", env: "RENEWBOT_HEALTHCHECK_URL", usage: "health URL (default: /healthz on RENEWBOT_LISTEN at 127.0.0.1)",
			parse: func(s string) error {
				if s == "" {
					return nil
				}
				u, err := url.Parse(s)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return errors.New("is not a URL like http://127.0.0.1:8080/healthz")
				}
				c.URL = s
				return nil
			}},
		{flag: "timeout", env: "RENEWBOT_HEALTHCHECK_TIMEOUT", def: "5s", usage: "give up after this long",
			parse: func(s string) (err error) { c.Timeout, err = parseDuration(s); return }},
	})
}

// healthURL is /healthz on the listen address, with an unspecified host made loopback.
func healthURL(listen string) string {
	i := strings.LastIndex(listen, ":")
	host, port := listen[:i], listen[i+1:]
	if host == "" || host == "0.0.0.0" || host == "::" || host == "[::]" {
		host = "127.0.0.1"
	}
	return "http://" + host + ":" + port + "/healthz"
}

func runHealthcheck(ctx context.Context, e env, args []string) error {
	var c healthcheckConfig
	if err := newHealthcheckSettings(&c).parseNoArgs(args, e.getenv); err != nil {
		return err
	}
	if c.URL == "" {
		listen := ":8080"
		if v := e.getenv("RENEWBOT_LISTEN"); v != "" {
			var err error
			if listen, err = parseListen(v); err != nil {
				return usageError{settingError("RENEWBOT_LISTEN", v, false, err)}
			}
		}
		c.URL = healthURL(listen)
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy (%s): %s", resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintln(e.stdout, strings.TrimSpace(string(body)))
	return nil
}
