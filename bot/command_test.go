package bot

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
)

func TestParseCommand(t *testing.T) {
	const a, b = "i-bp1abcdef", "i-bp2ghijkl"
	day := 24 * time.Hour
	tests := []struct {
		in   string
		want Command
	}{
		{"", Command{Verb: VerbHelp}},
		{"   ", Command{Verb: VerbHelp}},
		{"help", Command{Verb: VerbHelp}},
		{"HELP me", Command{Verb: VerbHelp}},
		{"list", Command{Verb: VerbList}},
		{"List 7d", Command{Verb: VerbList, Window: 7 * day}},
		{"list 2w", Command{Verb: VerbList, Window: 14 * day}},
		{"list 48h", Command{Verb: VerbList, Window: 48 * time.Hour}},
		{"list 10", Command{Verb: VerbList, Window: 10 * day}},
		{"list 365d", Command{Verb: VerbList, Window: 365 * day}},
		{"status " + a, Command{Verb: VerbStatus, InstanceIDs: []string{a}}},
		{"status " + a + "," + b, Command{Verb: VerbStatus, InstanceIDs: []string{a, b}}},
		{"STATUS  " + a + " ,  " + b + ", " + a, Command{Verb: VerbStatus, InstanceIDs: []string{a, b}}},
		{a, Command{Verb: VerbRenew, InstanceIDs: []string{a}, Months: 1}},
		{"I-BP1ABCDEF 3", Command{Verb: VerbRenew, InstanceIDs: []string{a}, Months: 3}},
		{a + ", " + b + " 3m", Command{Verb: VerbRenew, InstanceIDs: []string{a, b}, Months: 3}},
		{a + " " + b + " 9", Command{Verb: VerbRenew, InstanceIDs: []string{a, b}, Months: 9}},
		{a + " 1y", Command{Verb: VerbRenew, InstanceIDs: []string{a}, Months: 12}},
		{a + " 12M", Command{Verb: VerbRenew, InstanceIDs: []string{a}, Months: 12}},
		{a + " 3 Months", Command{Verb: VerbRenew, InstanceIDs: []string{a}, Months: 3}},
		{a + " 1 year", Command{Verb: VerbRenew, InstanceIDs: []string{a}, Months: 12}},
		{"renew " + a + " 2", Command{Verb: VerbRenew, InstanceIDs: []string{a}, Months: 2}},
		{"\t" + a + "\n6 ", Command{Verb: VerbRenew, InstanceIDs: []string{a}, Months: 6}},
		{"autorenew " + a + " on", Command{Verb: VerbAutoRenew, InstanceIDs: []string{a}, AutoRenew: store.AutoRenewOn, Duration: 1}},
		{"AutoRenew " + a + "," + b + " ON 12", Command{Verb: VerbAutoRenew, InstanceIDs: []string{a, b}, AutoRenew: store.AutoRenewOn, Duration: 12}},
		{"autorenew " + a + " on 2y", Command{Verb: VerbAutoRenew, InstanceIDs: []string{a}, AutoRenew: store.AutoRenewOn, Duration: 24}},
		{"autorenew " + a + " on 60m", Command{Verb: VerbAutoRenew, InstanceIDs: []string{a}, AutoRenew: store.AutoRenewOn, Duration: 60}},
		{"autorenew " + a + " off", Command{Verb: VerbAutoRenew, InstanceIDs: []string{a}, AutoRenew: store.AutoRenewOff}},
		{"autorenew " + a + " never", Command{Verb: VerbAutoRenew, InstanceIDs: []string{a}, AutoRenew: store.AutoRenewNever}},
		{"history", Command{Verb: VerbHistory}},
		{"history " + a, Command{Verb: VerbHistory, InstanceIDs: []string{a}}},
		{"history R0001ABCD", Command{Verb: VerbHistory, RequestID: "R0001ABCD"}},
		{"cancel R0001ABCD", Command{Verb: VerbCancel, RequestID: "R0001ABCD"}}, // issue 9 item 7
		{"cancel r0001abcd", Command{Verb: VerbCancel, RequestID: "R0001ABCD"}},
		// issue 12: ACCOUNT:ID picks the account; the ID is lowercased, the account kept as written
		{"shop:" + a + " 3", Command{Verb: VerbRenew, InstanceIDs: []string{"shop:" + a}, Months: 3}},
		{"renew Shop:I-BP1ABCDEF," + b, Command{Verb: VerbRenew, InstanceIDs: []string{"Shop:" + a, b}, Months: 1}},
		{"status prod:" + a + " shop:" + b, Command{Verb: VerbStatus, InstanceIDs: []string{"prod:" + a, "shop:" + b}}},
		{"autorenew prod:" + a + " off", Command{Verb: VerbAutoRenew, InstanceIDs: []string{"prod:" + a}, AutoRenew: store.AutoRenewOff}},
	}
	for _, tt := range tests {
		got, err := ParseCommand(tt.in)
		if err != nil {
			t.Errorf("ParseCommand(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseCommand(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		again, err := ParseCommand(got.String())
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", got.String(), again, err, got)
		}
	}
}

func TestParseCommandErrors(t *testing.T) {
	const a = "i-bp1abcdef"
	var many []string
	for i := range 21 {
		many = append(many, "i-abcdef"+string(rune('a'+i)))
	}
	tests := []struct{ in, want string }{
		{"frobnicate", `there is no command "frobnicate"`},
		{"list 0d", "longer than zero"},
		{"list 366d", "at most 365d"},
		{"list 400d", "at most 365d"},
		{"list 1m", "at least 1h"},
		{"list 7x", "not a window"},
		{"list 7d 8d", "one window"},
		{"status", "at least one instance ID"},
		{"status " + a + " 3", "only instance IDs"},
		{"status i-a", "not an ECS instance ID"},
		{"status i-abc_def12", "not an ECS instance ID"},
		{"status shop:i-a", "not an ECS instance ID"},
		{"status bad/acct:" + a, "not an ECS instance ID"},
		{"shop:i-x 3", "not an ECS instance ID"},
		{a + " 2y", "24 months is not possible"},
		{a + " 10", "10 months is not possible"},
		{a + " 0", "0 months is not possible"},
		{a + " 3w", "not a renewal period"},
		{a + " 3 4", `unexpected "4"`},
		{a + " soon", "not a renewal period"},
		{a + " 99999", "not a renewal period"},
		{"renew", "say which instances"},
		{strings.Join(many, ","), "at most 20"},
		{"autorenew", "needs instance IDs"},
		{"autorenew " + a, "needs `on`, `off` or `never`"},
		{"autorenew " + a + " maybe", "say `on`, `off` or `never`"},
		{"autorenew " + a + " on 4", "4 months is not possible"},
		{"autorenew " + a + " on 6y", "72 months is not possible"},
		{"autorenew " + a + " off 3", "takes nothing after it"},
		{"history " + a + " R123", "at most one"},
		{"history xyz!", "neither an instance ID"},
		{"cancel", "exactly one request ID"},
		{"cancel R0001ABCD R0002ABCD", "exactly one request ID"},
		{"cancel i-abcdef1", "not a request ID"},
		{strings.Repeat("x", 5000), "limit is 4000"},
	}
	for _, tt := range tests {
		_, err := ParseCommand(tt.in)
		if err == nil {
			t.Errorf("ParseCommand(%q): no error, want %q", tt.in, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseCommand(%q) = %q, want it to contain %q", tt.in, err, tt.want)
		}
		if !strings.HasSuffix(err.Error(), Usage) {
			t.Errorf("ParseCommand(%q): error does not end with the usage: %q", tt.in, err)
		}
	}
}

func TestVerbString(t *testing.T) {
	if VerbAutoRenew.String() != "autorenew" || Verb(42).String() != "Verb(42)" {
		t.Errorf("Verb.String: %q %q", VerbAutoRenew, Verb(42))
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"", "help", "list 7d", "status i-abcdef1", "i-abcdef1,i-abcdef2 3m", "i-abcdef1 1 year",
		"autorenew i-abcdef1 on 12", "autorenew i-abcdef1 never", "history R0001", "list 99999w", "i-ABCDEF1 ，i-x 2y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCommand(s)
		if err != nil {
			if !strings.HasSuffix(err.Error(), Usage) {
				t.Fatalf("error without usage: %q", err)
			}
			return
		}
		if len(c.InstanceIDs) > maxCommandIDs {
			t.Fatalf("%d IDs", len(c.InstanceIDs))
		}
		seen := map[string]bool{}
		for _, id := range c.InstanceIDs {
			if !ecs.IsInstanceID(id) || seen[id] {
				t.Fatalf("bad or repeated ID %q in %+v", id, c)
			}
			seen[id] = true
		}
		switch c.Verb {
		case VerbRenew:
			if !ecs.ValidRenewalPeriod(c.Months) || len(c.InstanceIDs) == 0 {
				t.Fatalf("renew %+v", c)
			}
		case VerbAutoRenew:
			if c.AutoRenew == store.AutoRenewOn && !ecs.ValidAutoRenewDuration(c.Duration) {
				t.Fatalf("autorenew %+v", c)
			}
		case VerbList:
			if c.Window < 0 || c.Window > renewal.MaxWindow {
				t.Fatalf("list %+v", c)
			}
		}
		again, err := ParseCommand(c.String())
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip %q → %+v → %q → %+v, %v", s, c, c.String(), again, err)
		}
	})
}
