package alertgate

// Match is where the route table sends an event and why: the team that
// owns it and the runbook its page carries. The policy (dedup) decides with
// it; explain prints it.
type Match struct {
	// Route is the index of the matching route in the config.
	Route    int    `json:"route"`
	Team     string `json:"team"`
	PageBugs bool   `json:"page_bugs"`
	// Runbook is nil when neither a runbook nor the source gives one.
	Runbook *Runbook `json:"runbook,omitempty"`
	// Notify is the route's mode: NotifyPage (also when empty) or NotifyDigest.
	Notify string `json:"notify,omitempty"`
	// Hold, when set, holds the page this event would make: the router
	// fills it in (route mode, time intervals, silences, inhibition) before
	// the policy decides.
	Hold *Hold `json:"hold,omitempty"`
	// KindWhy and RouteWhy say in words how kind and route were chosen.
	KindWhy  string `json:"kind_why"`
	RouteWhy string `json:"route_why"`
}
