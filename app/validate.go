package app

import (
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/signoff/signoff/errs"
)

// TextProblem says what is wrong with v as text a person wrote, or "" when nothing is: it must be valid
// UTF-8 and hold no control characters (NUL included), except tab, line feed and carriage return when
// multiline. It is the one check every text input goes through: JSON bodies (the API's binding), CSV
// cells, headers and file names.
func TextProblem(v string, multiline bool) string {
	if !utf8.ValidString(v) {
		return "must be valid UTF-8 text"
	}
	for _, r := range v {
		switch {
		case r == 0:
			return "must not contain NUL characters"
		case r == '\n' || r == '\r':
			if !multiline {
				return "must be a single line (no line breaks)"
			}
		case r == '\t':
			if !multiline {
				return "must not contain tab characters"
			}
		case unicode.IsControl(r):
			return fmt.Sprintf("must not contain control characters (found U+%04X)", r)
		}
	}
	return ""
}

// checkText validates a required or optional string's length in characters.
func checkText(field, v string, required bool, max int) error {
	if required && strings.TrimSpace(v) == "" {
		return errs.Invalid(field, "is required")
	}
	if !utf8.ValidString(v) {
		return errs.Invalid(field, "must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(v); n > max {
		return errs.Invalid(field, fmt.Sprintf("must be at most %d characters (got %d)", max, n))
	}
	return nil
}

// checkWritten is checkText for text a person wrote: first TextProblem (one line unless multiline),
// then the length. The JSON binding runs TextProblem over every string of a body already; forms (the
// decision page) and other callers have not, and a NUL would fail the write (or, in a decision's note,
// the workflow's activity) instead of answering 422.
func checkWritten(field, v string, required, multiline bool, max int) error {
	if p := TextProblem(v, multiline); p != "" {
		return errs.Invalid(field, p)
	}
	return checkText(field, v, required, max)
}

// checkNote validates a note (a decision's, a section's): multi-line text of at most maxNoteChars
// characters.
func checkNote(field, v string, required bool) error {
	return checkWritten(field, v, required, true, maxNoteChars)
}

// checkEmail validates an email address.
func checkEmail(field, v string, required bool) error {
	if v == "" && !required {
		return nil
	}
	if err := checkText(field, v, true, 254); err != nil {
		return err
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || !strings.Contains(v[strings.LastIndex(v, "@")+1:], ".") {
		return errs.Invalid(field, "must be an email address such as ana@example.com")
	}
	return nil
}

// checkURL validates an absolute http or https URL.
func checkURL(field, v string) error {
	if err := checkText(field, v, true, 2048); err != nil {
		return err
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errs.Invalid(field, "must be an absolute http or https URL")
	}
	return nil
}

// oneOf validates that v is one of allowed.
func oneOf(field, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return errs.Invalid(field, "must be one of "+strings.Join(allowed, ", "))
}
