package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

const silenceUsage = `usage:
  alertgate silence add MATCHER... [--duration 2h | --end RFC3339] [--start RFC3339] [--comment TEXT] [--author NAME]
  alertgate silence list [--state active|pending|expired] [--json]
  alertgate silence expire ID...
each with [--url URL]; the token (admin to add and expire, read to list) in ALERTGATE_TOKEN`

// silence adds, lists and expires silences through a running gateway's
// API, with amtool's verbs.
func silence(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(silenceUsage)
	}
	switch args[0] {
	case "add":
		return silenceAdd(args[1:], stdout)
	case "list", "query":
		return silenceList(args[1:], stdout)
	case "expire":
		return silenceExpire(args[1:], stdout)
	}
	return fmt.Errorf("unknown silence command %q\n%s", args[0], silenceUsage)
}

// parseInterspersed parses fs's flags wherever they are among args, as
// amtool takes them (alertgate silence add service=x --duration 2h), and
// returns the other arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		rest, args = append(rest, args[0]), args[1:]
	}
}

func silenceAdd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("silence add", flag.ContinueOnError)
	base := fs.String("url", "http://localhost:8080", "the gateway")
	duration := fs.String("duration", "", `how long, from the start: 90m, 2h, 1d (default 1h unless --end)`)
	start := fs.String("start", "", "RFC 3339 start (default now): a maintenance window starts later")
	end := fs.String("end", "", "RFC 3339 end, instead of --duration")
	comment := fs.String("comment", "", "why")
	author := fs.String("author", os.Getenv("USER"), "who (default $USER; without one, the gateway records the token's name)")
	matchers, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(matchers) == 0 {
		return fmt.Errorf("silence add: no matcher: give one or more, like 'service=\"checkout\"'\n%s", silenceUsage)
	}
	req := map[string]any{"matchers": matchers}
	switch {
	case *end != "" && *duration != "":
		return errors.New("silence add: give --duration or --end, not both")
	case *end != "":
		req["ends_at"] = *end
	case *duration != "":
		req["duration"] = *duration
	default:
		req["duration"] = "1h"
	}
	if *start != "" {
		req["starts_at"] = *start
	}
	if *author != "" {
		req["created_by"] = *author
	}
	if *comment != "" {
		req["comment"] = *comment
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	c := newAPIClient(*base, 30*time.Second)
	resp, err := c.do(http.MethodPost, "/v1/silences", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return c.answerError(resp, b, "add silences", "admin")
	}
	var out struct{ ID string }
	if err := json.Unmarshal(b, &out); err != nil {
		return err
	}
	fmt.Fprintln(stdout, out.ID)
	return nil
}

// listedSilence is a silence as GET /v1/silences lists it.
type listedSilence struct {
	ID        string    `json:"id"`
	Matchers  []string  `json:"matchers"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
	CreatedBy string    `json:"created_by"`
	Comment   string    `json:"comment"`
	State     string    `json:"state"`
}

func silenceList(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("silence list", flag.ContinueOnError)
	base := fs.String("url", "http://localhost:8080", "the gateway")
	state := fs.String("state", "", "only active, pending or expired silences (default all)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("silence list takes no arguments, got %q\n%s", fs.Args(), silenceUsage)
	}
	path := "/v1/silences"
	if *state != "" {
		path += "?state=" + url.QueryEscape(*state)
	}
	c := newAPIClient(*base, 30*time.Second)
	resp, err := c.do(http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return c.answerError(resp, b, "list silences", "read")
	}
	var out struct {
		Silences []listedSilence `json:"silences"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out.Silences)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tMATCHERS\tSTARTS\tENDS\tCREATED BY\tCOMMENT")
	for _, s := range out.Silences {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.State, strings.Join(s.Matchers, " "),
			s.StartsAt.UTC().Format(time.RFC3339), s.EndsAt.UTC().Format(time.RFC3339), s.CreatedBy, oneLine(s.Comment))
	}
	return tw.Flush()
}

// oneLine keeps a comment on its table row.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func silenceExpire(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("silence expire", flag.ContinueOnError)
	base := fs.String("url", "http://localhost:8080", "the gateway")
	ids, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return fmt.Errorf("silence expire: no id\n%s", silenceUsage)
	}
	c := newAPIClient(*base, 30*time.Second)
	var failed []string
	for _, id := range ids {
		if err := expireOne(c, id); err != nil {
			fmt.Fprintf(stdout, "%s: %v\n", id, err)
			failed = append(failed, id)
			continue
		}
		fmt.Fprintln(stdout, "expired", id)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d silences not expired: %s", len(failed), len(ids), strings.Join(failed, ", "))
	}
	return nil
}

func expireOne(c *apiClient, id string) error {
	resp, err := c.do(http.MethodDelete, "/v1/silences/"+url.PathEscape(id), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		return c.answerError(resp, b, "expire silences", "admin")
	}
	return nil
}
