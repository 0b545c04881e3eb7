package harness

import (
	"encoding/json"
	"time"

	"github.com/prometheus/alertmanager/template"
)

// AMAlert describes one alert of an Alertmanager webhook.
type AMAlert struct {
	Fingerprint string
	Status      string // firing | resolved
	StartsAt    time.Time
	Labels      map[string]string
}

// AMWebhook renders an Alertmanager v4 webhook body the way Alertmanager's
// webhook notifier does (template.Data plus version and groupKey).
func AMWebhook(alerts ...AMAlert) []byte {
	d := struct {
		*template.Data
		Version  string `json:"version"`
		GroupKey string `json:"groupKey"`
	}{Data: &template.Data{Receiver: "alertgate", Status: "firing", ExternalURL: "http://alertmanager.test:9093"}, Version: "4", GroupKey: "{}:{}"}
	for _, a := range alerts {
		labels := template.KV{"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"}
		for k, v := range a.Labels {
			labels[k] = v
		}
		al := template.Alert{
			Status: a.Status, Labels: labels, Fingerprint: a.Fingerprint, StartsAt: a.StartsAt,
			Annotations:  template.KV{"summary": "5xx ratio above 5% on " + a.Fingerprint, "description": "checkout-api returns 5xx"},
			GeneratorURL: "http://prometheus.test:9090/graph",
		}
		if a.Status == "resolved" {
			al.EndsAt = a.StartsAt.Add(5 * time.Minute)
			d.Status = "resolved"
		}
		d.Alerts = append(d.Alerts, al)
	}
	b, err := json.Marshal(d)
	if err != nil {
		panic(err)
	}
	return b
}
