package main

import (
	"bytes"
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// sourceFiles returns the non-test Go files of a package directory.
func sourceFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	out := map[string]string{}
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = string(b)
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return slices.Compact(s)
}

// ecsActionsInCode finds every SDK request the ecs package builds: ecsapi.Create<Action>Request().
func ecsActionsInCode(t *testing.T) []string {
	re := regexp.MustCompile(`\.Create(\w+)Request\(`)
	var found []string
	for _, src := range sourceFiles(t, "../../ecs") {
		for _, m := range re.FindAllStringSubmatch(src, -1) {
			found = append(found, m[1])
		}
	}
	return sorted(found)
}

// slackAPIMethods reads the method names of the bot.SlackAPI interface, the only way the bot
// reaches the Slack Web API.
func slackAPIMethods(t *testing.T) []string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../../bot/ports.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "SlackAPI" {
			return true
		}
		for _, m := range ts.Type.(*ast.InterfaceType).Methods.List {
			for _, id := range m.Names {
				names = append(names, id.Name)
			}
		}
		return false
	})
	if len(names) == 0 {
		t.Fatal("bot.SlackAPI not found in bot/ports.go")
	}
	return sorted(names)
}

func TestLists_MatchTheCode(t *testing.T) {
	if got, want := ecsActionsInCode(t), sorted(append(ecsActions(), bssActions()...)); !slices.Equal(got, want) {
		t.Errorf("ECS and BSS actions the code calls %v, ecsActions() and bssActions() %v", got, want)
	}

	var listed []string
	for _, m := range slackMethods() {
		listed = append(listed, m.GoName)
	}
	if got, want := slackAPIMethods(t), sorted(listed); !slices.Equal(got, want) {
		t.Errorf("bot.SlackAPI methods %v, slackMethods() %v", got, want)
	}
	// Every listed method is really called (else its scope is not needed), and the bot never
	// builds its own Slack client around the interface.
	bot := sourceFiles(t, "../../bot")
	all := ""
	for p, src := range bot {
		all += src
		if strings.Contains(src, "slack.New(") {
			t.Errorf("%s builds its own Slack client; the bot must use the injected SlackAPI", p)
		}
	}
	for _, m := range slackMethods() {
		if !strings.Contains(all, "."+m.GoName+"(") {
			t.Errorf("%s (%s, scope %s) is listed but never called in bot/", m.GoName, m.Method, m.Scope)
		}
	}
	// The slash command handler is what needs the "commands" scope.
	if !strings.Contains(all, "/slack/commands") && !strings.Contains(all, "SlashCommand") {
		t.Error("no slash command handling found in bot/, yet the manifest asks for the commands scope")
	}
}

func TestRAMPolicy_ReadBack(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"ram-policy"}, getenvOf(nil), nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var p struct {
		Version   string
		Statement []struct {
			Effect   string
			Action   []string
			Resource []string
		}
	}
	if err := json.Unmarshal(out.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p.Version != "1" || len(p.Statement) != 1 {
		t.Fatalf("policy %+v", p)
	}
	st := p.Statement[0]
	if st.Effect != "Allow" || !slices.Equal(st.Resource, []string{"*"}) {
		t.Errorf("statement %+v", st)
	}
	var want []string
	for _, a := range ecsActionsInCode(t) {
		want = append(want, ramAction(a))
	}
	if got := sorted(st.Action); !slices.Equal(got, sorted(want)) {
		t.Errorf("policy actions %v, code calls %v (exactly these, nothing else)", got, want)
	}
}

func TestSlackManifest_ReadBack(t *testing.T) {
	wantScopes := []string{"commands"}
	for _, m := range slackAPIMethods(t) {
		i := slices.IndexFunc(slackMethods(), func(sm slackMethod) bool { return sm.GoName == m })
		if i < 0 {
			t.Fatalf("bot.SlackAPI.%s has no scope in slackMethods()", m)
		}
		if sc := slackMethods()[i].Scope; sc != "" && !slices.Contains(wantScopes, sc) { // views.* need none
			wantScopes = append(wantScopes, sc)
		}
	}
	wantScopes = sorted(wantScopes)

	for _, tt := range []struct {
		args   []string
		socket bool
	}{
		{[]string{"slack-manifest", "--url", "https://renewbot.example.com/"}, false},
		{[]string{"slack-manifest", "--socket"}, true},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), tt.args, getenvOf(nil), nil, &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d: %s", tt.args, code, errOut.String())
		}
		var m struct {
			Features struct {
				SlashCommands []struct {
					Command string `json:"command"`
					URL     string `json:"url"`
				} `json:"slash_commands"`
			} `json:"features"`
			OAuthConfig struct {
				Scopes struct {
					Bot  []string `json:"bot"`
					User []string `json:"user"`
				} `json:"scopes"`
			} `json:"oauth_config"`
			Settings struct {
				Interactivity struct {
					IsEnabled  bool   `json:"is_enabled"`
					RequestURL string `json:"request_url"`
				} `json:"interactivity"`
				SocketModeEnabled bool `json:"socket_mode_enabled"`
			} `json:"settings"`
		}
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if got := sorted(m.OAuthConfig.Scopes.Bot); !slices.Equal(got, wantScopes) {
			t.Errorf("%v: bot scopes %v, want exactly %v", tt.args, got, wantScopes)
		}
		if len(m.OAuthConfig.Scopes.User) != 0 {
			t.Errorf("user scopes %v, want none", m.OAuthConfig.Scopes.User)
		}
		if len(m.Features.SlashCommands) != 1 || m.Features.SlashCommands[0].Command != "/renew" {
			t.Fatalf("slash commands %+v", m.Features.SlashCommands)
		}
		if !m.Settings.Interactivity.IsEnabled || m.Settings.SocketModeEnabled != tt.socket {
			t.Errorf("settings %+v", m.Settings)
		}
		wantCmd, wantInt := "https://renewbot.example.com/slack/commands", "https://renewbot.example.com/slack/interactions"
		if tt.socket {
			wantCmd, wantInt = "", ""
		}
		if m.Features.SlashCommands[0].URL != wantCmd || m.Settings.Interactivity.RequestURL != wantInt {
			t.Errorf("urls %q %q, want %q %q", m.Features.SlashCommands[0].URL, m.Settings.Interactivity.RequestURL, wantCmd, wantInt)
		}
	}
}

func TestHealthURL(t *testing.T) {
	for in, want := range map[string]string{
		":8080":          "http://127.0.0.1:8080/healthz",
		"0.0.0.0:9000":   "http://127.0.0.1:9000/healthz",
		"127.0.0.1:8081": "http://127.0.0.1:8081/healthz",
		"[::]:8080":      "http://127.0.0.1:8080/healthz",
	} {
		if got := healthURL(in); got != want {
			t.Errorf("healthURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"version"}, getenvOf(nil), nil, &out, &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.HasPrefix(out.String(), "renewbot dev (commit ") || !strings.Contains(out.String(), "go1.") {
		t.Errorf("version %q", out.String())
	}
}

func TestManifestInputs(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		wantErr string // "" = accepted
	}{
		{[]string{"--url", "https://a.example.com"}, ""},
		{[]string{"--url", "https://a.example.com/renewbot"}, ""}, // a path is fine
		{[]string{"--url", "https://a.example.com:8443/p/"}, ""},
		{[]string{"--url", "https://a.example.com/p ath"}, "needs escaping"},
		{[]string{"--url", "https://a.example.com/?x=1"}, "has a query"},
		{[]string{"--url", "https://a.example.com/#top"}, "has a fragment"},
		{[]string{"--url", "https://me@a.example.com"}, "user info"},
		{[]string{"--url", "http://a.example.com"}, "only calls HTTPS"},
		{[]string{"--url", "a.example.com"}, "only calls HTTPS"},
		{[]string{"--socket", "--command", "/renew-ecs_2"}, ""},
		{[]string{"--socket", "--command", "/Renew"}, "lowercase"},
		{[]string{"--socket", "--command", "/re new"}, "lowercase"},
		{[]string{"--socket", "--command", "renew"}, "a slash"},
		{[]string{"--socket", "--command", "/"}, "a slash"},
		{[]string{"--socket", "--command", "/" + strings.Repeat("r", 32)}, "a slash"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"slack-manifest"}, tt.args...), getenvOf(nil), nil, &out, &errOut)
		switch {
		case tt.wantErr == "" && code != 0:
			t.Errorf("%v: exit %d: %s", tt.args, code, errOut.String())
		case tt.wantErr != "" && code != 2:
			t.Errorf("%v: exit %d, want 2 (bad usage)", tt.args, code)
		case tt.wantErr != "" && !strings.Contains(errOut.String(), tt.wantErr):
			t.Errorf("%v: says %q, want it to say %q", tt.args, errOut.String(), tt.wantErr)
		case tt.wantErr != "" && out.Len() != 0:
			t.Errorf("%v: printed a manifest though refused: %s", tt.args, out.String())
		}
	}
}
