package storage

import (
	"html"
	"strings"
)

// emailSignature ends the text part of every email.
const emailSignature = "\n\n— Signoff"

// emailAction is a link an email offers its reader (R-ACT-4): Label on a button in the HTML part, a
// "Label: URL" line in the text part. URL is absolute (the decision page of R-ACT-1 is one).
type emailAction struct {
	Label string
	URL   string
}

// emailText is the text part of a notice's email: its body, its actions one per line, the signature.
func emailText(body string, actions []emailAction) string {
	var b strings.Builder
	b.WriteString(body)
	for i, a := range actions {
		if i == 0 {
			b.WriteString("\n")
		}
		b.WriteString("\n" + a.Label + ": " + a.URL)
	}
	b.WriteString(emailSignature)
	return b.String()
}

// emailHTML is the HTML part of a notice's email (R-ACT-4): the title as its heading, the body's
// paragraphs (separated by a blank line; a single line break is kept as one), its actions as links, and
// the signature. Everything is escaped; the styles are inline, the only kind mail clients keep.
//
// The page itself holds no '%', so a title and body that are templates of SQL's format() (with %1$s
// and %% in them, as decisionNotice's are) give an HTML template of format() too, whose arguments need
// only be escaped as html.EscapeString does (htmlEscapeSQL).
func emailHTML(title, body string, actions []emailAction) string {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">` +
		`<meta name="viewport" content="width=device-width, initial-scale=1"><title>`)
	b.WriteString(html.EscapeString(title))
	b.WriteString(`</title></head><body style="margin:0;padding:24px 16px;background:#ffffff;color:#1f2328;` +
		`font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5">` +
		`<div style="max-width:560px;margin:0 auto">`)
	b.WriteString(`<h1 style="font-size:20px;line-height:1.3;margin:0 0 16px">` + html.EscapeString(title) + `</h1>`)
	for _, p := range strings.Split(body, "\n\n") {
		if strings.TrimSpace(p) == "" {
			continue
		}
		b.WriteString(`<p style="margin:0 0 12px">` + strings.ReplaceAll(html.EscapeString(p), "\n", "<br>") + `</p>`)
	}
	for _, a := range actions {
		b.WriteString(`<p style="margin:20px 0"><a href="` + html.EscapeString(a.URL) + `" style="display:inline-block;` +
			`padding:10px 18px;border-radius:6px;background:#1f6feb;color:#ffffff;text-decoration:none;font-weight:600">` +
			html.EscapeString(a.Label) + `</a></p>`)
	}
	b.WriteString(`<p style="margin:24px 0 0;color:#59636e;font-size:14px">— Signoff</p></div></body></html>`)
	return b.String()
}

// htmlEscapeSQL escapes the SQL text expression it is formatted with (fmt's %s) as html.EscapeString
// does, for the names Decide puts into emailHTML's templates.
const htmlEscapeSQL = `replace(replace(replace(replace(replace(%s, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&#34;'), '''', '&#39;')`
