package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

// TestDemo runs the README's first command end to end and checks its transcript.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"demo"}, func(string) string { return "" }, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("demo exited %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	got := out.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^== 1\. Daily digest`),
		regexp.MustCompile(`NotRenewal: will be RELEASED`),
		regexp.MustCompile(`(?m)^  #renewals \| \[Approve\] \[Reject\]$`),
		regexp.MustCompile(`only Alice sees: .*four-eyes`),
		regexp.MustCompile(`✅ order ` + "`" + `\d+` + "`" + ` · verified new expiry`),
		regexp.MustCompile(`(?m)^OrderId \d+  i-bp1demoweb01  3 Month`),
		regexp.MustCompile(`1 order\(s\) in all`),
		regexp.MustCompile(`U02BOB\s+approved`),
	} {
		if !want.MatchString(got) {
			t.Errorf("transcript lacks %v:\n%s", want, got)
		}
	}
	if strings.Contains(got, "<!date^") || strings.Contains(got, "<@U") {
		t.Errorf("transcript shows raw Slack escapes:\n%s", got)
	}
}

func TestDemoRejectsArguments(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"demo", "now"}, func(string) string { return "" }, strings.NewReader(""), &out, &errOut); code != exitUsage {
		t.Fatalf("demo now exited %d, want %d; stderr %s", code, exitUsage, errOut.String())
	}
	if !strings.Contains(errOut.String(), "takes no arguments") {
		t.Errorf("stderr = %q", errOut.String())
	}
}

func TestPlainMrkdwn(t *testing.T) {
	for in, want := range map[string]string{
		"<!date^1795717192^{date_short_pretty} {time}|2026-11-26 18:19 UTC>": "2026-11-26 18:19 UTC",
		"by <@U02BOB> in <#C0RENEW>":                                         "by @U02BOB in #C0RENEW",
		"web-1 &lt;prod&gt;":                                                 "web-1 <prod>",
	} {
		if got := plainMrkdwn(in); got != want {
			t.Errorf("plainMrkdwn(%q) = %q, want %q", in, got, want)
		}
	}
	lines := renderBlocks([]slack.Block{slack.NewDividerBlock()})
	if len(lines) != 1 {
		t.Errorf("divider rendered as %q", lines)
	}
}
