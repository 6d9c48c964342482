package storage

import (
	"strings"
	"testing"
	"time"
)

// TestEmailParts checks the two parts of an email (R-ACT-4): the text part is the body, its actions
// and the signature; the HTML part holds the same text, escaped, its paragraphs and line breaks kept,
// and the actions as links.
func TestEmailParts(t *testing.T) {
	body := "Ana <ana@x.test> asks you to approve \"Q1 & co\".\n\nLine one\nline two"
	actions := []emailAction{{Label: "Open the request", URL: "https://signoff.test/a/tok?x=1&y=2"}}

	text := emailText(body, actions)
	want := body + "\n\nOpen the request: https://signoff.test/a/tok?x=1&y=2\n\n— Signoff"
	if text != want {
		t.Errorf("text part:\n%q\nwant\n%q", text, want)
	}
	if got := emailText("Hello.", nil); got != "Hello.\n\n— Signoff" {
		t.Errorf("text part without actions: %q", got)
	}

	html := emailHTML("Approval requested: Q1 & co", body, actions)
	for _, part := range []string{
		"<!DOCTYPE html>",
		"<title>Approval requested: Q1 &amp; co</title>",
		">Approval requested: Q1 &amp; co</h1>",
		">Ana &lt;ana@x.test&gt; asks you to approve &#34;Q1 &amp; co&#34;.</p>",
		">Line one<br>line two</p>",
		`<a href="https://signoff.test/a/tok?x=1&amp;y=2"`,
		">Open the request</a>",
		"— Signoff",
	} {
		if !strings.Contains(html, part) {
			t.Errorf("HTML part lacks %q:\n%s", part, html)
		}
	}
	if strings.Contains(html, "<ana@") || strings.Contains(html, `"Q1`) {
		t.Errorf("HTML part holds unescaped text:\n%s", html)
	}
}

// TestEmailHTMLIsAFormatTemplate checks what Decide relies on: the page emailHTML writes holds no '%'
// of its own, so the HTML of a format() template is a format() template with the same placeholders.
func TestEmailHTMLIsAFormatTemplate(t *testing.T) {
	if n := strings.Count(emailHTML("", "", nil), "%"); n != 0 {
		t.Fatalf("emailHTML's page holds %d '%%'", n)
	}
	for _, d := range []Decision{{Type: EventApproved, Note: "100% sure"}, {Type: EventRejected, Note: "50%% off?"}, {Type: EventCancelled}} {
		title, body := decisionNotice(d)
		page := emailHTML(title, body, nil)
		// The title is written twice, as the page's title and its heading.
		if strings.Count(page, "%") != 2*strings.Count(title, "%")+strings.Count(body, "%") {
			t.Errorf("%s: the HTML template changed the placeholders:\n%s", d.Type, page)
		}
	}
}

// TestFormatDuration checks how the settings write durations.
func TestFormatDuration(t *testing.T) {
	for d, want := range map[string]string{"0s": "0", "24h": "24h", "90m": "1h30m", "1h0m30s": "1h0m30s", "2m": "2m", "45s": "45s", "36h": "36h"} {
		dur, err := time.ParseDuration(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := FormatDuration(dur); got != want {
			t.Errorf("FormatDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
