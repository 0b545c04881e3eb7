package alertgate

import "time"

// AuditRecord is one admin action taken through the API (a dead-letter
// replay; later silences and config replays), as the audit trail keeps it.
// Actor is the name of the API token that acted, or "anonymous" when the
// API is open: never the token itself.
type AuditRecord struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	// Target is what the action was applied to ("*" for all of a kind).
	Target string `json:"target"`
	// Detail is its outcome, for a person to read.
	Detail string `json:"detail,omitempty"`
}

// SlackAction is a button pressed on a digest posted by alertgate's Slack
// app, verified as coming from Slack.
type SlackAction struct {
	// ActionID is the button's: "acknowledge", "silence_1h" or "mute".
	ActionID string
	// Value is the button's value: which digest and item it acts on.
	Value string
	// UserID and UserName are the Slack user who pressed it.
	UserID, UserName string
	// ActionTS is Slack's stamp of the press, unique per press.
	ActionTS string
}

// SlackActed is what a SlackAction did, for the audit trail.
type SlackActed struct {
	// Target is the incident or bug class key acted on.
	Target string
	// Detail says what was done ("silence 01J… until 11:42 UTC").
	Detail string
}
