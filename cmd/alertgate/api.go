package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// tokenEnv names the variable holding the API token the commands that call
// a running gateway (--url) send. An environment variable, not a flag: a
// flag's value shows in the process list and the shell history.
const tokenEnv = "ALERTGATE_TOKEN"

// apiClient calls a running gateway's API with the token of tokenEnv.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

func newAPIClient(base string, timeout time.Duration) *apiClient {
	return &apiClient{base: strings.TrimRight(base, "/"), token: os.Getenv(tokenEnv), http: &http.Client{Timeout: timeout}}
}

// do sends method path with body (JSON, when not nil).
func (c *apiClient) do(method, path string, body io.Reader) (*http.Response, error) {
	return c.send(method, path, "application/json", body)
}

// send sends method path with body of contentType (when body is not nil).
func (c *apiClient) send(method, path, contentType string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return c.http.Do(req)
}

// refusal explains a gateway's 401 or 403 for doing what: which token to
// set. It is "" for any other status.
func (c *apiClient) refusal(resp *http.Response, doing, role string) string {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		if c.token == "" {
			return fmt.Sprintf("the gateway wants a token to %s: set %s to one of its api.tokens with role %s", doing, tokenEnv, role)
		}
		return fmt.Sprintf("the gateway refused the token in %s: it is not one of its api.tokens (to %s, use one with role %s)", tokenEnv, doing, role)
	case http.StatusForbidden:
		return fmt.Sprintf("the token in %s may not %s: set %s to a token with role %s", tokenEnv, doing, tokenEnv, role)
	}
	return ""
}

// answerError is the error for a gateway's answer other than the one
// expected: its {"error": …} when it has one, else the body.
func (c *apiClient) answerError(resp *http.Response, body []byte, doing, role string) error {
	if why := c.refusal(resp, doing, role); why != "" {
		return fmt.Errorf("gateway answered %s: %s", resp.Status, why)
	}
	var e struct{ Error string }
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return fmt.Errorf("gateway answered %s: %s", resp.Status, e.Error)
	}
	return fmt.Errorf("gateway answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
}
