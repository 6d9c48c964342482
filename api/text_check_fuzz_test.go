package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/signoff/signoff/app"
)

// Tests of the one text check every input goes through: textProblem on a
// string, and checkJSONText on the raw bytes of a JSON body. The oracle is written from the rule, not
// from the code: text is valid UTF-8 with no control character (C0, DEL, C1), except tab, line feed
// and carriage return in multi-line fields, and at most maxTextBytes long.

// textOracle reports whether v is acceptable text for a field that is multiline or not.
func textOracle(v string, multiline bool) bool {
	if !utf8.ValidString(v) || len(v) > maxTextBytes {
		return false
	}
	for _, r := range v {
		control := r < 0x20 || (r >= 0x7f && r <= 0x9f)
		if control && !(multiline && (r == '\t' || r == '\n' || r == '\r')) {
			return false
		}
	}
	return true
}

// jsonLiteral writes v as a JSON string literal the way a careless or hostile client might: bytes
// that are not valid UTF-8 are written raw (encoding/json would replace them), quotes, backslashes and
// C0 controls are escaped as JSON requires, and when escapeAll every other rune is written as \u
// escapes (a surrogate pair above the BMP).
func jsonLiteral(v string, escapeAll bool) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); {
		r, size := utf8.DecodeRuneInString(v[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteByte(v[i])
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		case escapeAll && r > 0x7f:
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, `\u%04X`, u)
			}
		default:
			b.WriteString(v[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

// TestTextCheckTable pins the check's verdicts and messages on the bad inputs the fuzz table names, written
// both raw and as \u escapes, in one-line and multi-line fields, at the top level and nested.
func TestTextCheckTable(t *testing.T) {
	cases := []struct {
		name      string
		lit       string // the JSON literal, as sent
		oneLine   string // the message in a one-line field; "" accepted
		multiLine string // the message in a multi-line field; "" accepted
	}{
		{"plain", `"Ana Ruiz"`, "", ""},
		{"accents and CJK", `"Zoë — 東京"`, "", ""},
		{"escaped accents", `"Zo\u00EB"`, "", ""},
		{"a real U+FFFD", `"a\uFFFDb"`, "", ""},
		{"a real U+FFFD raw", "\"a\xef\xbf\xbdb\"", "", ""},
		{"emoji as a surrogate pair", `"\uD83D\uDE00"`, "", ""},
		{"escaped backslash before u", `"\\ud800"`, "", ""},
		{"empty", `""`, "", ""},
		{"NUL escaped", `"a\u0000b"`, "must not contain NUL characters", "must not contain NUL characters"},
		{"invalid UTF-8 byte", "\"a\xffb\"", "must be valid UTF-8 text", "must be valid UTF-8 text"},
		{"truncated UTF-8", "\"a\xc3\"", "must be valid UTF-8 text", "must be valid UTF-8 text"},
		{"overlong encoding of /", "\"\xc0\xaf\"", "must be valid UTF-8 text", "must be valid UTF-8 text"},
		{"UTF-8 encoded surrogate", "\"\xed\xa0\x80\"", "must be valid UTF-8 text", "must be valid UTF-8 text"},
		{"lone high surrogate", `"a\ud800b"`, "must be valid UTF-8 text", "must be valid UTF-8 text"},
		{"lone high surrogate at the end", `"a\uD800"`, "must be valid UTF-8 text", "must be valid UTF-8 text"},
		{"lone low surrogate", `"\udc00"`, "must be valid UTF-8 text", "must be valid UTF-8 text"},
		{"two high surrogates", `"\ud800\ud800\udc00"`, "must be valid UTF-8 text", "must be valid UTF-8 text"},
		{"high surrogate then escape", `"\ud800\n"`, "must be valid UTF-8 text", "must be valid UTF-8 text"},
		{"line feed", `"a\nb"`, "must be a single line (no line breaks)", ""},
		{"carriage return", `"a\rb"`, "must be a single line (no line breaks)", ""},
		{"tab", `"a\tb"`, "must not contain tab characters", ""},
		{"bell", `"a\u0007b"`, "must not contain control characters (found U+0007)", "must not contain control characters (found U+0007)"},
		{"escape", `"\u001b[31m"`, "must not contain control characters (found U+001B)", "must not contain control characters (found U+001B)"},
		{"DEL", "\"a\x7fb\"", "must not contain control characters (found U+007F)", "must not contain control characters (found U+007F)"},
		{"C1 NEL", `"a\u0085b"`, "must not contain control characters (found U+0085)", "must not contain control characters (found U+0085)"},
		{"one MiB", `"` + strings.Repeat("a", 1<<20) + `"`, "is too long (1048576 bytes; no text field takes more than 100000)",
			"is too long (1048576 bytes; no text field takes more than 100000)"},
		{"at the limit", `"` + strings.Repeat("a", maxTextBytes) + `"`, "", ""},
	}
	for _, tc := range cases {
		for _, multiline := range []bool{false, true} {
			field, want := "name", tc.oneLine
			if multiline {
				field, want = "note", tc.multiLine
			}
			docs := map[string]string{
				field:                       `{"x":1,"` + field + `":` + tc.lit + `}`,
				"items[1]." + field:         `{"items":[{"a":"ok"},{"` + field + `":` + tc.lit + `}]}`,
				"content.list[2]":           `{"content":{"list":["a","b",` + tc.lit + `]}}`,
				"source.mapping." + field:   `{"source":{"mapping":{"z":"ok","` + field + `":` + tc.lit + `}}}`,
				"content.steps[0]." + field: `{"content":{"steps":[{"` + field + `":` + tc.lit + `,"after":"\u0000"}]}}`,
			}
			for wantField, doc := range docs {
				if !json.Valid([]byte(doc)) {
					t.Fatalf("%s: the test document is not JSON: %s", tc.name, doc)
				}
				wantHere := want
				if strings.HasPrefix(wantField, "content.list") {
					wantHere = tc.oneLine // an array element is one line: its member is "list"
				}
				fe := checkJSONText([]byte(doc), "")
				switch {
				case wantHere == "" && strings.HasPrefix(wantField, "content.steps") && fe != nil && fe.Field == "content.steps[0].after":
					// Accepted text, so the NUL in the member after it is the first fault.
				case wantHere == "" && strings.HasPrefix(wantField, "content.steps"):
					t.Errorf("%s in %s: want the NUL of content.steps[0].after refused, got %v", tc.name, wantField, fe)
				case wantHere == "" && fe != nil:
					t.Errorf("%s in %s: refused: %v", tc.name, wantField, fe)
				case wantHere != "" && fe == nil:
					t.Errorf("%s in %s: accepted, want %q", tc.name, wantField, wantHere)
				case wantHere != "" && (fe.Field != wantField || fe.Message != wantField+": "+wantHere):
					t.Errorf("%s: got %s (%s), want %s: %s", tc.name, fe.Field, fe.Message, wantField, wantHere)
				}
			}
		}
	}
}

// TestTextCheckMemberNames: a bad member name is reported on the object that holds it (the body at
// the top level), since the name itself is unreadable.
func TestTextCheckMemberNames(t *testing.T) {
	for doc, field := range map[string]string{
		"{\"\xff\":1}":                    "body",
		`{"a\u0000":1}`:                   "body",
		`{"source":{"\ud800":"x"}}`:       "source",
		`{"items":[{"ok":"1"},{"\n":2}]}`: "items[1]",
	} {
		fe := checkJSONText([]byte(doc), "")
		if fe == nil || fe.Field != field || !strings.HasPrefix(fe.Message, field+": has a member name that ") {
			t.Errorf("%q: got %v, want a member-name error on %s", doc, fe, field)
		}
	}
	if fe := checkJSONText([]byte(`{"first_name":"Given"}`), "mapping"); fe != nil {
		t.Errorf("a clean mapping refused: %v", fe)
	}
	if fe := checkJSONText([]byte(`{"first_name":"Gi\u0000ven"}`), "mapping"); fe == nil || fe.Field != "mapping.first_name" {
		t.Errorf("a prefix names the field under it: got %v", fe)
	}
}

// FuzzTextCheck checks the shared text check against the oracle for any string, written raw or fully
// escaped, in a one-line or a multi-line field: it refuses exactly what the rule refuses, names the
// field, and what it accepts decodes to exactly the bytes that were sent (nothing silently turned into
// U+FFFD). `go test -fuzz FuzzTextCheck ./api` explores; `make test` runs the seeds.
func FuzzTextCheck(f *testing.F) {
	for _, s := range []string{"", "Ana", "Zoë — 東京", "a\x00b", "\xff", "a\xc3", "\xed\xa0\x80", "a\nb", "a\r\nb", "a\tb",
		"\u0085", "\x7f", "\x1b[0m", "\uFFFD", "\U0001F600", "\u2028", `"quoted" \ back`, strings.Repeat("é", 60000)} {
		for _, multiline := range []bool{false, true} {
			f.Add(s, multiline, false)
			f.Add(s, multiline, true)
		}
	}
	f.Fuzz(func(t *testing.T, v string, multiline, escapeAll bool) {
		field := "name"
		if multiline {
			field = "comment"
		}
		doc := `{"id":7,"` + field + `":` + jsonLiteral(v, escapeAll) + `,"tags":["x"]}`
		want := textOracle(v, multiline)
		if got := app.TextProblem(v, multiline) == "" && len(v) <= maxTextBytes; got != want {
			t.Fatalf("app.TextProblem(%q, %v) accepted=%v, the rule says %v", v, multiline, got, want)
		}
		fe := checkJSONText([]byte(doc), "")
		if (fe == nil) != want {
			t.Fatalf("checkJSONText(%q) = %v, the rule says accepted=%v", doc, fe, want)
		}
		if fe != nil {
			if fe.Field != field || fe.Message == "" {
				t.Fatalf("refusal names %q (%q), want %q", fe.Field, fe.Message, field)
			}
			return
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(doc), &got); err != nil {
			t.Fatalf("accepted a document that is not JSON: %v", err)
		}
		if got[field] != v {
			t.Fatalf("accepted %q but it decodes to %q", v, got[field])
		}
	})
}
