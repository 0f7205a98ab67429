package bot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
	"github.com/slack-go/slack"
)

// Forecaster computes every account's balance forecast (renewal.Forecast over its own scan,
// the balances and the prices of one automatic renewal). The Home tab shows it.
type Forecaster interface {
	Forecast(ctx context.Context, now time.Time) ([]renewal.AccountForecast, error)
}

// ScanForecaster computes every account's balance forecast of window from a scan already
// made, which reaches renewal.ForecastScanTo(now, window): the digest scans ECS once and
// takes both its rows and the forecast from that scan.
type ScanForecaster interface {
	ForecastScan(ctx context.Context, now time.Time, window time.Duration, scan ecs.Scan) ([]renewal.AccountForecast, error)
}

// forecastBlocks is the balance forecast of a digest summary: one line per account, and a
// loud warning per account whose balance does not cover the deductions at risk, naming the
// instances and their deduction dates; overdue deductions are flagged every day.
func forecastBlocks(fc []renewal.AccountForecast, err error, now time.Time, window time.Duration) []slack.Block {
	if err != nil {
		return []slack.Block{slack.NewSectionBlock(mrkdwn("⚠️ *The balance forecast could not be made*: "+escape(clipRunes(forSlack(err.Error()), 300))), nil, nil)}
	}
	if len(fc) == 0 {
		return nil
	}
	loc := now.Location()
	var lines []string
	var blocks []slack.Block
	for _, f := range fc {
		name := "Balance"
		if f.Account != "" {
			name = "*" + escape(f.Account) + "*: balance"
		}
		cur := f.Balance.Currency
		var line string
		if f.BalanceErr != nil {
			line = fmt.Sprintf("%s ⚠️ not readable (%s)", name, escape(clipRunes(forSlack(f.BalanceErr.Error()), 120)))
		} else {
			line = fmt.Sprintf("%s %s", name, renewal.Money(f.Balance.Available, cur))
		}
		line += fmt.Sprintf(" · auto-renew deductions %s within 9 days, %s within %s", renewal.Money(f.Next9Days, cur),
			renewal.Money(f.InWindow, cur), humanWindow(window))
		atRisk := f.AtRisk() // once per account: it copies the deductions at risk
		switch {
		case len(atRisk) > 0:
			line += " 🚨"
		case f.BalanceErr == nil && f.Next9Days > f.Balance.Available:
			line += " ⚠️ short within 9 days"
		case f.BalanceErr == nil:
			line += " ✅"
		}
		if f.Unpriced > 0 {
			line += fmt.Sprintf(" (%d not priced)", f.Unpriced)
		}
		lines = append(lines, line)

		var risk, overdue []string
		for _, d := range f.Deductions {
			if !d.Overdue && !d.AtRisk {
				continue
			}
			item := fmt.Sprintf("`%s` %s (%s, %s)", escape(d.Instance.ID), escape(clipRunes(nameOr(d.Instance.Name), 40)),
				renewal.FormatTime(d.At, loc), renewal.Money(d.Amount, d.Currency))
			if d.Overdue {
				overdue = append(overdue, item)
			}
			if d.AtRisk {
				risk = append(risk, item)
			}
		}
		who := "the account" // inside bold text: no nested *…*
		if f.Account != "" {
			who = "account " + escape(f.Account)
		}
		if len(risk) > 0 {
			by := atRisk[len(atRisk)-1].At
			var need float64
			for _, d := range f.Deductions {
				if d.Priced && (d.AtRisk || d.At.Before(by)) {
					need += d.Amount
				}
			}
			blocks = append(blocks, slack.NewSectionBlock(mrkdwn(clipRunes(fmt.Sprintf(
				"🚨 *AUTO-RENEW AT RISK: the balance of %s (%s) does not cover the automatic renewals due by %s (%s).* "+
					"Alibaba deducts 9 days before expiry at 08:00 UTC+8 and retries daily until the instance stops. "+
					"Top up at least %s, or renew these by hand: %s",
				who, renewal.Money(f.Balance.Available, f.Balance.Currency), renewal.FormatTime(by, loc),
				renewal.Money(need, f.Balance.Currency), renewal.Money(need-f.Balance.Available, f.Balance.Currency), strings.Join(risk, ", ")), sectionBudget)), nil, nil))
		}
		if len(overdue) > 0 {
			blocks = append(blocks, slack.NewSectionBlock(mrkdwn(clipRunes(fmt.Sprintf(
				"⚠️ *Automatic deduction not taken in %s*: its date passed and the expiry did not move (Alibaba retries daily): %s",
				who, strings.Join(overdue, ", ")), sectionBudget)), nil, nil))
		}
	}
	head := slack.NewSectionBlock(mrkdwn(clipRunes("💰 *Balance forecast*\n"+strings.Join(lines, "\n"), sectionBudget)), nil, nil)
	return append([]slack.Block{head}, blocks...)
}

// maxSummaryBlocks keeps a summary under Slack's 50 blocks per message.
const maxSummaryBlocks = 48

// addForecast puts the forecast in the summary of the default channel (of every channel when
// there is none).
func (p *DigestPlan) addForecast(defaultChannel string) {
	blocks := forecastBlocks(p.Forecast, p.ForecastErr, p.Now, p.Window)
	if len(blocks) == 0 {
		return
	}
	for i := range p.Channels {
		cd := &p.Channels[i]
		if defaultChannel != "" && cd.Channel != defaultChannel {
			continue
		}
		cd.Summary.Blocks = append(cd.Summary.Blocks, fitForecast(cd.Summary.Blocks, blocks)...)
		var risk []string
		for _, f := range p.Forecast {
			if n := len(f.AtRisk()); n > 0 {
				risk = append(risk, fmt.Sprintf("%d in %s", n, orDefault(f.Account)))
			}
		}
		if len(risk) > 0 {
			// The notification names a few accounts; the message itself has every warning.
			const shown = 5
			if len(risk) > shown {
				risk = append(risk[:shown], fmt.Sprintf("and %d more accounts", len(risk)-shown))
			}
			cd.Summary.Text = clipRunes(cd.Summary.Text+" · auto-renew at risk: "+strings.Join(risk, ", "), maxFallbackBudget)
		}
	}
}

// fitForecast is as much of the forecast's blocks (its head line, then a warning per
// account) as a summary can take within Slack's limits: at most maxSummaryBlocks blocks and
// messageBudget characters in all. When the warnings do not fit whole, each is clipped to an
// equal share of the room, so every account's warning keeps its amount to top up and its
// first instances (the rest are in `renewbot forecast`).
func fitForecast(summary, fc []slack.Block) []slack.Block {
	fc = fc[:min(len(fc), max(maxSummaryBlocks-len(summary), 0))]
	if len(fc) <= 1 {
		return fc
	}
	warnings := fc[1:]
	room := messageBudget - blocksText(summary) - blocksText(fc[:1])
	if blocksText(warnings) <= room {
		return fc
	}
	const least = 120 // a warning's first words: whose balance, by when, how much
	warnings = warnings[:min(len(warnings), max(room/least, 0))]
	out := []slack.Block{fc[0]}
	for _, b := range warnings {
		if s, ok := b.(*slack.SectionBlock); ok && s.Text != nil {
			b = slack.NewSectionBlock(mrkdwn(clipRunes(s.Text.Text, room/len(warnings))), nil, nil)
		}
		out = append(out, b)
	}
	return out
}

func orDefault(account string) string {
	if account == "" {
		return "the account"
	}
	return account
}

// where names a region, with its account when there are many ("shop:cn-hangzhou").
func where(account, region string) string {
	if account == "" {
		return region
	}
	return account + ":" + region
}

// balanceBlocks is what a pending renewal leaves of each account's balance, and a warning
// when that would not cover the automatic renewals due within 9 days.
func balanceBlocks(r *store.Request) []slack.Block {
	if r.Kind != store.KindRenew || len(r.Balances) == 0 {
		return nil
	}
	var lines []string
	for _, b := range r.Balances {
		who := "Balance"
		if b.Account != "" {
			who = "Balance of *" + escape(b.Account) + "*"
		}
		if b.Err != "" {
			lines = append(lines, fmt.Sprintf("💰 %s: not readable (%s)", who, escape(clipRunes(forSlack(b.Err), 150))))
			continue
		}
		var cost float64
		for _, it := range r.Items {
			if it.Account == b.Account {
				cost += it.Price
			}
		}
		after := b.Available - cost
		line := fmt.Sprintf("💰 %s %s → *%s after this renewal* · %s of automatic renewals due within 9 days",
			who, renewal.Money(b.Available, b.Currency), renewal.Money(after, b.Currency), renewal.Money(b.Due9Days, b.Currency))
		switch {
		case after < 0:
			line += "\n🚨 *The balance does not cover this renewal*: Alibaba will refuse the order (not enough balance) until it is topped up."
		case after < b.Due9Days:
			line += fmt.Sprintf("\n⚠️ *After this renewal the balance would not cover the automatic renewals due within 9 days* (short by %s): top up, or they fail on their deduction day.",
				renewal.Money(b.Due9Days-after, b.Currency))
		}
		lines = append(lines, line)
	}
	return []slack.Block{slack.NewSectionBlock(mrkdwn(clipRunes(strings.Join(lines, "\n"), sectionBudget)), nil, nil)}
}

// ForecastMetrics are the balance forecast's gauges, set at every forecast (the digest's):
// renewbot_account_balance{account,currency}, renewbot_auto_renew_deductions_9d{account} and
// renewbot_auto_renew_at_risk{account} (deductions the balance does not cover).
type ForecastMetrics struct {
	balance, due9, atRisk *prometheus.GaugeVec
}

// NewForecastMetrics registers the forecast's gauges with reg.
func NewForecastMetrics(reg prometheus.Registerer) *ForecastMetrics {
	m := &ForecastMetrics{
		balance: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "renewbot_account_balance",
			Help: "Available balance by account (QueryAccountBalance), at the last forecast."}, []string{"account", "currency"}),
		due9: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "renewbot_auto_renew_deductions_9d",
			Help: "Automatic renewals Alibaba will deduct within 9 days, by account."}, []string{"account"}),
		atRisk: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "renewbot_auto_renew_at_risk",
			Help: "Automatic renewals due soon that the balance does not cover, by account."}, []string{"account"}),
	}
	reg.MustRegister(m.balance, m.due9, m.atRisk)
	return m
}

// Set records a forecast. An account whose balance could not be read keeps no balance gauge.
func (m *ForecastMetrics) Set(fc []renewal.AccountForecast) {
	if m == nil {
		return
	}
	m.balance.Reset()
	for _, f := range fc {
		if f.BalanceErr == nil {
			m.balance.WithLabelValues(f.Account, f.Balance.Currency).Set(f.Balance.Available)
		}
		m.due9.WithLabelValues(f.Account).Set(f.Next9Days)
		m.atRisk.WithLabelValues(f.Account).Set(float64(len(f.AtRisk())))
	}
}
