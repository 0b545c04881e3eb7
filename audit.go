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
