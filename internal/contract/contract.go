// Package contract validates request bodies against the published API
// contracts of PagerDuty's Events API v2, Slack's incoming webhooks and
// Slack's chat.postMessage and chat.update (JSON Schemas in testdata/contracts), for the loopback servers tests use
// in place of the real services.
package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Size limits the schemas cannot express.
const (
	PagerDutyMaxBody = 512 * 1024
)

var (
	once    sync.Once
	schemas map[string]*jsonschema.Schema
	loadErr error
)

// Dir is where the schemas live (the repo's testdata/contracts).
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "contracts")
}

func load() {
	schemas = map[string]*jsonschema.Schema{}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for name, file := range map[string]string{
		"pagerduty":        "pagerduty-events-v2.schema.json",
		"slack":            "slack-webhook.schema.json",
		"chat.postMessage": "slack-chat-postmessage.schema.json",
		"chat.update":      "slack-chat-update.schema.json",
	} {
		path := filepath.Join(Dir(), file)
		f, err := os.Open(path)
		if err != nil {
			loadErr = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			loadErr = fmt.Errorf("%s: %w", path, err)
			return
		}
		if err := c.AddResource(path, doc); err != nil {
			loadErr = err
			return
		}
		s, err := c.Compile(path)
		if err != nil {
			loadErr = fmt.Errorf("%s: %w", path, err)
			return
		}
		schemas[name] = s
	}
}

func validate(name string, body []byte) error {
	once.Do(load)
	if loadErr != nil {
		return loadErr
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("body is not JSON: %w", err)
	}
	return schemas[name].Validate(doc)
}

// PagerDuty validates an Events API v2 request body.
func PagerDuty(body []byte) error {
	if len(body) > PagerDutyMaxBody {
		return fmt.Errorf("body of %d bytes is over PagerDuty's 512 KB", len(body))
	}
	return validate("pagerduty", body)
}

// Slack validates an incoming-webhook body.
func Slack(body []byte) error {
	return validate("slack", body)
}

// SlackAPI validates a request of Slack's Web API method
// ("chat.postMessage", "chat.update") as slack-go sends it, a form: each
// field becomes a string of a JSON object, blocks its decoded JSON.
func SlackAPI(method string, form url.Values) error {
	if _, ok := slackMethods[method]; !ok {
		return fmt.Errorf("method %s has no contract", method)
	}
	doc := map[string]any{}
	for k, vs := range form {
		if len(vs) != 1 {
			return fmt.Errorf("field %s given %d times", k, len(vs))
		}
		doc[k] = vs[0]
	}
	if b, ok := doc["blocks"].(string); ok {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(b))
		if err != nil {
			return fmt.Errorf("blocks are not JSON: %w", err)
		}
		doc["blocks"] = v
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return validate(method, body)
}

var slackMethods = map[string]bool{"chat.postMessage": true, "chat.update": true}

// Compact re-encodes JSON without insignificant space, for comparisons.
func Compact(b []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return string(b)
	}
	return buf.String()
}
