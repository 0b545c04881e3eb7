package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alertgate/alertgate"
)

const reportUsage = `usage: alertgate report [--since 7d] [--until T] [--team T] [--json] [--url URL]
the alert-fatigue report of a running gateway; the token (read) in ALERTGATE_TOKEN`

// reportCmd prints the alert-fatigue report of a running gateway
// (GET /v1/report): per team, pages, off hours, the noisiest keys, time
// to resolve, bug classes, held pages and the noise removed.
func reportCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	base := fs.String("url", "http://localhost:8080", "the gateway")
	since := fs.String("since", "7d", "the window's start: a duration back (168h), days back (7d) or an RFC 3339 time")
	until := fs.String("until", "", "the window's end, as --since (default now)")
	team := fs.String("team", "", "one team (default every team)")
	asJSON := fs.Bool("json", false, "print the JSON of GET /v1/report")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("report takes no arguments, got %q\n%s", fs.Args(), reportUsage)
	}
	q := url.Values{"since": {*since}}
	if *until != "" {
		q.Set("until", *until)
	}
	if *team != "" {
		q.Set("team", *team)
	}
	// A report over 14 days of a busy gateway reads millions of messages.
	c := newAPIClient(*base, 2*time.Minute)
	resp, err := c.do(http.MethodGet, "/v1/report?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return c.answerError(resp, b, "read the report", "read")
	}
	if *asJSON {
		_, err := stdout.Write(b)
		return err
	}
	var rep alertgate.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("the gateway's report: %w", err)
	}
	return printReport(stdout, &rep)
}

// printReport writes the report as text, one block per team.
func printReport(w io.Writer, rep *alertgate.Report) error {
	fmt.Fprintf(w, "%s – %s (days in %s; office hours: %s)\n", rep.Since.UTC().Format(time.RFC3339), rep.Until.UTC().Format(time.RFC3339), rep.Location, rep.OfficeHours)
	names := make([]string, 0, len(rep.Teams))
	for n := range rep.Teams {
		names = append(names, n)
	}
	slices.Sort(names)
	var errs []error
	for _, n := range names {
		t := rep.Teams[n]
		fmt.Fprintf(w, "\n%s: %d pages, %d off hours, %d without a runbook\n", n, t.Pages, t.PagesOffHours, t.PagesWithoutRunbook)
		days := make([]string, 0, len(t.PagesPerDay))
		for _, d := range t.PagesPerDay {
			days = append(days, fmt.Sprintf("%s %d", d.Date[5:], d.Pages))
		}
		fmt.Fprintf(w, "  per day: %s\n", strings.Join(days, ", "))
		ttr := t.TimeToResolve
		fmt.Fprintf(w, "  time to resolve: %d resolved", ttr.Resolved)
		if ttr.Resolved > 0 {
			fmt.Fprintf(w, ", median %s, p90 %s", time.Duration(ttr.MedianSeconds)*time.Second, time.Duration(ttr.P90Seconds)*time.Second)
		}
		fmt.Fprintf(w, "; %d still open\n", ttr.Unresolved)
		bugKeys := func(c alertgate.BugChanges) string {
			keys := make([]string, 0, len(c.Keys))
			for _, k := range c.Keys {
				keys = append(keys, k.Key)
			}
			return strings.Join(keys, " ")
		}
		fmt.Fprintf(w, "  bugs: %d new %s; %d regressed %s; %d spiking %s\n", t.Bugs.New.Count, bugKeys(t.Bugs.New),
			t.Bugs.Regressed.Count, bugKeys(t.Bugs.Regressed), t.Bugs.Spiking.Count, bugKeys(t.Bugs.Spiking))
		held := make([]string, 0, len(t.Held))
		for r, c := range t.Held {
			held = append(held, fmt.Sprintf("%s %d", r, c))
		}
		slices.Sort(held)
		fmt.Fprintf(w, "  held: %s\n", cmpOrDash(strings.Join(held, ", ")))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		if len(t.Noisiest) > 0 {
			fmt.Fprintln(tw, "  NOISIEST KEY\tPAGES\tEPISODES\tFLAPPING\tRUNBOOK\tTITLE")
			for _, k := range t.Noisiest {
				fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%s\t%s\n", k.Key, k.Pages, k.Episodes, k.Flapping, yesNo(k.Runbook), oneLine(k.Title))
			}
		}
		if len(t.Bugs.Recurring) > 0 {
			fmt.Fprintln(tw, "  LOUDEST BUG CLASS\tOCCURRENCES\t\t\t\tTITLE")
			for _, b := range t.Bugs.Recurring {
				fmt.Fprintf(tw, "  %s\t%d\t\t\t\t%s\n", b.Key, b.Occurrences, oneLine(b.Title))
			}
		}
		if len(t.Noise) > 0 {
			fmt.Fprintln(tw, "  SOURCE\tEVENTS\tNOTIFICATIONS\tRATIO\t\t")
			srcs := make([]string, 0, len(t.Noise))
			for s := range t.Noise {
				srcs = append(srcs, string(s))
			}
			slices.Sort(srcs)
			for _, s := range srcs {
				n := t.Noise[alertgate.Source(s)]
				fmt.Fprintf(tw, "  %s\t%d\t%d\t%g\t\t\n", s, n.Events, n.Notifications, n.Ratio)
			}
		}
		errs = append(errs, tw.Flush())
	}
	return errors.Join(errs...)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func cmpOrDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
