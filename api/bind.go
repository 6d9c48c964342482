package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// maxBodyBytes bounds every JSON request body (413 beyond it).
const maxBodyBytes = 2 << 20

// bindJSON decodes the request body into dst, refusing unknown fields. On failure it writes the
// answer (400 malformed, 413 too large, 422 wrong type or unknown field) and returns false.
func bindJSON(c *gin.Context, dst any) bool {
	body := http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			abort(c, http.StatusBadRequest, CodeMalformedJSON, "the body must hold exactly one JSON value")
			return false
		}
		return true
	}
	var maxErr *http.MaxBytesError
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &maxErr):
		abort(c, http.StatusRequestEntityTooLarge, CodePayloadTooLarge, fmt.Sprintf("the body is larger than %d bytes", maxBodyBytes))
	case errors.Is(err, io.EOF):
		abort(c, http.StatusBadRequest, CodeMalformedJSON, "the body is empty; send a JSON object")
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		abort(c, http.StatusBadRequest, CodeMalformedJSON, "the body is not valid JSON: "+err.Error())
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			abort(c, http.StatusBadRequest, CodeMalformedJSON, "the body must be a JSON object")
			return false
		}
		invalid(c, field, "must be "+jsonType(typeErr.Type.String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		invalid(c, name, "unknown field")
	default:
		var fe *fieldError
		if errors.As(err, &fe) {
			invalid(c, fe.Field, fe.Message)
			return false
		}
		abort(c, http.StatusBadRequest, CodeMalformedJSON, "the body could not be read: "+err.Error())
	}
	return false
}

func jsonType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.Contains(goType, "int"), strings.Contains(goType, "float"):
		return "a number"
	case strings.Contains(goType, "bool"):
		return "true or false"
	case strings.Contains(goType, "Time"):
		return "an RFC 3339 time such as 2026-12-01T09:00:00Z, or null"
	case strings.Contains(goType, "string"):
		return "a string"
	}
	return "an object"
}

// Optional is a JSON field that distinguishes absent (Set false) from null (Set true, Value nil).
type Optional[T any] struct {
	Set   bool
	Value *T
}

// UnmarshalJSON records that the field was present.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		// A type error carries the field name once the decoder adds its context.
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[T]()}
	}
	o.Value = &v
	return nil
}

// pathID reads a UUID path parameter; anything else answers 404, as an unknown id does.
func pathID(c *gin.Context, name string) (string, bool) {
	id, err := uuid.Parse(c.Param(name))
	if err != nil {
		abort(c, http.StatusNotFound, CodeNotFound, "no such resource in this account")
		return "", false
	}
	return id.String(), true
}

// checkText validates a required or optional string's length in characters.
func checkText(field, v string, required bool, max int) error {
	if required && strings.TrimSpace(v) == "" {
		return &fieldError{field, "is required"}
	}
	if !utf8.ValidString(v) {
		return &fieldError{field, "must be valid UTF-8"}
	}
	if n := utf8.RuneCountInString(v); n > max {
		return &fieldError{field, fmt.Sprintf("must be at most %d characters (got %d)", max, n)}
	}
	return nil
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
		return &fieldError{field, "must be an email address such as ana@example.com"}
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
		return &fieldError{field, "must be an absolute http or https URL"}
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
	return &fieldError{field, "must be one of " + strings.Join(allowed, ", ")}
}
