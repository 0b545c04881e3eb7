package runbooks

import (
	"bytes"
	"html/template"
	"io"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
)

// markdown renders runbook bodies. It deliberately keeps goldmark's default
// of omitting raw HTML and dangerous link schemes (javascript:, …): runbooks
// are served from the gateway's own origin, so a <script> in one would run
// with access to everything else the gateway serves. Auto heading ids give
// each section an anchor to link to from chat.
var markdown = goldmark.New(
	goldmark.WithExtensions(extension.GFM),
	goldmark.WithParserOptions(parser.WithAutoHeadingID()),
)

// page is the shell around a rendered body. html/template escapes title,
// owner and matchers; only the goldmark output is trusted as HTML.
var page = template.Must(template.New("runbook").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · runbook</title>
<style>
body{font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:46rem;margin:0 auto;padding:1rem;color:#1b1b1b;background:#fff;overflow-wrap:break-word}
h1{font-size:1.5rem;line-height:1.25;margin:.25rem 0 .5rem}
h2{font-size:1.25rem;margin-top:1.75rem;border-bottom:1px solid #ddd}
h3{font-size:1.05rem}
header{border-bottom:2px solid #333;margin-bottom:1rem;padding-bottom:.5rem}
.meta{margin:.2rem 0;color:#555;font-size:.9rem}
code{font:.88em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
:not(pre)>code{background:#f2f2f2;padding:.1em .3em;border-radius:3px}
pre{background:#f2f2f2;padding:.75rem;border-radius:4px;overflow-x:auto}
table{border-collapse:collapse;display:block;overflow-x:auto}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
img{max-width:100%}
a{color:#0645ad}
li{margin:.2rem 0}
@media (prefers-color-scheme:dark){body{background:#121212;color:#e4e4e4}header{border-color:#aaa}h2{border-color:#444}.meta{color:#aaa}pre,:not(pre)>code{background:#1f1f1f}th,td{border-color:#444}a{color:#8ab4f8}}
</style>
</head>
<body>
<header>
<h1>{{.Title}}</h1>
<p class="meta">Runbook <code>{{.ID}}</code>{{with .Owner}} · owner: <strong>{{.}}</strong>{{end}}</p>
{{- if .Match}}
<p class="meta">Applies to alerts matching all of: {{range $i, $m := .Match}}{{if $i}}, {{end}}<code>{{$m.String}}</code>{{end}}</p>
{{- else}}
<p class="meta">Applies only where a route names it.</p>
{{- end}}
</header>
<main>
{{.Body}}</main>
</body>
</html>
`))

// RenderHTML writes r as a standalone HTML page: title, owner, the matchers
// it applies to and the body rendered from Markdown (GitHub flavour).
func RenderHTML(w io.Writer, r *Runbook) error {
	var body bytes.Buffer
	if err := markdown.Convert([]byte(r.Body), &body); err != nil {
		return err
	}
	return page.Execute(w, struct {
		*Runbook
		Body template.HTML
	}{r, template.HTML(body.String())})
}

// HTML returns r as a standalone HTML page. Runbooks from LoadDir return the
// page rendered at load, shared between callers, which must not modify it;
// others are rendered on each call.
func (r *Runbook) HTML() ([]byte, error) {
	if r.html != nil {
		return r.html, nil
	}
	var buf bytes.Buffer
	if err := RenderHTML(&buf, r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
