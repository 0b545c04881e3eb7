package contract

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(), "..", "fixtures", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The published examples pass; bodies breaking each rule fail. A validator
// that accepted anything would fail the second half.
func TestPagerDuty(t *testing.T) {
	for _, name := range []string{"pagerduty_trigger.json", "pagerduty_resolve.json"} {
		if err := PagerDuty(fixture(t, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := map[string]string{
		// routing key must be 32 characters
		"short key": `{"routing_key":"abc","event_action":"resolve","dedup_key":"k"}`,
		// resolve needs a dedup_key
		"resolve without dedup_key": `{"routing_key":"e93facc04764012d7bfb002500d5d1a6","event_action":"resolve"}`,
		// trigger needs a payload
		"trigger without payload": `{"routing_key":"e93facc04764012d7bfb002500d5d1a6","event_action":"trigger"}`,
		// severity outside the enum
		"bad severity": `{"routing_key":"e93facc04764012d7bfb002500d5d1a6","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"fatal"}}`,
		// summary over 1024 characters
		"long summary": `{"routing_key":"e93facc04764012d7bfb002500d5d1a6","event_action":"trigger","payload":{"summary":"` + strings.Repeat("a", 1025) + `","source":"x","severity":"info"}}`,
		// timestamp must be RFC 3339
		"bad timestamp": `{"routing_key":"e93facc04764012d7bfb002500d5d1a6","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"info","timestamp":"yesterday"}}`,
	}
	for name, body := range bad {
		if err := PagerDuty([]byte(body)); err == nil {
			t.Errorf("%s: accepted, want rejected", name)
		}
	}
}

func TestSlack(t *testing.T) {
	if err := Slack(fixture(t, "slack_digest_webhook.json")); err != nil {
		t.Fatal(err)
	}
	bad := map[string]string{
		// text is always required
		"no text": `{"blocks":[]}`,
		// header text at most 150
		"long header": `{"text":"t","blocks":[{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("h", 151) + `"}}]}`,
		// section text at most 3000
		"long section": `{"text":"t","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"` + strings.Repeat("s", 3001) + `"}}]}`,
	}
	for name, body := range bad {
		if err := Slack([]byte(body)); err == nil {
			t.Errorf("%s: accepted, want rejected", name)
		}
	}
}
