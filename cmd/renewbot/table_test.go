package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/renewbot/renewbot/bot/renewal"
	"github.com/renewbot/renewbot/ecs"
	"github.com/renewbot/renewbot/store"
)

// tabwriterTable is the table as the CLI printed it before writeTable: through a tabwriter.
func tabwriterTable(header []string, rows [][]string, empty string) string {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if len(rows) == 0 {
		fmt.Fprintln(tw, empty)
	}
	tw.Flush()
	return b.String()
}

func TestWriteTableIsTabwriters(t *testing.T) {
	header := []string{"INSTANCE", "NAME", "REGION", "DAYS LEFT", "NOTE"}
	cases := map[string][][]string{
		"no rows": nil,
		"ascii": {
			{"i-bp1abc", "web-1", "cn-hangzhou", "3", "on (1 month(s))"},
			{"i-bp1abcdefghijkl", "", "cn-shanghai", "-12", ""},
		},
		"wide unicode": {
			{"i-bp1abc", "杭州-网站-服务器", "cn-hangzhou", "3", "ünïcödé ✓"},
			{"i-bp2", "🚀🚀", "ap-southeast-1", "30", "é"},
			{"i-bp3", "invalid \xfe utf-8", "eu", "1", "日本語"},
		},
		"a longer header": {{"i", "n", "r", "1", ""}},
		// cells the tabwriter reads as more than text: writeTable hands the table to it
		"tab in a cell":    {{"i-1", "a\tb", "r", "1", "x"}, {"i-22", "n", "r", "1", "y"}},
		"newline in cell":  {{"i-1", "a\nb", "r", "1", "x"}},
		"escape in a cell": {{"i-1", "a\xffb\xff", "r", "1", "x"}},
	}
	for name, rows := range cases {
		t.Run(name, func(t *testing.T) {
			var got bytes.Buffer
			err := writeTable(&got, header, len(rows), func(i int, cells []string) []string {
				return append(cells, rows[i]...)
			}, "(none)")
			if err != nil {
				t.Fatal(err)
			}
			if want := tabwriterTable(header, rows, "(none)"); got.String() != want {
				t.Errorf("got\n%q\nwant (tabwriter)\n%q", got.String(), want)
			}
		})
	}
}

// The expiring and history tables are the tabwriter's, and their JSON the json.Encoder's.
func TestPrintInstancesAndHistoryUnchanged(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	insts := []ecs.Instance{
		{ID: "i-bp1aaa", Name: "网站-1", RegionID: "cn-hangzhou", Status: "Running", ExpiredTime: now.Add(50 * time.Hour),
			AutoRenew: ecs.AutoRenew{Status: ecs.AutoRenewal, Duration: 3}},
		{ID: "i-bp1bbbbbbbbbbbbbb", Name: "<db>&", RegionID: "ap-southeast-1", Status: "Stopped", ExpiredTime: now.Add(-30 * time.Hour),
			AutoRenew: ecs.AutoRenew{Status: ecs.Normal}},
	}
	loc := time.FixedZone("UTC+8", 8*3600)
	for _, list := range [][]ecs.Instance{insts, nil} {
		var b bytes.Buffer
		if err := printInstances(&b, "table", list, now, loc); err != nil {
			t.Fatal(err)
		}
		var rows [][]string
		for _, in := range list {
			r := rowOf(in, now)
			rows = append(rows, []string{r.InstanceID, r.Name, r.RegionID, r.Status, renewal.FormatTime(r.ExpiredTime, loc),
				fmt.Sprint(r.DaysLeft), renewal.AutoRenewText(ecs.RenewalStatus(r.AutoRenew), r.AutoRenewDuration)})
		}
		want := tabwriterTable([]string{"INSTANCE", "NAME", "REGION", "STATUS", "EXPIRES", "DAYS LEFT", "AUTO-RENEW"}, rows, "(none)")
		if b.String() != want {
			t.Errorf("table of %d: got\n%s\nwant\n%s", len(list), b.String(), want)
		}

		b.Reset()
		if err := printInstances(&b, "json", list, now, loc); err != nil {
			t.Fatal(err)
		}
		all := make([]instanceRow, len(list))
		for i, in := range list {
			all[i] = rowOf(in, now)
		}
		if want := encoderJSON(t, all); b.String() != want {
			t.Errorf("json of %d: got\n%s\nwant\n%s", len(list), b.String(), want)
		}
	}

	evs := []store.Event{
		{Seq: 1, Time: now, Actor: "U123 (小明)", Action: store.ActDone, RequestID: "R1", InstanceIDs: []string{"i-1", "i-2"}, Detail: "two\nlines"},
		{Seq: 2, Time: now.Add(time.Minute), Actor: "renewbot", Action: store.ActDone},
	}
	for _, list := range [][]store.Event{evs, nil} {
		var b bytes.Buffer
		if err := printHistory(&b, "table", list, loc); err != nil {
			t.Fatal(err)
		}
		var rows [][]string
		for _, ev := range list {
			rows = append(rows, []string{renewal.FormatTime(ev.Time, loc), ev.Actor, string(ev.Action), string(ev.RequestID),
				strings.Join(ev.InstanceIDs, ","), strings.ReplaceAll(ev.Detail, "\n", " ")})
		}
		want := tabwriterTable([]string{"TIME", "ACTOR", "ACTION", "REQUEST", "INSTANCES", "DETAIL"}, rows, "(no events)")
		if b.String() != want {
			t.Errorf("history of %d: got\n%s\nwant\n%s", len(list), b.String(), want)
		}

		b.Reset()
		if err := printHistory(&b, "json", list, loc); err != nil {
			t.Fatal(err)
		}
		all := make([]eventRow, len(list))
		for i, ev := range list {
			all[i] = eventRowOf(ev)
		}
		if want := encoderJSON(t, all); b.String() != want {
			t.Errorf("history json of %d: got\n%s\nwant\n%s", len(list), b.String(), want)
		}
	}
}

func encoderJSON(t *testing.T, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
