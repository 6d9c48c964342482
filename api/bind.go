package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/errs"
)

// maxBodyBytes bounds every JSON request body (413 beyond it).
const maxBodyBytes = 2 << 20

// bindJSON decodes the request body, which must be one JSON object, into dst, refusing unknown fields,
// then runs checkJSONText over every string of the body (SPEC §10: bad input answers a clear error and
// changes nothing). On failure it writes the answer (400 malformed or not an object, 413 too large, 422
// wrong type, unknown field or bad text, naming the field) and returns false.
func bindJSON(c *gin.Context, dst any) bool {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			abort(c, errs.PayloadTooLarge, fmt.Sprintf("the body is larger than %d bytes", maxBodyBytes))
			return false
		}
		abort(c, errs.MalformedJSON, "the body could not be read: "+err.Error())
		return false
	}
	// A JSON null (or any other value than an object) would decode into dst as if it were {}.
	switch v := bytes.TrimLeft(raw, " \t\r\n"); {
	case len(v) == 0:
		abort(c, errs.MalformedJSON, "the body is empty; send a JSON object")
		return false
	case v[0] != '{':
		if bytes.HasPrefix(v, []byte("null")) {
			abort(c, errs.MalformedJSON, "the body is null; send a JSON object")
		} else {
			abort(c, errs.MalformedJSON, "the body must be a JSON object")
		}
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err = dec.Decode(dst)
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	syntaxOK := !errors.As(err, &syntaxErr) && !errors.Is(err, io.ErrUnexpectedEOF)
	if syntaxOK {
		// Bad text is named before a wrong type or an unknown field: it is the more basic fault.
		if fe := checkJSONText(raw, ""); fe != nil {
			respondError(c, fe)
			return false
		}
	}
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			abort(c, errs.MalformedJSON, "the body must hold exactly one JSON value")
			return false
		}
		return true
	}
	switch {
	case !syntaxOK:
		abort(c, errs.MalformedJSON, "the body is not valid JSON: "+err.Error())
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			abort(c, errs.MalformedJSON, "the body must be a JSON object")
			return false
		}
		invalid(c, field, "must be "+jsonType(typeErr.Type.String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		if len(name) > 100 {
			name = "body" // a name this long is no field: name the body rather than echo it
		}
		invalid(c, name, "unknown field")
	default:
		var fe *errs.Error
		if errors.As(err, &fe) {
			respondError(c, fe)
			return false
		}
		abort(c, errs.MalformedJSON, "the body could not be read: "+err.Error())
	}
	return false
}

// maxTextBytes bounds any one string of a request body: no text field of the API takes more than
// 20 000 characters, so this backstop only matters for fields whose own check comes later.
const maxTextBytes = 100_000

// multilineFields are the JSON member names whose text may span lines (tab, line feed and carriage
// return allowed): notes, prompt text, email bodies and review comments and quotes. Every other string
// (names, emails, subjects, ids, filter values…) must be one line, since it ends up in notification
// titles, email headers and CSV cells.
var multilineFields = map[string]bool{"note": true, "text": true, "body": true, "comment": true, "quote": true}

// checkJSONText walks every member name and string value of the JSON document raw (already known to
// be valid JSON) and returns a field error naming the first bad one, as a path such as
// content.segments[0].name (prefix, when not empty, is put in front). The raw bytes are read, not the
// decoded value: encoding/json silently turns invalid UTF-8 and lone UTF-16 surrogate escapes into
// U+FFFD, which would store something the client never wrote.
func checkJSONText(raw []byte, prefix string) *errs.Error {
	type frame struct {
		object bool
		key    string // the member being read, in an object
		index  int    // the element being read, in an array
		keyed  bool   // a member name has been read and its value is next
	}
	stack := []frame{}
	path := func() string {
		var b strings.Builder
		b.WriteString(prefix)
		for _, f := range stack {
			switch {
			case f.object && f.keyed:
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			case !f.object:
				fmt.Fprintf(&b, "[%d]", f.index)
			}
		}
		if b.Len() == 0 {
			return "body"
		}
		return b.String()
	}
	valueDone := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].object {
				stack[n-1].keyed = false
			} else {
				stack[n-1].index++
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF, or a syntax error the decoding already answered
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, frame{object: true})
			case '[':
				stack = append(stack, frame{})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case string:
			lit := raw[start:dec.InputOffset()]
			if n := len(stack); n > 0 && stack[n-1].object && !stack[n-1].keyed {
				// A member name: a bad one is reported on the object that holds it.
				if problem := literalProblem(lit, v, false); problem != "" {
					return errs.Invalid(path(), "has a member name that "+problem)
				}
				stack[n-1].key, stack[n-1].keyed = v, true
				continue
			}
			multiline := false
			if n := len(stack); n > 0 && stack[n-1].object {
				multiline = multilineFields[stack[n-1].key]
			}
			if problem := literalProblem(lit, v, multiline); problem != "" {
				return errs.Invalid(path(), problem)
			}
			valueDone()
		default:
			valueDone()
		}
	}
}

// literalProblem is textProblem for a JSON string whose raw bytes (with any separators around them)
// are lit and whose decoded value is v, plus the two faults only the raw bytes show: invalid UTF-8 and
// escapes of lone UTF-16 surrogates, both of which decoding replaces with U+FFFD.
func literalProblem(lit []byte, v string, multiline bool) string {
	if !utf8.Valid(lit) || loneSurrogate(lit) {
		return "must be valid UTF-8 text"
	}
	if len(v) > maxTextBytes {
		return fmt.Sprintf("is too long (%d bytes; no text field takes more than %d)", len(v), maxTextBytes)
	}
	return app.TextProblem(v, multiline)
}

// loneSurrogate reports whether a JSON string literal escapes half of a UTF-16 surrogate pair alone.
func loneSurrogate(lit []byte) bool {
	high := false // the previous escape was a high surrogate awaiting its low half
	for i := 0; i < len(lit); i++ {
		if lit[i] != '\\' || i+1 >= len(lit) {
			if high {
				return true
			}
			continue
		}
		i++
		if lit[i] != 'u' || i+4 >= len(lit) {
			if high {
				return true
			}
			continue
		}
		n, err := strconv.ParseUint(string(lit[i+1:i+5]), 16, 16)
		i += 4
		if err != nil {
			continue
		}
		switch {
		case n >= 0xD800 && n < 0xDC00:
			if high {
				return true
			}
			high = true
		case n >= 0xDC00 && n < 0xE000:
			if !high {
				return true
			}
			high = false
		default:
			if high {
				return true
			}
		}
	}
	return high
}

func jsonType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.Contains(goType, "int"):
		return "a whole number in range"
	case strings.Contains(goType, "float"):
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
		abort(c, errs.NotFound, "no such resource in this account")
		return "", false
	}
	return id.String(), true
}

// queryLimit reads the optional page size `limit` of the query into *limit; a value that is not a
// whole number answers refusal (each list names its own range) and false.
func queryLimit(c *gin.Context, limit **int, refusal error) bool {
	v := c.Query("limit")
	if v == "" {
		return true
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		respondError(c, refusal)
		return false
	}
	*limit = &n
	return true
}
