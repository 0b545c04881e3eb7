package alertgate

import "time"

// A replay answers "what would this config change have paged, and whom?":
// it runs the stored history of ALERTS through the live config and a
// candidate, in memory, and compares what each would have sent with what
// NOTIFY recorded. These are its question and its answer, shared by the
// HTTP API, which answers it, and the command line, which prints it.

// ReplayQuery is what a replay is asked.
type ReplayQuery struct {
	// Since and Until bound the window counted: events (and re-checks)
	// whose arrival is in [Since, Until). Every stored event is decided,
	// so that the state is warm when the window starts.
	Since, Until time.Time
	// Limit bounds Differences and Findings (their totals stay exact).
	Limit int
	// IgnoreSilences decides as if no silence had existed.
	IgnoreSilences bool
}

// ReplayReport is a replay's answer.
type ReplayReport struct {
	Since          time.Time `json:"since"`
	Until          time.Time `json:"until"`
	IgnoreSilences bool      `json:"ignore_silences"`
	// Events is how many stored events were decided; InWindow how many of
	// them arrived in the window.
	Events   int64 `json:"events"`
	InWindow int64 `json:"in_window"`
	// Teams are, per team, what NOTIFY recorded in the window (Actual)
	// and what the candidate would have sent (Candidate).
	Teams map[string]ReplayTeam `json:"teams"`
	// Routes are the events of the window each route matched, under the
	// live config and under the candidate.
	Routes ReplayRoutes `json:"routes"`
	// Differences are the keys whose outcome in the window differs
	// between the live config and the candidate, by key, at most Limit.
	Differences      []ReplayDifference `json:"differences"`
	DifferencesTotal int                `json:"differences_total"`
	// Exact: replaying the live config made exactly the pages NOTIFY
	// recorded in the window (same IDs, same dedup_keys). Each page that
	// differs is a finding (at most Limit; FindingsTotal counts them all).
	Exact         bool            `json:"exact"`
	PagesCompared int             `json:"pages_compared"`
	Findings      []ReplayFinding `json:"findings"`
	FindingsTotal int             `json:"findings_total"`
	// Notes say what the replay could not take as given (the candidate's
	// runbooks_dir missing on the server, silences ignored, …).
	Notes   []string      `json:"notes,omitempty"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// ReplayTeam is one team's counts, actual and candidate.
type ReplayTeam struct {
	Actual    ReplayCounts `json:"actual"`
	Candidate ReplayCounts `json:"candidate"`
}

// ReplayCounts count the notifications of a window.
type ReplayCounts struct {
	Pages            int `json:"pages"`
	Resolves         int `json:"resolves"`
	BugNotifications int `json:"bug_notifications"`
	// Held counts pages and bug notifications held (a digest item with a
	// hold), HeldByReason by the hold's reason (HoldDigestOnly, …).
	Held         int            `json:"held"`
	HeldByReason map[string]int `json:"held_by_reason,omitempty"`
	// PagesWithoutRunbook are pages that carried no runbook.
	PagesWithoutRunbook int `json:"pages_without_runbook"`
}

// ReplayRoutes are the per-route event counts of both configs.
type ReplayRoutes struct {
	Actual    []ReplayRoute `json:"actual"`
	Candidate []ReplayRoute `json:"candidate"`
}

// ReplayRoute is one route and the events of the window it matched.
type ReplayRoute struct {
	// Route is "routes[2] {service=\"disk\"}".
	Route  string `json:"route"`
	Team   string `json:"team"`
	Notify string `json:"notify"`
	Events int64  `json:"events"`
}

// ReplayDifference is a key whose outcome differs.
type ReplayDifference struct {
	Key   string `json:"key"`
	Title string `json:"title"`
	// Actual and Candidate say what the key's events of the window made
	// under each config: "paged 2×, resolved 2× to payments".
	Actual    string `json:"actual"`
	Candidate string `json:"candidate"`
	// Rule is what in the candidate made the first difference:
	// "routes[2] notify: digest", "routes[0] {service=\"pay\"} matched
	// (was routes[3] {})", "inhibit_rules[1]", "dedup.flapping", …
	Rule string `json:"rule"`
}

// ReplayFinding is a page on which replaying the live config and NOTIFY
// disagree.
type ReplayFinding struct {
	// ID is the page's notification ID.
	ID       string `json:"id"`
	Key      string `json:"key"`
	DedupKey string `json:"dedup_key,omitempty"`
	Problem  string `json:"problem"`
}
