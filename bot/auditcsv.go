package bot

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/renewbot/renewbot/store"
)

// AuditCSVHeader is the header row of the audit CSV.
var AuditCSVHeader = []string{"seq", "time_utc", "actor", "action", "request_id", "instance_ids", "detail", "hash"}

// WriteAuditCSV writes events as CSV, one row per event in the given order, for auditors and
// spreadsheets: times in UTC (RFC 3339, nanoseconds), instance IDs joined by ";", and the
// chain hash of each event. A cell that a spreadsheet would run as a formula gets a leading
// "'". forSlackChannel drops ClientTokens and API request IDs from the details, as everything
// shown in Slack does; the hashes are then those of the full records, which
// `renewbot history --verify` checks on the server.
func WriteAuditCSV(w io.Writer, events []store.Event, forSlackChannel bool) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(AuditCSVHeader); err != nil {
		return err
	}
	for _, ev := range events {
		detail := ev.Detail
		if forSlackChannel {
			detail = forSlack(detail)
		}
		if err := cw.Write([]string{strconv.FormatUint(ev.Seq, 10), ev.Time.UTC().Format(time.RFC3339Nano), csvSafe(ev.Actor),
			csvSafe(string(ev.Action)), csvSafe(string(ev.RequestID)), csvSafe(strings.Join(ev.InstanceIDs, ";")), csvSafe(detail), ev.Hash}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
