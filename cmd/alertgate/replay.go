package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alertgate/alertgate"
)

const replayUsage = `usage:
  alertgate replay --config candidate.yaml [--since 7d] [--until T] [--limit N] [--ignore-silences] [--json] [--url URL]
the token (admin) in ALERTGATE_TOKEN`

// replayCmd asks a running gateway what a candidate config would have sent
// over its stored history (POST /v1/replay) and prints the answer.
func replayCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	base := fs.String("url", "http://localhost:8080", "the gateway")
	file := fs.String("config", "", "the candidate config file")
	since := fs.String("since", "7d", "start of the window: a duration before now (168h, 7d) or an RFC 3339 time")
	until := fs.String("until", "", "end of the window (default now): a duration before now or an RFC 3339 time")
	limit := fs.Int("limit", 100, "keys that differ (and findings) to list; the counts are exact")
	ignore := fs.Bool("ignore-silences", false, "decide as if no silence had existed")
	asJSON := fs.Bool("json", false, "print the gateway's JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("replay takes no arguments, got %q\n%s", fs.Args(), replayUsage)
	}
	if *file == "" {
		return fmt.Errorf("replay: --config missing: the candidate config file\n%s", replayUsage)
	}
	body, err := os.ReadFile(*file)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	q := url.Values{"since": {*since}, "limit": {strconv.Itoa(*limit)}}
	if *until != "" {
		q.Set("until", *until)
	}
	if *ignore {
		q.Set("ignore_silences", "true")
	}
	// A week of a busy gateway is read in seconds to a minute or two.
	c := newAPIClient(*base, 10*time.Minute)
	resp, err := c.send(http.MethodPost, "/v1/replay?"+q.Encode(), "application/yaml", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return c.answerError(resp, b, "replay a config", "admin")
	}
	if *asJSON {
		_, err := stdout.Write(b)
		return err
	}
	var rep alertgate.ReplayReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("replay: the gateway's answer: %w", err)
	}
	printReplay(stdout, &rep)
	return nil
}

// printReplay prints a report as tables: per team actual → candidate,
// per route the events matched, the keys that differ, the findings.
func printReplay(w io.Writer, rep *alertgate.ReplayReport) {
	fmt.Fprintf(w, "replayed %d stored events, %d from %s to %s, in %s\n\n", rep.Events, rep.InWindow,
		rep.Since.UTC().Format(time.RFC3339), rep.Until.UTC().Format(time.RFC3339), rep.Elapsed.Round(time.Millisecond))
	arrow := func(a, c int) string {
		if a == c {
			return strconv.Itoa(a)
		}
		return fmt.Sprintf("%d → %d", a, c)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TEAM\tPAGES\tRESOLVES\tBUG NOTIFICATIONS\tHELD\tPAGES WITHOUT RUNBOOK")
	for _, name := range slices.Sorted(maps.Keys(rep.Teams)) {
		a, c := rep.Teams[name].Actual, rep.Teams[name].Candidate
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, arrow(a.Pages, c.Pages), arrow(a.Resolves, c.Resolves),
			arrow(a.BugNotifications, c.BugNotifications), heldCell(a, c, arrow), arrow(a.PagesWithoutRunbook, c.PagesWithoutRunbook))
	}
	_ = tw.Flush()
	fmt.Fprintln(w)

	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONFIG\tROUTE\tTEAM\tNOTIFY\tEVENTS")
	for _, r := range rep.Routes.Actual {
		fmt.Fprintf(tw, "live\t%s\t%s\t%s\t%d\n", r.Route, r.Team, r.Notify, r.Events)
	}
	for _, r := range rep.Routes.Candidate {
		fmt.Fprintf(tw, "candidate\t%s\t%s\t%s\t%d\n", r.Route, r.Team, r.Notify, r.Events)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)

	if rep.DifferencesTotal == 0 {
		fmt.Fprintln(w, "no key's outcome differs")
	} else {
		fmt.Fprintf(w, "%d key(s) differ", rep.DifferencesTotal)
		if len(rep.Differences) < rep.DifferencesTotal {
			fmt.Fprintf(w, " (the first %d by key)", len(rep.Differences))
		}
		fmt.Fprintln(w, ":")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tTITLE\tACTUAL\tCANDIDATE\tRULE")
		for _, d := range rep.Differences {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Key, oneLine(d.Title), d.Actual, d.Candidate, d.Rule)
		}
		_ = tw.Flush()
	}
	fmt.Fprintln(w)
	if rep.Exact {
		fmt.Fprintf(w, "exact: replaying the live config makes the %d page(s) NOTIFY recorded, with the same dedup_keys\n", rep.PagesCompared)
	} else {
		fmt.Fprintf(w, "NOT EXACT: %d finding(s) where replaying the live config and NOTIFY disagree (of %d page(s) recorded):\n", rep.FindingsTotal, rep.PagesCompared)
		for _, f := range rep.Findings {
			fmt.Fprintf(w, "  %s (%s): %s\n", f.ID, f.DedupKey, f.Problem)
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

// heldCell is the held count, actual → candidate, with its reasons.
func heldCell(a, c alertgate.ReplayCounts, arrow func(a, c int) string) string {
	cell := arrow(a.Held, c.Held)
	var reasons []string
	for _, r := range []string{alertgate.HoldDigestOnly, alertgate.HoldSilenced, alertgate.HoldInhibited, alertgate.HoldMutedTime, alertgate.HoldFlapping} {
		if x, y := a.HeldByReason[r], c.HeldByReason[r]; x != 0 || y != 0 {
			reasons = append(reasons, r+" "+arrow(x, y))
		}
	}
	if len(reasons) > 0 {
		cell += " (" + strings.Join(reasons, ", ") + ")"
	}
	return cell
}
