package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/bus"
	"github.com/alertgate/alertgate/dedup"
	"github.com/alertgate/alertgate/silences"
)

// Actions carries out the buttons pressed on a digest (web's
// POST /v1/slack/interactions calls Act once Slack's signature checks).
// Each action is durable before Act returns: the acknowledge a PagerDuty
// notification in NOTIFY, the silence in its bucket, the mute an event in
// ALERTS (decided by the policy as a source's own mute, so it shows in
// the class's history and lasts until the class regresses); then the
// digest's record takes the new state and its edit is published.
type Actions struct {
	Bus      *bus.Bus
	Messages *Messages
	Policy   *dedup.Policy
	Silences *silences.Store
	Logger   *slog.Logger
	Now      func() time.Time
}

// SilenceFor is how long Silence 1h silences.
const SilenceFor = time.Hour

// Act carries out one button press. Errors of the caller's input are
// alertgate.EINVALID or ENOTFOUND.
func (a *Actions) Act(ctx context.Context, act alertgate.SlackAction) (alertgate.SlackActed, error) {
	v, err := ParseButtonValue(act.Value)
	if err != nil {
		return alertgate.SlackActed{}, alertgate.Errorf(alertgate.EINVALID, "%v", err)
	}
	var rec *Message
	if v.Digest != "" {
		if rec, _, err = a.Messages.Get(ctx, v.Digest); err != nil {
			return alertgate.SlackActed{}, err
		}
	}
	if strings.HasPrefix(v.Key, "#") {
		if v, err = resolveRef(rec, v); err != nil {
			return alertgate.SlackActed{}, err
		}
	}
	who := act.UserName
	if who == "" {
		who = act.UserID
	}
	who = "@" + strings.TrimPrefix(who, "@")
	now := a.Now()
	acted := alertgate.SlackActed{Target: v.Key}
	var mark func(*ItemState)
	switch act.ActionID {
	case ActionAcknowledge:
		if acted.Detail, err = a.acknowledge(ctx, v, rec, who, now); err != nil {
			return acted, err
		}
		mark = func(st *ItemState) { st.AckedBy = who }
	case ActionSilence1h:
		var until time.Time
		if acted.Detail, until, err = a.silence(ctx, v, who, now); err != nil {
			return acted, err
		}
		mark = func(st *ItemState) { st.SilencedBy, st.SilencedTo = who, until }
	case ActionMute:
		if acted.Detail, err = a.mute(ctx, v, who, act.ActionTS, now); err != nil {
			return acted, err
		}
		mark = func(st *ItemState) { st.MutedBy = who }
	default:
		return acted, alertgate.Errorf(alertgate.EINVALID, "unknown action_id %q: want acknowledge, silence_1h or mute", act.ActionID)
	}
	if rec == nil {
		return acted, nil
	}
	// The press is done; showing it on the message is an edit like any.
	rec, changed, err := a.Messages.Change(ctx, rec.ID, func(m *Message) bool {
		setState(m, v.Key, mark)
		return true
	})
	if err == nil && changed && rec.Posted() {
		err = PublishUpdate(ctx, a.Bus, rec, act.ActionID+":"+act.ActionTS+":"+act.UserID, now)
	}
	if err != nil {
		a.Logger.Warn("slack action done, its digest not edited", "action", act.ActionID, "key", v.Key, "err", err)
	}
	return acted, nil
}

// resolveRef finds the key a button carried as a hash in its digest.
func resolveRef(rec *Message, v ButtonValue) (ButtonValue, error) {
	if rec == nil {
		return v, alertgate.Errorf(alertgate.ENOTFOUND, "the digest of this button is no longer kept: act in PagerDuty or the API")
	}
	for _, in := range rec.Digest.Opened {
		if KeyRef(in.Key) == v.Key {
			return ButtonValue{Digest: v.Digest, Key: in.Key, DedupKey: in.DedupKey}, nil
		}
	}
	for _, k := range rec.Keys() {
		if KeyRef(k) == v.Key {
			return ButtonValue{Digest: v.Digest, Key: k}, nil
		}
	}
	return v, alertgate.Errorf(alertgate.ENOTFOUND, "the digest lists no item %s", v.Key)
}

// acknowledge publishes PagerDuty's acknowledge of the episode. Its ID is
// the episode's: pressed twice, it is sent once.
func (a *Actions) acknowledge(ctx context.Context, v ButtonValue, rec *Message, who string, now time.Time) (string, error) {
	if v.DedupKey == "" {
		return "", alertgate.Errorf(alertgate.EINVALID, "the button names no PagerDuty dedup_key")
	}
	st, err := a.Policy.Incident(ctx, v.Key)
	if err != nil {
		return "", err
	}
	team := ""
	if st != nil {
		team = st.Team
	}
	if team == "" && rec != nil {
		team = rec.Team
	}
	if team == "" {
		return "", alertgate.Errorf(alertgate.ENOTFOUND, "no incident %s", v.Key)
	}
	n := alertgate.Notification{
		ID: "acknowledge:" + v.DedupKey, Sink: alertgate.SinkPagerDuty, Team: team, Type: alertgate.TypeAcknowledge,
		Key: v.Key, DedupKey: v.DedupKey, Reason: "acknowledged in Slack by " + who, CreatedAt: now,
	}
	if st != nil {
		n.Event.Title = st.Title
	}
	if _, err := a.Bus.PublishNotifications(ctx, []alertgate.Notification{n}); err != nil {
		return "", err
	}
	return "PagerDuty acknowledge of " + v.DedupKey, nil
}

// silence silences the incident's labels as its last event carried them,
// for SilenceFor.
func (a *Actions) silence(ctx context.Context, v ButtonValue, who string, now time.Time) (string, time.Time, error) {
	st, err := a.Policy.Incident(ctx, v.Key)
	if err != nil {
		return "", time.Time{}, err
	}
	if st == nil || len(st.Last.Labels) == 0 {
		return "", time.Time{}, alertgate.Errorf(alertgate.ENOTFOUND, "no labels known for incident %s", v.Key)
	}
	var ms []string
	for _, name := range slices.Sorted(maps.Keys(st.Last.Labels)) {
		m, err := labels.NewMatcher(labels.MatchEqual, name, st.Last.Labels[name])
		if err != nil {
			continue
		}
		ms = append(ms, m.String())
	}
	comment := "Silence 1h from the Slack digest"
	if v.Digest != "" {
		comment += " " + v.Digest
	}
	sil, err := a.Silences.Add(ctx, silences.Silence{Matchers: ms, StartsAt: now, EndsAt: now.Add(SilenceFor), CreatedBy: who, Comment: comment}, now)
	if inv, ok := errors.AsType[*silences.InvalidError](err); ok {
		return "", time.Time{}, alertgate.Errorf(alertgate.EINVALID, "silence of %s: %s", v.Key, inv.Error())
	}
	if err != nil {
		return "", time.Time{}, err
	}
	return fmt.Sprintf("silence %s until %s", sil.ID, sil.EndsAt.UTC().Format(time.RFC3339)), sil.EndsAt, nil
}

// mute stores the class's mute in ALERTS, as its source's ignore would be.
func (a *Actions) mute(ctx context.Context, v ButtonValue, who, actionTS string, now time.Time) (string, error) {
	st, err := a.Policy.Bug(ctx, v.Key)
	if err != nil {
		return "", err
	}
	if st == nil {
		return "", alertgate.Errorf(alertgate.ENOTFOUND, "no bug class %s", v.Key)
	}
	ev := alertgate.Event{
		ID: "slack-mute:" + v.Key + ":" + actionTS, Source: st.Source, Kind: alertgate.KindBug, Key: v.Key,
		Status: alertgate.StatusMuted, Severity: st.Severity, Title: st.Title, Service: st.Service,
		Labels: maps.Clone(st.Last.Labels), OccurredAt: now, ReceivedAt: now, Transition: "slack.mute by " + who,
	}
	ev.Finish()
	if _, err := a.Bus.PublishEvents(ctx, []alertgate.Event{ev}); err != nil {
		return "", err
	}
	return "muted until it regresses", nil
}
