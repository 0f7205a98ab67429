package bot

import "regexp"

// secretRefs matches what Slack must not show of a paid call: its ClientToken (the
// idempotency token, "rb-" and 33 hex digits, or after "ClientToken") and Alibaba's API
// request IDs ("RequestId X", "(RequestId X)", "requestId=X"), with the separator before
// them. They stay in the CLI's history and in the logs, for operators and Alibaba's support.
var secretRefs = regexp.MustCompile(`(?i)\s*\((?:client_?token|request_?id)[\s:=]+[a-z0-9_\-]+(?:,[a-z0-9_\-]+)*\)` +
	`|[,;]?\s*\b(?:client_?token|request_?id)\b[\s:=]+[a-z0-9_\-]+(?:,[a-z0-9_\-]+)*` +
	`|\s*\brb-[0-9a-f]{33}\b`)

// forSlack is s without ClientTokens and API request IDs: every audit detail and error text
// shown in Slack goes through it.
func forSlack(s string) string {
	return secretRefs.ReplaceAllString(s, "")
}
