// Package sentry turns Sentry webhooks into alertgate events. It owns the
// Sentry part of the ingest contract in DESIGN.md:
//
//   - Parse normalizes an integration-platform webhook, chosen by its
//     Sentry-Hook-Resource header: issue, event_alert and error become bug
//     events, metric_alert becomes incident events, installation and comment
//     are accepted and ignored;
//   - ParseLegacy normalizes the legacy WebHooks plugin payload;
//   - VerifySignature, CheckSignature and CheckTimestamp check the
//     Sentry-Hook-Signature and Sentry-Hook-Timestamp headers.
//
// Identity. Every payload that speaks of one Sentry issue yields the same bug
// Key, "sentry:v1:issue:<issue id>", whether it is an issue webhook (created,
// resolved, ignored, unresolved), an event_alert, an error or a legacy plugin
// delivery. The key carries no organization: Sentry sends the issue's URLs
// only with issue.created, while resolved/ignored/assigned/unresolved carry a
// bare serialized issue (no url, web_url or permalink) and the legacy plugin
// carries no installation, so no organization field is present in all of
// them. A metric alert is the incident "sentry:v1:<organization>:metric_alert:<alert rule id>"
// whose episode is the Sentry incident id (data.metric_alert.id).
//
// Delivery IDs (the Nats-Msg-Id) are described at Parse.
package sentry

import (
	"strings"

	"github.com/alertgate/alertgate"
)

// Header names Sentry sets on integration-platform webhooks.
const (
	// HeaderResource names the kind of payload: issue, event_alert, error,
	// metric_alert, installation or comment.
	HeaderResource = "Sentry-Hook-Resource"
	// HeaderSignature is the hex HMAC-SHA256 of the raw body keyed by the
	// integration's client secret.
	HeaderSignature = "Sentry-Hook-Signature"
	// HeaderTimestamp is the time of sending in unix seconds.
	HeaderTimestamp = "Sentry-Hook-Timestamp"
)

// keyPrefix versions every key this package builds; change it only together
// with a migration of the router's state.
const keyPrefix = "sentry:v1:"

// Parse normalizes one Sentry integration-platform webhook. resource is the
// Sentry-Hook-Resource header and body the raw request body.
//
// It returns no events and a nil error for payloads that are accepted but
// carry nothing to route: installation and comment webhooks and the issue
// action "assigned". Bad input returns an *alertgate.Error with code
// EINVALID whose message names the header or the JSON field path and the
// problem ("data.issue.id: missing"). Every returned event passes Validate.
//
// Event IDs are stable across Sentry's retries of one delivery and differ
// between deliveries:
//   - event_alert and error: "sentry:event:<event_id>"; one Sentry event is one
//     occurrence, so the same event delivered as an error, an event_alert of
//     several rules and through the legacy plugin is stored once;
//   - issue: "sentry:issue:<issue id>:<action>:<hash>" where hash covers the
//     action, status, substatus, statusDetails, lastSeen, count and actor.
//     Sentry re-serializes the issue on a retry, so a retry after a new event
//     of the issue is stored again (one extra occurrence, never a lost one);
//     two identical transitions with no new event in between (resolved,
//     unresolved, resolved by the same actor) collapse within the duplicate
//     window;
//   - metric_alert: "sentry:metric_alert:<incident id>:<action>:<time>" where
//     time is date_closed for resolved (when set), else date_detected; a
//     re-sent critical of one incident is one message.
func Parse(resource string, body []byte) ([]alertgate.Event, error) {
	switch r := strings.ToLower(strings.TrimSpace(resource)); r {
	case "issue":
		return parseIssue(body)
	case "event_alert":
		return parseOccurrence(body, "event_alert", "triggered")
	case "error":
		return parseOccurrence(body, "error", "created")
	case "metric_alert":
		return parseMetricAlert(body)
	case "installation", "comment":
		// Accepted and ignored, but still a JSON object: a garbled body is a
		// 400 whatever the resource.
		var obj struct{}
		if err := decode(body, &obj); err != nil {
			return nil, err
		}
		return []alertgate.Event{}, nil
	case "":
		return nil, alertgate.Errorf(alertgate.EINVALID, "%s: missing", HeaderResource)
	default:
		return nil, alertgate.Errorf(alertgate.EINVALID,
			"%s: %q is not one of issue, event_alert, error, metric_alert, installation, comment",
			HeaderResource, clip(r))
	}
}

// issueKey is the bug class of one Sentry issue (see the package comment for
// why it has no organization).
func issueKey(issueID string) string { return keyPrefix + "issue:" + issueID }

// eventID is the delivery ID of one Sentry event, shared by error,
// event_alert and legacy plugin deliveries of it.
func eventID(id string) string { return "sentry:event:" + id }
