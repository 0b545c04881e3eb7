package alertgate

import "time"

// DeadLetter is a notification its sink gave up on, as the DEADLETTER
// stream keeps it until someone replays it.
type DeadLetter struct {
	Seq          uint64        `json:"seq"`
	Reason       string        `json:"reason"`
	DeadAt       time.Time     `json:"dead_at"`
	State        DeliveryState `json:"state"` // dead, or the state after a replay
	Notification Notification  `json:"notification"`
}
