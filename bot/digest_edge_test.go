package bot

import (
	"net/http"
	"strings"
	"testing"

	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/ecs/ecssim"
)

// A Slack that cannot take files (files.* not implemented, or the files:write scope missing)
// refuses every upload the same way: the digest's messages are posted once, the day counts
// as done with the CSV left out, and the next run neither reposts nor tries the upload again.
// A failure that may pass (5xx) still leaves the day open (TestDigestCSVFailureResumesWithTheCSVOnly).
func TestDigestCSVRefusedForGood(t *testing.T) {
	for name, refuse := range map[string]func(e *digestEnv){
		"files.* not implemented": func(e *digestEnv) { e.slack.FailNext("files.getUploadURLExternal", http.StatusNotFound, 0) },
		"missing scope":           func(e *digestEnv) { e.slack.ErrorNext("files.getUploadURLExternal", "missing_scope") },
	} {
		t.Run(name, func(t *testing.T) {
			e := newDigestEnv(t, ecssim.Fleet{Balance: 1, Instances: []ecssim.FleetInstance{
				simInstance("i-soon000001", "cn-hangzhou", 2, ecs.Normal, nil),
				simInstance("i-week000002", "cn-hangzhou", 6, ecs.NotRenewal, nil),
			}}, []string{"cn-hangzhou"})
			ctx := t.Context()
			refuse(e)
			rep, err := e.digester(t, nil).Run(ctx, false)
			if err != nil || len(rep.Channels) != 1 || rep.Channels[0].TS == "" || rep.Channels[0].File != "" {
				t.Fatalf("run: %+v %v; want posted, without a file", rep, err)
			}
			if cerr := rep.Channels[0].CSVErr; cerr == nil || !strings.Contains(cerr.Error(), "CSV") {
				t.Errorf("report CSVErr %v, want why the CSV is missing", cerr)
			}
			if n := len(postsOf(t, e.slack)); n != 2 {
				t.Errorf("%d posts, want the summary and one page", n)
			}
			if evs := digestEvents(t, e.db); len(evs) != 1 {
				t.Errorf("digest events %+v, want the day recorded as done", evs)
			}
			uploads := len(e.slack.CallsOf("files.getUploadURLExternal"))
			rep, err = e.digester(t, nil).Run(ctx, false)
			if err != nil || !rep.Channels[0].Skipped {
				t.Errorf("second run: %+v %v, want skipped", rep, err)
			}
			if n := len(postsOf(t, e.slack)); n != 2 || len(e.slack.CallsOf("files.getUploadURLExternal")) != uploads {
				t.Errorf("second run posted again (%d posts) or tried the upload again", n)
			}
		})
	}
}
