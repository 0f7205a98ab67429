package main

// The operator CLI's renew, align and autorenew set: all run through the renewal workflow, on the
// store file when it is free, through the running bot's admin socket when serve holds it.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/store"
)

// operatorCall is an operator's renew, align or autorenew set, as it crosses the admin socket.
type operatorCall struct {
	Actor       string              `json:"actor"`
	InstanceIDs []string            `json:"instance_ids"`
	Months      int                 `json:"months,omitempty"`   // renew
	Day         int                 `json:"day,omitempty"`      // align: ExpectedRenewDay
	Mode        store.AutoRenewMode `json:"mode,omitempty"`     // autorenew
	Duration    int                 `json:"duration,omitempty"` // autorenew on
}

// operatorResult is how the request ended, or why none was made.
type operatorResult struct {
	Request *store.Request `json:"request,omitempty"`
	Error   string         `json:"error,omitempty"`
}

// operatorActor is the audit actor of the CLI: "cli:" and the OS user.
func operatorActor(getenv func(string) string) string { return "cli:" + operatorName(getenv) }

// runAsOperator runs local on a workflow over the store file, or sends call to path on the
// admin socket when serve holds the file. It returns the request as it ended (nil: none was
// made) and the workflow's error; err is set only when neither could be reached.
func runAsOperator(ctx context.Context, e env, dbPath, path string, call operatorCall,
	local func(*renewal.Workflow) (*store.Request, error), cl renewal.Cloud, verifyTimeout time.Duration,
) (r *store.Request, runErr, err error) {
	err = withStore(ctx, dbPath, true,
		func(db *store.DB) error {
			wf, err := renewal.NewWorkflow(renewal.WorkflowConfig{Cloud: cl, Store: db,
				Log: newLogger(e.stderr, slog.LevelError), VerifyTimeout: verifyTimeout})
			if err != nil {
				return err
			}
			r, runErr = local(wf)
			return nil
		},
		func(hc *http.Client) error {
			fmt.Fprintln(e.stderr, "renewbot serve is running on this store: asking it to run this (its settings apply)")
			body, err := json.Marshal(call)
			if err != nil {
				return err
			}
			resp, err := adminDo(ctx, hc, http.MethodPost, path, nil, bytes.NewReader(body))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var res operatorResult
			if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
				return fmt.Errorf("running renewbot: %w", err)
			}
			r = res.Request
			if res.Error != "" {
				runErr = errors.New(res.Error)
			}
			return nil
		})
	return r, runErr, err
}

// reportOperatorRun prints how an operator's request ended, like the bot says it in Slack:
// per instance renewed (OrderId, verified expiry) or changed, not done (why), or unknown.
// The error is nil when every instance is done, wraps errUnknown (exit 3) when the outcome
// of one is not known yet, and says why otherwise.
func reportOperatorRun(e env, r *store.Request, runErr error, loc *time.Location) error {
	if r == nil {
		if runErr == nil {
			runErr = errors.New("no request was made")
		}
		return fmt.Errorf("not done: %w", runErr)
	}
	renew := r.Kind == store.KindRenew
	var failed, unknown []string
	for _, it := range r.Items {
		switch {
		case it.State == store.ItemDone && renew:
			order := "OrderId " + it.OrderID
			if it.OrderID == "" {
				order = "its answer was lost, the new expiry shows it"
			}
			fmt.Fprintf(e.stdout, "renewed: %s, %s (request %s)\n", it.InstanceID, order, r.ID)
			fmt.Fprintf(e.stdout, "verified: %s now expires %s\n", it.InstanceID, renewal.FormatTime(it.NewExpiry, loc))
		case it.State == store.ItemDone:
			fmt.Fprintf(e.stdout, "%s: auto-renew set to %s (request %s, RequestId %s)\n", it.InstanceID,
				renewal.AutoRenewText(renewal.TargetStatus(r.AutoRenew), r.Duration), r.ID, it.APIRequestID)
		case it.State == store.ItemSuperseded: // the expiry moved before the call: nothing sent
			fmt.Fprintf(e.stdout, "not renewed: %s: %s\n", it.InstanceID, it.Error)
			failed = append(failed, it.InstanceID)
		case it.State == store.ItemFailed && it.OrderID == "" && !it.Unclear:
			fmt.Fprintf(e.stdout, "not done: %s: %s\n", it.InstanceID, it.Error)
			failed = append(failed, it.InstanceID)
		default:
			why := it.Error
			if why == "" {
				why = "no answer yet (" + it.State.String() + ")"
			}
			if it.OrderID != "" {
				why = "OrderId " + it.OrderID + ": " + why
			}
			fmt.Fprintf(e.stdout, "unknown: %s: %s\n", it.InstanceID, why)
			unknown = append(unknown, it.InstanceID)
		}
	}
	switch {
	case len(unknown) > 0 || (runErr != nil && !r.State.Terminal()):
		if len(unknown) == 0 {
			unknown = r.InstanceIDs()
		}
		if runErr != nil {
			fmt.Fprintf(e.stderr, "interrupted: %v\n", runErr)
		}
		return fmt.Errorf("%w for %s: request %s is still being checked; see `renewbot history %s` and the console; do not run it again",
			errUnknown, strings.Join(unknown, ", "), r.ID, r.ID)
	case len(failed) > 0:
		return fmt.Errorf("not done for %s (request %s)", strings.Join(failed, ", "), r.ID)
	}
	return nil
}
