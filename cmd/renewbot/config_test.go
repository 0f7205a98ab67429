package main

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
)

const (
	testBotToken = "xoxb-1111-s3cr3tbot"
	testSecret   = "signing-s3cr3tsign"
	testAppToken = "xapp-1-s3cr3tapp"
)

// baseEnv is the smallest valid serve environment.
func baseEnv() map[string]string {
	return map[string]string{
		"SLACK_BOT_TOKEN":      testBotToken,
		"SLACK_SIGNING_SECRET": testSecret,
		"RENEWBOT_APPROVERS":   "U0APPROVER",
	}
}

func getenvOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func loadServe(env map[string]string, args ...string) (serveConfig, error) {
	var c serveConfig
	if _, err := newServeSettings(&c).parse(args, getenvOf(env)); err != nil {
		return c, err
	}
	return c, c.validate()
}

func TestServeSettings_Defaults(t *testing.T) {
	c, err := loadServe(baseEnv())
	if err != nil {
		t.Fatal(err)
	}
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	checks := []struct {
		name      string
		got, want any
	}{
		{"SLACK_API_URL", c.Slack.APIURL, "https://slack.com/api/"},
		{"SLACK_APP_TOKEN", c.Slack.AppToken, ""},
		{"RENEWBOT_LISTEN", c.Listen, ":8080"},
		{"RENEWBOT_DB", c.DB, "renewbot.db"},
		{"RENEWBOT_REGIONS", len(c.ECS.Regions), 0},
		{"RENEWBOT_ECS_ENDPOINT", c.ECS.Endpoint, ""},
		{"RENEWBOT_APPROVERS", c.Policy.Approvers, []string{"U0APPROVER"}},
		{"RENEWBOT_DIGEST_CHANNEL", c.Digest.Channel, ""},
		{"RENEWBOT_DIGEST_SCHEDULE", c.Digest.Schedule, "0 9 * * *"},
		{"RENEWBOT_TIMEZONE", c.Digest.Loc.String(), shanghai.String()},
		{"RENEWBOT_WINDOW", c.Digest.Window, 30 * 24 * time.Hour},
		{"RENEWBOT_ROUTE_TAG", c.Digest.RouteTag, "renewbot-channel"},
		{"RENEWBOT_APPROVAL_TTL", c.Policy.TTL, 24 * time.Hour},
		{"RENEWBOT_MAX_PERIOD", c.Policy.MaxMonths, 12},
		{"RENEWBOT_APPROVALS_REQUIRED", c.Policy.Required, 1},
		{"RENEWBOT_SECOND_APPROVAL_ABOVE", c.Policy.SecondAbove, 0.0},
		{"RENEWBOT_MAX_AMOUNT", c.Policy.MaxAmount, 0.0},
		{"RENEWBOT_ALLOW_SELF_APPROVAL", c.Policy.AllowSelf, false},
		{"RENEWBOT_VERIFY_TIMEOUT", c.VerifyTimeout, 2 * time.Minute},
		{"RENEWBOT_SHUTDOWN_TIMEOUT", c.ShutdownTimeout, 30 * time.Second},
		{"RENEWBOT_LOG_LEVEL", c.LogLevel, slog.LevelInfo},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s default = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

// TestServeSettings covers every setting from the environment, from its flag (which wins),
// and malformed (an error naming the setting).
func TestServeSettings(t *testing.T) {
	tests := []struct {
		env     string
		flag    string
		raw     string // a good value
		check   func(c serveConfig) any
		want    any
		bad     string // a malformed value; "" = every value is accepted
		wantErr string // part of the error for bad
	}{
		{"SLACK_API_URL", "slack-api-url", "http://127.0.0.1:9/api", func(c serveConfig) any { return c.Slack.APIURL }, "http://127.0.0.1:9/api/", "ftp://x", "is not a URL"},
		{"RENEWBOT_LISTEN", "listen", "127.0.0.1:0", func(c serveConfig) any { return c.Listen }, "127.0.0.1:0", "8080", "is not a listen address"},
		{"RENEWBOT_DB", "db", "/data/x.db", func(c serveConfig) any { return c.DB }, "/data/x.db", "", ""},
		{"RENEWBOT_REGIONS", "regions", "cn-hangzhou, ap-southeast-1", func(c serveConfig) any { return c.ECS.Regions }, []string{"cn-hangzhou", "ap-southeast-1"}, "cn-hangzhou,Hangzhou", "not a region ID"},
		{"RENEWBOT_ECS_ENDPOINT", "ecs-endpoint", "127.0.0.1:18080", func(c serveConfig) any { return c.ECS.Endpoint }, "127.0.0.1:18080", "http://x/path", "is not an endpoint"},
		{"RENEWBOT_APPROVERS", "approvers", "U01,W02,S03ABC", func(c serveConfig) any { return c.Policy.Approvers }, []string{"U01", "W02", "S03ABC"}, "U01,@alice", "not a Slack user ID"},
		{"RENEWBOT_DIGEST_CHANNEL", "digest-channel", "C0123ABC", func(c serveConfig) any { return c.Digest.Channel }, "C0123ABC", "#ops", "is not a Slack channel ID"},
		{"RENEWBOT_DIGEST_SCHEDULE", "digest-schedule", "30 8 * * 1-5", func(c serveConfig) any { return c.Digest.Schedule }, "30 8 * * 1-5", "every day", "is not a cron schedule"},
		{"RENEWBOT_TIMEZONE", "timezone", "UTC", func(c serveConfig) any { return c.Digest.Loc.String() }, "UTC", "Mars/Olympus", "is not a time zone"},
		{"RENEWBOT_WINDOW", "window", "14d", func(c serveConfig) any { return c.Digest.Window }, 14 * 24 * time.Hour, "30x", `"30x" is not a window like 30d, 2w or 720h`},
		{"RENEWBOT_ROUTE_TAG", "route-tag", "team", func(c serveConfig) any { return c.Digest.RouteTag }, "team", "a b", "is not a tag key"},
		{"RENEWBOT_APPROVAL_TTL", "approval-ttl", "90m", func(c serveConfig) any { return c.Policy.TTL }, 90 * time.Minute, "-1h", "longer than zero"},
		{"RENEWBOT_MAX_PERIOD", "max-period", "6", func(c serveConfig) any { return c.Policy.MaxMonths }, 6, "61", "from 1 to 60"},
		{"RENEWBOT_APPROVALS_REQUIRED", "approvals-required", "2", func(c serveConfig) any { return c.Policy.Required }, 2, "3", "from 1 to 2"},
		{"RENEWBOT_SECOND_APPROVAL_ABOVE", "second-approval-above", "5000", func(c serveConfig) any { return c.Policy.SecondAbove }, 5000.0, "lots", "is not an amount"},
		{"RENEWBOT_MAX_AMOUNT", "max-amount", "20000.5", func(c serveConfig) any { return c.Policy.MaxAmount }, 20000.5, "-5", "is not an amount"},
		{"RENEWBOT_ALLOW_SELF_APPROVAL", "allow-self-approval", "true", func(c serveConfig) any { return c.Policy.AllowSelf }, true, "maybe", "is not true or false"},
		{"RENEWBOT_VERIFY_TIMEOUT", "verify-timeout", "5m", func(c serveConfig) any { return c.VerifyTimeout }, 5 * time.Minute, "soon", "is not a duration"},
		{"RENEWBOT_SHUTDOWN_TIMEOUT", "shutdown-timeout", "10s", func(c serveConfig) any { return c.ShutdownTimeout }, 10 * time.Second, "0", "longer than zero"},
		{"RENEWBOT_LOG_LEVEL", "log-level", "debug", func(c serveConfig) any { return c.LogLevel }, slog.LevelDebug, "loud", "is not one of debug"},
		{"SLACK_APP_TOKEN", "slack-app-token", testAppToken, func(c serveConfig) any { return c.Slack.AppToken }, testAppToken, "xoxb-s3cr3twrong", "must be an app-level token starting with xapp-"},
		{"SLACK_BOT_TOKEN", "slack-bot-token", "xoxb-2-s3cr3tother", func(c serveConfig) any { return c.Slack.BotToken }, "xoxb-2-s3cr3tother", "xoxp-s3cr3tuser", "must be a bot token starting with xoxb-"},
		{"SLACK_SIGNING_SECRET", "slack-signing-secret", "other-s3cr3t", func(c serveConfig) any { return c.Slack.SigningSecret }, "other-s3cr3t", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			env := baseEnv()
			env[tt.env] = tt.raw
			c, err := loadServe(env)
			if err != nil {
				t.Fatalf("env %s=%q: %v", tt.env, tt.raw, err)
			}
			if got := tt.check(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("env: got %v, want %v", got, tt.want)
			}

			// The flag wins over the environment.
			env[tt.env] = tt.bad
			if tt.bad == "" {
				delete(env, tt.env)
			}
			c, err = loadServe(env, "--"+tt.flag+"="+tt.raw)
			if err != nil {
				t.Fatalf("flag --%s=%q: %v", tt.flag, tt.raw, err)
			}
			if got := tt.check(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("flag: got %v, want %v", got, tt.want)
			}

			if tt.bad == "" {
				return
			}
			env[tt.env] = tt.bad
			_, err = loadServe(env)
			if err == nil {
				t.Fatalf("env %s=%q accepted", tt.env, tt.bad)
			}
			if !strings.HasPrefix(err.Error(), tt.env+":") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to start with %q and contain %q", err, tt.env+":", tt.wantErr)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error shows a secret: %q", err)
			}
			_, err = loadServe(baseEnv(), "--"+tt.flag+"="+tt.bad)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("flag --%s=%q: error %v, want %q", tt.flag, tt.bad, err, tt.wantErr)
			}
		})
	}
}

func TestServeSettings_Required(t *testing.T) {
	for _, tt := range []struct {
		unset, want string
		set         map[string]string
	}{
		{unset: "SLACK_BOT_TOKEN", want: "SLACK_BOT_TOKEN: is required"},
		{unset: "SLACK_SIGNING_SECRET", want: "SLACK_SIGNING_SECRET: is required (or set SLACK_APP_TOKEN"},
		{unset: "RENEWBOT_APPROVERS"}, // allowed: digests and lists work, nothing can be approved
		{unset: "SLACK_SIGNING_SECRET", set: map[string]string{"SLACK_APP_TOKEN": testAppToken}}, // Socket Mode needs no signing secret
		{unset: "", set: map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI-s3cr3tkey"}, want: "ALIBABA_CLOUD_ACCESS_KEY_SECRET: set both"},
		{unset: "", set: map[string]string{"RENEWBOT_SECOND_APPROVAL_ABOVE": "500", "RENEWBOT_MAX_AMOUNT": "100"}, want: "RENEWBOT_SECOND_APPROVAL_ABOVE: must be below"},
	} {
		env := baseEnv()
		delete(env, tt.unset)
		for k, v := range tt.set {
			env[k] = v
		}
		_, err := loadServe(env)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("without %s: %v", tt.unset, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("without %s: error %v, want %q", tt.unset, err, tt.want)
		case err != nil && strings.Contains(err.Error(), "s3cr3t"):
			t.Errorf("error shows a secret: %q", err)
		}
	}
}

func TestServeSettings_Credentials(t *testing.T) {
	env := baseEnv()
	env["ALIBABA_CLOUD_ACCESS_KEY_ID"] = "LTAIkey"
	env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = "secret"
	env["ALIBABA_CLOUD_SECURITY_TOKEN"] = "sts"
	c, err := loadServe(env)
	if err != nil {
		t.Fatal(err)
	}
	if c.ECS.AccessKeyID != "LTAIkey" || c.ECS.AccessKeySecret != "secret" || c.ECS.SecurityToken != "sts" {
		t.Errorf("credentials not passed: %+v", c.ECS)
	}
	c, err = loadServe(baseEnv())
	if err != nil {
		t.Fatal(err)
	}
	if c.ECS.AccessKeyID != "" || c.ECS.AccessKeySecret != "" {
		t.Errorf("empty credentials must leave the SDK's default chain: %+v", c.ECS)
	}
}

// TestRun_BadSettings runs the whole program: a bad setting stops start-up with exit 2, a
// message naming it, and no token anywhere in the output.
func TestRun_BadSettings(t *testing.T) {
	env := baseEnv()
	env["RENEWBOT_WINDOW"] = "30x"
	env["SLACK_APP_TOKEN"] = testAppToken
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"serve"}, getenvOf(env), strings.NewReader(""), &out, &errOut)
	if code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	want := `RENEWBOT_WINDOW: "30x" is not a window like 30d, 2w or 720h`
	if !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr %q, want %q", errOut.String(), want)
	}
	env["RENEWBOT_WINDOW"] = "30d"
	env["SLACK_BOT_TOKEN"] = "xoxp-s3cr3tuser"
	errOut.Reset()
	if code := run(context.Background(), []string{"serve"}, getenvOf(env), strings.NewReader(""), &out, &errOut); code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	if s := errOut.String() + out.String(); strings.Contains(s, "s3cr3t") || !strings.Contains(s, "SLACK_BOT_TOKEN: must be a bot token") {
		t.Errorf("output %q: want the setting named and no token", s)
	}
}

func TestParseDuration(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 720 * time.Hour, true},
		{"1d", 24 * time.Hour, true},
		{"720h", 720 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"1h30m", 90 * time.Minute, true},
		{"0d", 0, false},
		{"30", 0, false},
		{"30x", 0, false},
		{"d", 0, false},
		{"-3d", 0, false},
		{"", 0, false},
		{"99999d", 0, false},
	} {
		got, err := parseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParsePeriod(t *testing.T) {
	for in, ok := range map[string]bool{"1": true, "9": true, "12": true, "3m": true, "1y": true, "0": false, "10": false, "11": false, "13": false, "2y": false, "": false} {
		if _, err := renewal.ParsePeriod(in); (err == nil) != ok {
			t.Errorf("ParsePeriod(%q): err %v, want ok=%v", in, err, ok)
		}
	}
}

func TestSettings_PositionalAndFlagsInterleaved(t *testing.T) {
	var c renewConfig
	pos, err := newRenewSettings(&c).parse([]string{"i-abc123", "--period", "3", "--yes"}, getenvOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pos, []string{"i-abc123"}) || c.Period != 3 || !c.Yes {
		t.Errorf("pos %v period %d yes %v", pos, c.Period, c.Yes)
	}
	// --yes has no environment twin: nothing in the environment can approve a payment.
	c = renewConfig{}
	if _, err := newRenewSettings(&c).parse([]string{"i-abc123"}, getenvOf(map[string]string{"RENEWBOT_YES": "true"})); err != nil {
		t.Fatal(err)
	}
	if c.Yes {
		t.Error("RENEWBOT_YES must not confirm a renewal")
	}
}

func TestHelp_ListsEveryCommand(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"help"}, getenvOf(nil), nil, &out, &out); code != 0 {
		t.Fatalf("help exit %d", code)
	}
	for _, c := range commands() {
		if !strings.Contains(out.String(), "renewbot "+c.name) {
			t.Errorf("help lacks %s", c.name)
		}
		var o, e bytes.Buffer
		if code := run(context.Background(), []string{"help", c.name}, getenvOf(nil), nil, &o, &e); code != 0 {
			t.Errorf("help %s: exit %d: %s", c.name, code, e.String())
		}
	}
	var o, e bytes.Buffer
	run(context.Background(), []string{"help", "serve"}, getenvOf(nil), nil, &o, &e)
	for _, s := range []string{"--listen VALUE", "env RENEWBOT_LISTEN", "default :8080", "SLACK_BOT_TOKEN"} {
		if !strings.Contains(o.String(), s) {
			t.Errorf("help serve lacks %q", s)
		}
	}
}

func TestRun_BadInput(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"serve", "--no-such-flag"},
		{"expiring", "--format", "xml"},
		{"quote", "not-an-id"},
		{"renew", "i-abc123", "--period", "10"},
		{"autorenew", "set", "i-abc123"},
		{"autorenew", "set", "i-abc123", "--on", "--off"},
		{"autorenew", "set", "i-abc123", "--off", "--duration", "3"},
		{"autorenew", "get", "i-abc123", "--on"},
		{"autorenew", "set", "i-abc123", "--on", "--duration", "5"},
		{"history", "a", "b"},
		{"history", "xyz"},
		{"backup"},
		{"digest"},
		{"digest", "--dry-run", "--force"},
		{"slack-manifest"},
		{"slack-manifest", "--url", "http://insecure.example"},
		{"slack-manifest", "--url", "https://x.example", "--socket"},
		{"ram-policy", "extra"},
		{"version", "extra"},
		{"healthcheck", "--url", "nope"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), args, getenvOf(nil), strings.NewReader(""), &out, &errOut)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %q)", args, code, exitUsage, errOut.String())
		}
		if strings.TrimSpace(errOut.String()) == "" {
			t.Errorf("%q: no message", args)
		}
	}
}

// A window the digest cannot use is refused as a bad RENEWBOT_WINDOW, not later as a
// digest error that names no setting.
func TestServeSettings_WindowRange(t *testing.T) {
	for raw, want := range map[string]string{"400d": "at most 365d", "30m": "at least 1h"} {
		env := baseEnv()
		env["RENEWBOT_WINDOW"] = raw
		if _, err := loadServe(env); err == nil || !strings.HasPrefix(err.Error(), "RENEWBOT_WINDOW:") || !strings.Contains(err.Error(), want) {
			t.Errorf("RENEWBOT_WINDOW=%s: %v, want %q", raw, err, want)
		}
	}
	for _, raw := range []string{"1h", "365d", "8760h"} {
		env := baseEnv()
		env["RENEWBOT_WINDOW"] = raw
		if _, err := loadServe(env); err != nil {
			t.Errorf("RENEWBOT_WINDOW=%s: %v", raw, err)
		}
	}
}

// A store file that cannot be opened stops serve with a message naming RENEWBOT_DB.
func TestRun_StoreNotOpenable(t *testing.T) {
	env := baseEnv()
	env["RENEWBOT_DB"] = filepath.Join(t.TempDir(), "no-such-dir", "renewbot.db")
	env["RENEWBOT_LISTEN"] = "127.0.0.1:0"
	var out, errOut bytes.Buffer
	code := run(t.Context(), []string{"serve"}, getenvOf(env), strings.NewReader(""), &out, &errOut)
	if code == exitOK || !strings.Contains(errOut.String(), "RENEWBOT_DB: ") {
		t.Errorf("exit %d, stderr %q; want a failure naming RENEWBOT_DB", code, errOut.String())
	}
}
