package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"
)

// deadletter lists and replays dead letters through a running gateway's API
// (the embedded JetStream listens on no port, so the gateway is the way in),
// with the token in ALERTGATE_TOKEN.
func deadletter(args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "replay") {
		return fmt.Errorf("usage: alertgate deadletter list|replay [--id ID] [--url URL]")
	}
	fs := flag.NewFlagSet("deadletter "+args[0], flag.ContinueOnError)
	base := fs.String("url", "http://localhost:8080", "the gateway")
	id := fs.String("id", "", "replay: only this notification id (default: every dead letter still dead)")
	limit := fs.Int("limit", 100, "list: how many, newest first")
	asJSON := fs.Bool("json", false, "list: print JSON")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	c := newAPIClient(*base, 30*time.Second)
	if args[0] == "list" {
		resp, err := c.do(http.MethodGet, fmt.Sprintf("/v1/deadletters?limit=%d", *limit), nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			return c.answerError(resp, b, "list dead letters", "read")
		}
		var out struct {
			DeadLetters []struct {
				Seq          uint64    `json:"seq"`
				Reason       string    `json:"reason"`
				DeadAt       time.Time `json:"dead_at"`
				State        string    `json:"state"`
				Notification struct {
					ID, Sink, Team, Type, Key string
					DedupKey                  string `json:"dedup_key"`
				} `json:"notification"`
			} `json:"dead_letters"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(out.DeadLetters)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tDEAD AT\tSTATE\tSINK\tTEAM\tTYPE\tID\tREASON")
		for _, d := range out.DeadLetters {
			n := d.Notification
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Seq, d.DeadAt.Format(time.RFC3339), d.State, n.Sink, n.Team, n.Type, n.ID, d.Reason)
		}
		return tw.Flush()
	}
	// {} replays every dead letter still dead.
	req := map[string]string{}
	if *id != "" {
		req["id"] = *id
	}
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	resp, err := c.do(http.MethodPost, "/v1/deadletters/replay", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return c.answerError(resp, b, "replay dead letters", "admin")
	}
	var out struct{ Replayed []string }
	if err := json.Unmarshal(b, &out); err != nil {
		return err
	}
	for _, r := range out.Replayed {
		fmt.Fprintln(stdout, "replayed", r)
	}
	fmt.Fprintf(stdout, "%d replayed\n", len(out.Replayed))
	return nil
}
