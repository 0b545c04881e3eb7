package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/alertgate/alertgate"
	"github.com/alertgate/alertgate/internal/httperr"
)

// maxInteractionBytes bounds an interaction's body: Slack's payloads of a
// block action are a few tens of KB (they carry the message).
const maxInteractionBytes = 1 << 20

// Audit trail action of a Slack button: "slack.acknowledge" …
const actionSlackPrefix = "slack."

// slackInteraction serves POST /v1/slack/interactions: a button pressed on
// a digest. The request must carry Slack's signature of its raw body with
// the signing secret, stamped within five minutes (slack-go's
// SecretsVerifier); otherwise it is 401 and nothing is done. Each action
// is durable before the 200 (Slack wants an answer within 3 seconds) and
// recorded in the audit trail with the Slack user.
func (s *Server) slackInteraction(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxInteractionBytes))
	if err != nil {
		s.Metrics.SlackActions.WithLabelValues("-", "refused").Inc()
		httperr.Write(w, alertgate.Errorf(alertgate.ETOOLARGE, "body over %d bytes", maxInteractionBytes))
		return
	}
	sv, err := slackapi.NewSecretsVerifier(r.Header, s.SlackSigningSecret)
	if err == nil {
		_, _ = sv.Write(body)
		err = sv.Ensure()
	}
	if err != nil {
		s.Metrics.SlackActions.WithLabelValues("-", "refused").Inc()
		s.Metrics.APIAuthFails.WithLabelValues("401").Inc()
		// slack-go's words (expired timestamp, missing headers, bad
		// signature) carry nothing secret.
		s.Logger.Warn("slack interaction refused: signature not valid", "err", err, "remote", r.RemoteAddr)
		httperr.Write(w, alertgate.Errorf(alertgate.EUNAUTHORIZED, "unauthorized"))
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("payload") == "" {
		s.Metrics.SlackActions.WithLabelValues("-", "refused").Inc()
		httperr.Write(w, alertgate.Errorf(alertgate.EINVALID, "body: want Slack's form with payload="))
		return
	}
	var cb slackapi.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		s.Metrics.SlackActions.WithLabelValues("-", "refused").Inc()
		httperr.Write(w, alertgate.Errorf(alertgate.EINVALID, "payload: not an interaction: %v", err))
		return
	}
	if cb.Type != slackapi.InteractionTypeBlockActions {
		// Nothing else is configured on the app: acknowledge and ignore.
		w.WriteHeader(http.StatusOK)
		return
	}
	name := cb.User.Name
	if name == "" {
		name = cb.User.Username
	}
	var errs []error
	for _, ba := range cb.ActionCallback.BlockActions {
		act := alertgate.SlackAction{ActionID: ba.ActionID, Value: ba.Value, UserID: cb.User.ID, UserName: name, ActionTS: ba.ActionTs}
		acted, err := s.SlackActions.Act(r.Context(), act)
		rec := alertgate.AuditRecord{At: s.now(), Actor: slackActor(name, cb.User.ID), Action: actionSlackPrefix + ba.ActionID, Target: acted.Target, Detail: acted.Detail}
		switch {
		case err == nil:
			s.Metrics.SlackActions.WithLabelValues(ba.ActionID, "ok").Inc()
		case alertgate.ErrorCode(err) == alertgate.EINTERNAL:
			s.Metrics.SlackActions.WithLabelValues(ba.ActionID, "failed").Inc()
			s.Logger.Error("slack action failed", "action", ba.ActionID, "user", cb.User.ID, "err", err)
			rec.Detail = "failed: " + alertgate.ErrorMessage(err)
			errs = append(errs, alertgate.WrapError(alertgate.EUNAVAILABLE, err, "%s not done: try again (the gateway log has the error)", ba.ActionID))
		default:
			s.Metrics.SlackActions.WithLabelValues(ba.ActionID, "refused").Inc()
			rec.Detail = "refused: " + alertgate.ErrorMessage(err)
			errs = append(errs, err)
		}
		if rec.Target == "" {
			rec.Target = "-"
		}
		s.record(r, rec)
	}
	if err := errors.Join(errs...); err != nil {
		// Slack shows the user an error for a non-200.
		httperr.Write(w, errs[0])
		return
	}
	w.WriteHeader(http.StatusOK)
}

// slackActor is how the audit trail names a Slack user.
func slackActor(name, id string) string {
	return "slack:" + strings.TrimPrefix(name, "@") + " (" + id + ")"
}
