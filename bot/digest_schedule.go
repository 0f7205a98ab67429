package bot

import (
	"context"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// The digest, part 4: run it on a cron schedule, retrying a failed run.

// Schedule runs Run(ctx, false) at every time of spec, a standard 5-field cron spec (or a
// descriptor such as @daily) read in the digest's time zone, until ctx is done; then it
// returns nil. A bad spec is an error naming it. A failed run (ECS unreachable, a Slack
// error) is retried after 5 minutes, then 10, 20, 40 and hourly, until it succeeds or the
// next scheduled time comes; Run skips channels already posted and continues cut-off ones.
func (d *Digester) Schedule(ctx context.Context, spec string) error {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return fmt.Errorf("digest schedule %q is not a valid 5-field cron spec: %w", spec, err)
	}
	for {
		now := d.cfg.Now().In(d.cfg.Location)
		next := sched.Next(now)
		if next.IsZero() {
			return fmt.Errorf("digest schedule %q never fires", spec)
		}
		d.log.Debug("next digest", "at", next)
		if waitCtx(ctx, next.Sub(now)) != nil {
			return nil
		}
		_, err := d.run(ctx, false)
		for retry := scheduleRetryFirst; err != nil; retry = min(2*retry, scheduleRetryMax) {
			if now := d.cfg.Now(); !now.Add(retry).Before(sched.Next(now.In(d.cfg.Location))) {
				break // the next scheduled run comes first
			}
			d.log.Warn("scheduled digest failed; retrying", "in", retry, "err", err)
			if waitCtx(ctx, retry) != nil {
				return nil
			}
			_, err = d.run(ctx, false)
		}
		if err != nil {
			d.log.Error("scheduled digest failed", "err", err)
		}
	}
}

// Retries of a failed scheduled digest: the first after scheduleRetryFirst, doubling up to
// scheduleRetryMax.
const (
	scheduleRetryFirst = 5 * time.Minute
	scheduleRetryMax   = time.Hour
)
