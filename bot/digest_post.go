package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

// The digest, part 3: post a plan to Slack, paced, resumable after a crash.

// Run posts today's digest to every channel that has not had it yet (all of them when
// force): the summary, the pages as thread replies and the CSV in the thread, at most one
// post per Pace per channel. A 429 is waited out (Retry-After) and the same post sent again.
// Every post is recorded in the store as it succeeds. A channel that fails is not marked
// done, so the next run continues it where it stopped (force starts it over).
func (d *Digester) Run(ctx context.Context, force bool) (DigestReport, error) {
	if d.cfg.Slack == nil {
		return DigestReport{}, errors.New("digest: no Slack client")
	}
	plan, err := d.Plan(ctx)
	if err != nil {
		return DigestReport{}, err
	}
	if plan.ScanError != nil {
		rep := d.report(plan)
		for _, ch := range plan.Channels {
			ts, err := d.postMessage(ctx, d.newPacer(), ch.Channel, "", ch.Summary)
			rep.Channels = append(rep.Channels, ChannelReport{Channel: ch.Channel, TS: ts, Err: err})
			plan.ScanError = errors.Join(plan.ScanError, err)
		}
		return rep, plan.ScanError
	}
	rep, err := d.post(ctx, plan, force)
	if len(plan.Failed) == 0 {
		d.cfg.Metrics.ScanSucceeded(plan.Now)
	}
	return rep, err
}

// post sends a plan.
func (d *Digester) post(ctx context.Context, plan DigestPlan, force bool) (DigestReport, error) {
	rep := d.report(plan)
	var errs []error
	for _, ch := range plan.Channels {
		cr := ChannelReport{Channel: ch.Channel, Instances: len(ch.Items), Pages: len(ch.Pages)}
		cr.Skipped, cr.TS, cr.File, cr.CSVErr, cr.Err = d.postChannel(ctx, plan, ch, force)
		if cr.Err != nil {
			errs = append(errs, fmt.Errorf("digest for %s: %w", ch.Channel, cr.Err))
			d.log.Error("digest not posted", "channel", ch.Channel, "day", plan.Day, "err", cr.Err)
		}
		rep.Channels = append(rep.Channels, cr)
		if ctx.Err() != nil {
			break
		}
	}
	return rep, errors.Join(errs...)
}

// report is the part of a report the plan decides: the day, the regions not read and the
// instances left out.
func (d *Digester) report(plan DigestPlan) DigestReport {
	return DigestReport{Day: plan.Day, Failed: plan.Failed, Snoozed: plan.Snoozed, Unrouted: plan.Unrouted, RouteTag: d.cfg.RouteTag}
}

// postChannel posts one channel's digest, continuing from the progress the store recorded
// for the day: what is already in Slack (the summary, the first pages, the CSV) is not posted
// again, and every post is recorded before the next one. A CSV that Slack refuses for good
// (csvErr) is left out: the messages are what matters, and trying again would not help.
func (d *Digester) postChannel(ctx context.Context, plan DigestPlan, ch ChannelDigest, force bool) (skipped bool, ts, file string, csvErr, err error) {
	p, ok, err := d.cfg.Store.BeginDigest(ch.Channel, plan.Day, force)
	if err != nil || !ok {
		return err == nil, "", "", nil, err
	}
	if p != (store.DigestProgress{}) {
		d.log.Info("digest resumed", "channel", ch.Channel, "day", plan.Day, "summary_ts", p.TS, "pages_posted", p.Pages, "csv_posted", p.CSV)
	}
	step := func() error { return d.cfg.Store.DigestStep(ch.Channel, plan.Day, p) }
	start := d.cfg.Now()
	pc := d.newPacer()
	if p.TS == "" {
		ts, err := d.postMessage(ctx, pc, ch.Channel, "", ch.Summary)
		if err != nil {
			return false, "", "", nil, err
		}
		p.TS = ts
		if err := step(); err != nil {
			return false, ts, "", nil, err
		}
	}
	for i := p.Pages; i < len(ch.Pages); i++ {
		if _, err := d.postMessage(ctx, pc, ch.Channel, p.TS, ch.Pages[i]); err != nil {
			return false, p.TS, "", nil, fmt.Errorf("page %d of %d: %w", i+1, len(ch.Pages), err)
		}
		p.Pages = i + 1
		if err := step(); err != nil {
			return false, p.TS, "", nil, err
		}
	}
	if len(ch.CSV) > 0 && !p.CSV {
		file, err = d.upload(ctx, pc, ch.CSV, slack.UploadFileParameters{
			Filename: ch.CSVName, FileSize: len(ch.CSV), Channel: ch.Channel, ThreadTimestamp: p.TS,
			Title: fmt.Sprintf("ECS renewals digest %s (%s)", plan.Day, plural(len(ch.Items), "instance", "instances")),
		})
		switch {
		case err == nil:
		case permanentSlackError(err):
			why := slackErrText(err)
			if why == "transport" { // not a Slack error code: an answer slack-go could not use
				why = err.Error()
			}
			csvErr = fmt.Errorf("CSV not uploaded (%s); the digest is posted without it", why)
			d.log.Warn("digest CSV not uploaded", "channel", ch.Channel, "day", plan.Day, "err", err)
		default:
			return false, p.TS, "", nil, fmt.Errorf("CSV upload: %w", err)
		}
		p.CSV = true
		if err := step(); err != nil {
			return false, p.TS, file, csvErr, err
		}
	}
	if err := d.cfg.Store.FinishDigest(ch.Channel, plan.Day, p.TS, len(ch.Items)); err != nil {
		return false, p.TS, file, csvErr, err
	}
	d.cfg.Metrics.Digest(d.cfg.Now().Sub(start), ch.Channel, len(ch.Items))
	d.log.Info("digest posted", "channel", ch.Channel, "day", plan.Day, "instances", len(ch.Items), "pages", len(ch.Pages), "ts", p.TS)
	return false, p.TS, file, csvErr, nil
}

// permanentSlackError reports whether a failed Slack call should not be tried again: anything
// but a 5xx, a 429, a timeout or a network failure. That covers a method that is not there,
// a missing scope, a refused argument, and an answer slack-go cannot use (an upload whose
// completion lists no file), where trying again could share the file twice.
func permanentSlackError(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if _, ok := errors.AsType[*slack.RateLimitedError](err); ok {
		return false
	}
	if e, ok := errors.AsType[slack.StatusCodeError](err); ok {
		return e.Code >= 400 && e.Code < 500 && e.Code != http.StatusRequestTimeout && e.Code != http.StatusTooManyRequests
	}
	if e, ok := errors.AsType[slack.SlackErrorResponse](err); ok {
		switch e.Err {
		case "internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited":
			return false
		}
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return false
	}
	if _, ok := errors.AsType[*url.Error](err); ok {
		return false
	}
	return !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF)
}

func (d *Digester) postMessage(ctx context.Context, pc *pacer, channel, threadTS string, m DigestMessage) (string, error) {
	opts := []slack.MsgOption{slack.MsgOptionText(m.Text, false), slack.MsgOptionBlocks(m.Blocks...)}
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	var ts string
	err := d.retry(ctx, pc, "chat.postMessage", func() error {
		var err error
		_, ts, err = d.cfg.Slack.PostMessageContext(ctx, channel, opts...)
		return err
	})
	return ts, err
}

func (d *Digester) upload(ctx context.Context, pc *pacer, content []byte, params slack.UploadFileParameters) (string, error) {
	var id string
	err := d.retry(ctx, pc, "files.upload", func() error {
		params.Reader = bytes.NewReader(content)
		f, err := d.cfg.Slack.UploadFileContext(ctx, params)
		if f != nil {
			id = f.ID
		}
		return withoutURL(err) // the upload_url carries a one-time ticket
	})
	return id, err
}

// retry runs one paced post, again after Retry-After (at least 1s) when Slack answers 429.
func (d *Digester) retry(ctx context.Context, pc *pacer, method string, post func() error) error {
	wait := func(ctx context.Context, retryAfter time.Duration) error {
		d.log.Warn("Slack rate limit; waiting", "method", method, "retry_after", retryAfter)
		return waitCtx(ctx, max(retryAfter, time.Second))
	}
	err := retryRateLimited(ctx, wait, d.cfg.Metrics, method, digestAttempts, func() error {
		if err := pc.wait(ctx); err != nil {
			return err
		}
		err := post()
		pc.mark()
		return err
	})
	if err != nil && ctx.Err() == nil {
		recordSlackError(d.cfg.Metrics, method, err)
	}
	return err
}

// pacer keeps posts to one channel at least gap apart, on the digest's clock.
type pacer struct {
	gap  time.Duration
	now  func() time.Time
	last time.Time
}

func (d *Digester) newPacer() *pacer { return &pacer{gap: d.cfg.Pace, now: d.cfg.Now} }

func (p *pacer) wait(ctx context.Context) error {
	if p.last.IsZero() {
		return ctx.Err()
	}
	return waitCtx(ctx, p.gap-p.now().Sub(p.last))
}

func (p *pacer) mark() { p.last = p.now() }
