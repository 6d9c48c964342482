package changes

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDepth is encoding/json's limit on nested objects and lists.
const maxDepth = 10000

// decode parses a JSON document into the values json.Unmarshal gives an any (map[string]any,
// []any, string, float64, bool, nil), and refuses what it refuses, about three times faster: no
// reflection, and a string without escapes is a substring of the document instead of a copy.
// Strings with invalid UTF-8 or escaped surrogates are handed to encoding/json itself, so every
// value is exactly what json.Unmarshal would give (FuzzDecode checks it).
func decode(doc []byte) (any, error) {
	p := parser{s: string(doc)}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, p.fail()
	}
	return v, nil
}

type parser struct {
	s string
	i int
}

func (p *parser) fail() error {
	if p.i >= len(p.s) {
		return fmt.Errorf("invalid JSON: unexpected end of input")
	}
	return fmt.Errorf("invalid JSON: unexpected %q at offset %d", p.s[p.i], p.i)
}

func (p *parser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *parser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (any, error) {
	p.space()
	switch c := p.peek(); {
	case c == '{':
		if depth++; depth > maxDepth {
			return nil, fmt.Errorf("invalid JSON: nested deeper than %d", maxDepth)
		}
		p.i++
		m := make(map[string]any)
		p.space()
		if p.peek() == '}' {
			p.i++
			return m, nil
		}
		for {
			p.space()
			if p.peek() != '"' {
				return nil, p.fail()
			}
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			p.space()
			if p.peek() != ':' {
				return nil, p.fail()
			}
			p.i++
			v, err := p.value(depth)
			if err != nil {
				return nil, err
			}
			m[k] = v
			p.space()
			switch p.peek() {
			case ',':
				p.i++
			case '}':
				p.i++
				return m, nil
			default:
				return nil, p.fail()
			}
		}
	case c == '[':
		if depth++; depth > maxDepth {
			return nil, fmt.Errorf("invalid JSON: nested deeper than %d", maxDepth)
		}
		p.i++
		l := []any{}
		p.space()
		if p.peek() == ']' {
			p.i++
			return l, nil
		}
		for {
			v, err := p.value(depth)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
			p.space()
			switch p.peek() {
			case ',':
				p.i++
			case ']':
				p.i++
				return l, nil
			default:
				return nil, p.fail()
			}
		}
	case c == '"':
		return p.str()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	return nil, p.fail()
}

func (p *parser) literal(word string) error {
	if !strings.HasPrefix(p.s[p.i:], word) {
		return p.fail()
	}
	p.i += len(word)
	return nil
}

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? as a float64.
func (p *parser) number() (any, error) {
	start := p.i
	digits := func() bool {
		from := p.i
		for c := p.peek(); c >= '0' && c <= '9'; c = p.peek() {
			p.i++
		}
		return p.i > from
	}
	if p.peek() == '-' {
		p.i++
	}
	if p.peek() == '0' {
		p.i++
	} else if !digits() {
		return nil, p.fail()
	}
	if p.peek() == '.' {
		p.i++
		if !digits() {
			return nil, p.fail()
		}
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		p.i++
		if c := p.peek(); c == '+' || c == '-' {
			p.i++
		}
		if !digits() {
			return nil, p.fail()
		}
	}
	f, err := strconv.ParseFloat(p.s[start:p.i], 64)
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: number %s out of range", p.s[start:p.i])
	}
	return f, nil
}

// str reads the string starting at p.i (its opening quote).
func (p *parser) str() (string, error) {
	start := p.i
	p.i++
	plain := true
	for {
		c := p.peek()
		switch {
		case c == '"':
		case c == '\\':
			plain = false
			p.i++
			switch p.peek() {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i++
			case 'u':
				p.i++
				for range 4 {
					if h := p.peek(); !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return "", p.fail()
					}
					p.i++
				}
			default:
				return "", p.fail()
			}
			continue
		case c < 0x20: // a control character, or the end of the input
			return "", p.fail()
		default:
			if c >= utf8.RuneSelf {
				plain = false
			}
			p.i++
			continue
		}
		break
	}
	p.i++
	raw := p.s[start:p.i]
	if plain {
		return raw[1 : len(raw)-1], nil
	}
	if utf8.ValidString(raw) {
		if !strings.Contains(raw, `\`) {
			return raw[1 : len(raw)-1], nil
		}
		if s, ok := unescape(raw[1 : len(raw)-1]); ok {
			return s, nil
		}
	}
	var s string // invalid UTF-8 or a surrogate escape: encoding/json's replacements
	err := json.Unmarshal([]byte(raw), &s)
	return s, err
}

// unescape decodes the escapes of a valid JSON string's content; ok is false for a \u escape of a
// surrogate, left to encoding/json.
func unescape(s string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			r, err := strconv.ParseUint(s[i+1:i+5], 16, 32)
			if err != nil || r >= 0xD800 && r < 0xE000 {
				return "", false
			}
			b.WriteRune(rune(r))
			i += 4
		default: // '"', '\\', '/'
			b.WriteByte(s[i])
		}
	}
	return b.String(), true
}
