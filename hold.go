package alertgate

// Hold reasons: why a page (or a bug notification) was held instead of
// sent. A held page is recorded, explained and shown, never dropped: the
// decision log, GET /v1/incidents, explain and the team's digest name it.
const (
	// HoldDigestOnly: the route says notify: digest; its incidents never page.
	HoldDigestOnly = "digest_only"
	// HoldSilenced: an active silence matches the event's labels.
	HoldSilenced = "silenced"
	// HoldInhibited: a firing incident matching an inhibit rule's source
	// matchers, with equal labels, holds this target.
	HoldInhibited = "inhibited"
	// HoldMutedTime: outside the route's active_time_intervals, or inside
	// one of its mute_time_intervals.
	HoldMutedTime = "muted_time"
	// HoldFlapping: the key is flapping; its episodes continue the open
	// PagerDuty incident, and its resolve waits for a quiet period.
	HoldFlapping = "flapping"
)

// Hold is why a page is held: its reason, what holds it (a silence id, the
// inhibiting incident's key, a time interval's name) and the words for it.
type Hold struct {
	Reason string `json:"reason"`
	// By names what holds: the silence's id (silenced), the inhibiting
	// incident's key (inhibited), the interval (muted_time), the route
	// (digest_only).
	By string `json:"by,omitempty"`
	// Rule is the config rule behind the hold, as "inhibit_rules[0]" or
	// "routes[2].mute_time_intervals", when there is one.
	Rule   string `json:"rule,omitempty"`
	Detail string `json:"detail"`
}

// Notify modes of a route.
const (
	NotifyPage   = "page"   // incidents page (the default)
	NotifyDigest = "digest" // incidents are listed in the team's digest, never paged
)
