// Package changes computes what changed between two versions of a campaign (SPEC R-VER-6): a
// structural diff of two JSON documents holding a version's frozen fields (name, kind, mode,
// start_at, end_at, content), with email bodies compared paragraph by paragraph.
//
// It imports only the standard library: its input is the generic value encoding/json decodes a
// version's JSON into (map[string]any, []any, string, float64, bool, nil), so it knows nothing of
// storage's types beyond the field names it uses for ordering, list identity and email bodies.
//
// # Paths
//
// A change's path names the value it concerns: object keys joined with dots and list indexes in
// brackets, as in "name", "content.segments[2]", "content.sequences[0].steps[1].subject" and, for
// email bodies, "content.sequences[0].steps[1].body.paragraphs[3]". A key that is not made of
// letters, digits and underscores is written as a quoted index: `content["odd key"]`. The index of
// a removed element is its index in the before version; every other index is the after version's.
//
// # Kinds
//
// A key or list element present only in the after version is "added" (Before null, After its whole
// value); present only in the before version, "removed" (Before its whole value, After null). A
// value present in both is compared further when both are objects or both are lists, and is
// otherwise "changed" with both values. null, a missing key, an empty list and an object whose
// fields are all nothing are all "nothing" and equal to each other: a list going from null to one
// element is that element added, not the list changed, and a key holding nothing is never reported.
//
// # Lists
//
// Lists are aligned, not compared index by index: the elements are matched by a longest common
// subsequence (an LCS over the list, after trimming the common head and tail), so inserting one
// element in the middle shows as one "added" and not as every following element "changed".
// Elements that are objects with a "name" (segments, prompts, sequences), a "step" (AI model
// configs) or a "url" (tracking links) are matched by that identity and then compared field by
// field, so an edited segment is reported as its changed fields wherever its neighbours moved.
// Other elements (sequence steps, filter values, paragraphs) match only when they are equal.
// Between two matched elements, the unmatched ones removed and added in the same place are paired
// (as many as the shorter side has, choosing the order-keeping pairing of the most similar ones)
// and compared as "changed": a renamed segment is its name changed, an edited paragraph is that
// paragraph changed. An element moved to another place in its list is therefore "removed" at its
// old index and "added" at its new one: the kinds of R-VER-6 have no "moved", and a reordering is
// a real change of what is sent (sequence steps, pipeline order) that an approver must see.
// Matching by identity rather than by index keeps a reordering of named things from turning into
// a cascade of unrelated field changes. The alignment takes time and memory in the product of the
// lengths of the two lists' differing middles (a campaign's lists and bodies are short); beyond a
// million cells the middles are compared position by position instead.
//
// # Email bodies
//
// A string under the key "body" (a sequence step's email body) is split into paragraphs on blank
// lines (see Paragraphs) and its paragraphs are aligned like a list, with paths ending in
// ".paragraphs[i]". When two bodies differ only in the blank lines between their paragraphs, the
// body itself is reported "changed", so no difference between two versions goes unreported.
//
// # Order
//
// Changes come in document order: the keys of an object in the order of the campaign version's
// fields (name, kind, mode, start_at, end_at, content; segments, prompts, ai_model_configs,
// sequences, tracking_links; and each element's fields in their storage order), unknown keys after
// them in byte order; list elements and paragraphs in the order of the alignment. The same two
// inputs always give the same changes.
package changes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Kind says how a value changed: Added, Removed or Changed.
type Kind string

// The kinds of change of R-VER-6.
const (
	// Added is a key or list element present only in the after version.
	Added Kind = "added"
	// Removed is a key or list element present only in the before version.
	Removed Kind = "removed"
	// Changed is a value present in both versions that differs.
	Changed Kind = "changed"
)

// Change is one difference between two versions, in the JSON shape of R-VER-6. Before is null for
// an added value and After for a removed one. Before and After share the inputs' values (an added
// segment's After is the after document's map itself): treat them as read-only.
type Change struct {
	Path   string `json:"path"`
	Kind   Kind   `json:"kind"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

// Between returns the changes from before to after, two versions decoded from JSON into
// map[string]any (see the package comment for paths, kinds, lists, bodies and order). A nil before
// is the first approval's missing base: every non-empty top-level field of after is "added".
// Identical inputs give no changes. The result is never nil, so it encodes as [] in JSON.
//
// Inputs are expected in encoding/json's generic shapes; numbers may also be json.Number or Go
// integers, and any other type is compared with reflect.DeepEqual as a whole.
func Between(before, after map[string]any) []Change {
	d := differ{out: []Change{}}
	d.objects(before, after)
	return d.out
}

// BetweenJSON decodes two versions' JSON documents with encoding/json and returns Between of them. An
// empty or null before is a first approval.
func BetweenJSON(before, after []byte) ([]Change, error) {
	b, err := decodeObject(before, true)
	if err != nil {
		return nil, fmt.Errorf("changes: before: %w", err)
	}
	a, err := decodeObject(after, false)
	if err != nil {
		return nil, fmt.Errorf("changes: after: %w", err)
	}
	return Between(b, a), nil
}

// Count is the number of changes BetweenJSON finds from before to after: what approver emails and
// the inbox say of a request (R-VER-6).
func Count(before, after []byte) (int, error) {
	cs, err := BetweenJSON(before, after)
	return len(cs), err
}

func decodeObject(doc []byte, nullable bool) (map[string]any, error) {
	if t := bytes.TrimSpace(doc); nullable && (len(t) == 0 || string(t) == "null") {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// Paragraphs splits an email body into its paragraphs: runs of lines separated by one or more blank
// lines (lines of only white space). "\r\n" counts as "\n"; a paragraph keeps its inner line breaks
// and its text exactly, and leading and trailing blank lines make no paragraph. It splits on "\n"
// only, so multi-byte characters are never cut.
func Paragraphs(body string) []string {
	if strings.IndexByte(body, '\r') >= 0 {
		body = strings.ReplaceAll(body, "\r\n", "\n")
	}
	var out []string
	start, end := -1, -1 // the current paragraph's first byte and the end of its last non-blank line
	for pos := 0; pos <= len(body); {
		nl := strings.IndexByte(body[pos:], '\n')
		lineEnd := len(body)
		if nl >= 0 {
			lineEnd = pos + nl
		}
		if strings.TrimSpace(body[pos:lineEnd]) == "" {
			if start >= 0 {
				out = append(out, body[start:end])
				start = -1
			}
		} else {
			if start < 0 {
				start = pos
			}
			end = lineEnd
		}
		if nl < 0 {
			break
		}
		pos = lineEnd + 1
	}
	if start >= 0 {
		out = append(out, body[start:end])
	}
	return out
}

// fieldRank orders the keys of an object as the version's fields are ordered in storage (the
// version's frozen fields, then CampaignContent, SearchFilters, Prompt, AIModelConfig, Sequence,
// SequenceStep, TrackingLink); every struct's fields are in increasing rank.
var fieldRank = func() map[string]int {
	order := []string{
		"name", "kind", "mode", "start_at", "end_at", "content",
		"segments", "prompts", "ai_model_configs", "sequences", "tracking_links",
		"filters", "titles", "industries", "countries", "company_size_min", "company_size_max", "keywords",
		"text",
		"step", "provider", "model", "temperature",
		"steps", "subject", "body", "delay_days",
		"url", "label",
	}
	m := make(map[string]int, len(order))
	for i, k := range order {
		m[k] = i
	}
	return m
}()

// identityFields are the fields that name a list element, tried in order.
var identityFields = []string{"name", "step", "url"}

// bodyKey is the key of the strings compared paragraph by paragraph.
const bodyKey = "body"

// maxCells bounds the tables of an alignment (LCS and pairing); a longer middle than that is
// compared position by position instead.
const maxCells = 1 << 20

type differ struct {
	path []byte
	out  []Change
}

func (d *differ) emit(kind Kind, before, after any) {
	d.out = append(d.out, Change{Path: string(d.path), Kind: kind, Before: before, After: after})
}

// pushKey appends an object key to the path and returns the length to restore.
func (d *differ) pushKey(k string) int {
	n := len(d.path)
	if isIdent(k) {
		if n > 0 {
			d.path = append(d.path, '.')
		}
		d.path = append(d.path, k...)
	} else {
		d.path = append(d.path, '[')
		d.path = strconv.AppendQuote(d.path, k)
		d.path = append(d.path, ']')
	}
	return n
}

// pushIndex appends a list index to the path and returns the length to restore.
func (d *differ) pushIndex(i int) int {
	n := len(d.path)
	d.path = append(d.path, '[')
	d.path = strconv.AppendInt(d.path, int64(i), 10)
	d.path = append(d.path, ']')
	return n
}

func isIdent(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// value compares two values found under key (empty for list elements).
func (d *differ) value(key string, a, b any) {
	switch av := a.(type) {
	case map[string]any:
		if bm, ok := asObject(b); ok {
			d.objects(av, bm)
			return
		}
	case []any:
		if bl, ok := asList(b); ok {
			d.lists(av, bl)
			return
		}
	case string:
		if bs, ok := b.(string); ok {
			if av == bs {
				return
			}
			if key == bodyKey {
				d.body(av, bs)
				return
			}
			d.emit(Changed, a, b)
			return
		}
	case nil:
		switch bv := b.(type) {
		case map[string]any:
			d.objects(nil, bv)
			return
		case []any:
			d.lists(nil, bv)
			return
		}
	}
	if !equal(a, b) {
		d.emit(Changed, a, b)
	}
}

func asObject(v any) (map[string]any, bool) {
	switch x := v.(type) {
	case map[string]any:
		return x, true
	case nil:
		return nil, true
	}
	return nil, false
}

func asList(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case nil:
		return nil, true
	}
	return nil, false
}

func (d *differ) objects(a, b map[string]any) {
	for _, k := range orderedKeys(a, b) {
		av, ina := a[k]
		bv, inb := b[k]
		mark := d.pushKey(k)
		switch {
		case !ina:
			if !isEmpty(bv) {
				d.emit(Added, nil, bv)
			}
		case !inb:
			if !isEmpty(av) {
				d.emit(Removed, av, nil)
			}
		default:
			d.value(k, av, bv)
		}
		d.path = d.path[:mark]
	}
}

// orderedKeys is the union of the keys of a and b, known fields first in their rank, the rest in
// byte order.
func orderedKeys(a, b map[string]any) []string {
	keys := make([]string, 0, max(len(a), len(b)))
	for k := range b {
		keys = append(keys, k)
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(x, y string) int {
		rx, okx := fieldRank[x]
		ry, oky := fieldRank[y]
		switch {
		case okx && oky:
			return rx - ry
		case okx:
			return -1
		case oky:
			return 1
		}
		return strings.Compare(x, y)
	})
	return keys
}

func (d *differ) lists(a, b []any) {
	ops := align(len(a), len(b),
		func(i, j int) bool { return sameElement(a[i], b[j]) },
		func(i, j int) float64 { return similarity(a[i], b[j]) })
	for _, op := range ops {
		switch op.kind {
		case opKeep, opPair:
			mark := d.pushIndex(op.j)
			d.value("", a[op.i], b[op.j])
			d.path = d.path[:mark]
		case opDelete:
			mark := d.pushIndex(op.i)
			d.emit(Removed, a[op.i], nil)
			d.path = d.path[:mark]
		case opInsert:
			mark := d.pushIndex(op.j)
			d.emit(Added, nil, b[op.j])
			d.path = d.path[:mark]
		}
	}
}

// body compares two different email bodies paragraph by paragraph.
func (d *differ) body(a, b string) {
	pa, pb := Paragraphs(a), Paragraphs(b)
	ia, ib := intern(pa, pb)
	ops := align(len(pa), len(pb),
		func(i, j int) bool { return ia[i] == ib[j] },
		func(i, j int) float64 { return textSimilarity(pa[i], pb[j]) })
	before := len(d.out)
	mark := d.pushKey("paragraphs")
	for _, op := range ops {
		var m int
		switch op.kind {
		case opKeep:
			continue
		case opPair:
			m = d.pushIndex(op.j)
			d.emit(Changed, pa[op.i], pb[op.j])
		case opDelete:
			m = d.pushIndex(op.i)
			d.emit(Removed, pa[op.i], nil)
		case opInsert:
			m = d.pushIndex(op.j)
			d.emit(Added, nil, pb[op.j])
		}
		d.path = d.path[:m]
	}
	d.path = d.path[:mark]
	if len(d.out) == before { // same paragraphs, different blank lines
		d.emit(Changed, a, b)
	}
}

// intern numbers the distinct paragraphs of a and b, so that the alignment compares numbers.
func intern(a, b []string) (ia, ib []int) {
	ids := make(map[string]int, len(a)+len(b))
	number := func(ps []string) []int {
		out := make([]int, len(ps))
		for i, p := range ps {
			id, ok := ids[p]
			if !ok {
				id = len(ids)
				ids[p] = id
			}
			out[i] = id
		}
		return out
	}
	return number(a), number(b)
}

// Alignment of two sequences.

type opKind uint8

const (
	opKeep   opKind = iota // a[i] and b[j] match
	opPair                 // a[i] was replaced by b[j] in the same place
	opDelete               // a[i] is gone
	opInsert               // b[j] is new
)

type op struct {
	kind opKind
	i, j int
}

// align returns the edit script from a sequence of n elements to one of m: an LCS of the elements
// eq calls equal (common head and tail trimmed first), with each run of deletions and insertions
// between two kept elements paired as far as possible by sim (see pairGap). Ops come in document
// order.
func align(n, m int, eq func(i, j int) bool, sim func(i, j int) float64) []op {
	ops := make([]op, 0, max(n, m))
	head := 0
	for head < n && head < m && eq(head, head) {
		ops = append(ops, op{opKeep, head, head})
		head++
	}
	tail := 0
	for tail < n-head && tail < m-head && eq(n-1-tail, m-1-tail) {
		tail++
	}
	an, bm := n-head-tail, m-head-tail // the middle: a[head:head+an], b[head:head+bm]
	var dels, ins []int
	flush := func() {
		ops = pairGap(ops, dels, ins, sim)
		dels, ins = dels[:0], ins[:0]
	}
	switch {
	case an == 0 || bm == 0 || an*bm > maxCells:
		for i := range an {
			dels = append(dels, head+i)
		}
		for j := range bm {
			ins = append(ins, head+j)
		}
		flush()
	default:
		// lcs[i*(bm+1)+j] is the LCS length of a[head+i:head+an] and b[head+j:head+bm].
		w := bm + 1
		lcs := make([]int32, (an+1)*w)
		match := make([]bool, an*bm)
		for i := an - 1; i >= 0; i-- {
			for j := bm - 1; j >= 0; j-- {
				if eq(head+i, head+j) {
					match[i*bm+j] = true
					lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
				} else {
					lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
				}
			}
		}
		i, j := 0, 0
		for i < an && j < bm {
			switch {
			case match[i*bm+j]:
				flush()
				ops = append(ops, op{opKeep, head + i, head + j})
				i++
				j++
			case lcs[(i+1)*w+j] >= lcs[i*w+j+1]:
				dels = append(dels, head+i)
				i++
			default:
				ins = append(ins, head+j)
				j++
			}
		}
		for ; i < an; i++ {
			dels = append(dels, head+i)
		}
		for ; j < bm; j++ {
			ins = append(ins, head+j)
		}
		flush()
	}
	for t := range tail {
		ops = append(ops, op{opKeep, n - tail + t, m - tail + t})
	}
	return ops
}

// pairGap appends the ops of one gap, the deleted elements dels and inserted elements ins between
// two kept ones. min(len(dels), len(ins)) of them are paired, keeping their order: position by
// position when both sides are as long, otherwise the pairing with the greatest total similarity.
// Unpaired deletions come before unpaired insertions at the same place.
func pairGap(ops []op, dels, ins []int, sim func(i, j int) float64) []op {
	k, m := len(dels), len(ins)
	var pairs [][2]int // indexes into dels and ins
	switch {
	case k == 0 || m == 0:
	case k == m || k*m > maxCells:
		for x := range min(k, m) {
			pairs = append(pairs, [2]int{x, x})
		}
	default:
		// best[x*(m+1)+y] is the best score pairing dels[x:] with ins[y:]; every pair is worth
		// more than all similarities together, so the best pairing has as many pairs as possible.
		bonus := float64(min(k, m) + 1)
		w := m + 1
		best := make([]float64, (k+1)*w)
		score := make([]float64, k*m)
		for x := k - 1; x >= 0; x-- {
			for y := m - 1; y >= 0; y-- {
				score[x*m+y] = bonus + sim(dels[x], ins[y])
				best[x*w+y] = max(best[(x+1)*w+y], best[x*w+y+1], score[x*m+y]+best[(x+1)*w+y+1])
			}
		}
		x, y := 0, 0
		for x < k && y < m {
			switch best[x*w+y] {
			case score[x*m+y] + best[(x+1)*w+y+1]:
				pairs = append(pairs, [2]int{x, y})
				x++
				y++
			case best[(x+1)*w+y]:
				x++
			default:
				y++
			}
		}
	}
	x, y := 0, 0
	for _, p := range pairs {
		for ; x < p[0]; x++ {
			ops = append(ops, op{opDelete, dels[x], 0})
		}
		for ; y < p[1]; y++ {
			ops = append(ops, op{opInsert, 0, ins[y]})
		}
		ops = append(ops, op{opPair, dels[x], ins[y]})
		x++
		y++
	}
	for ; x < k; x++ {
		ops = append(ops, op{opDelete, dels[x], 0})
	}
	for ; y < m; y++ {
		ops = append(ops, op{opInsert, 0, ins[y]})
	}
	return ops
}

// Equality and similarity.

// identity is the field naming a list element and its value, if it has one.
func identity(v any) (field, name string, ok bool) {
	m, isMap := v.(map[string]any)
	if !isMap {
		return "", "", false
	}
	for _, f := range identityFields {
		if s, isStr := m[f].(string); isStr {
			return f, s, true
		}
	}
	return "", "", false
}

// sameElement reports whether two list elements are the same element: the same identity, or equal
// when neither has one.
func sameElement(a, b any) bool {
	fa, na, oka := identity(a)
	fb, nb, okb := identity(b)
	if oka || okb {
		return oka && okb && fa == fb && na == nb
	}
	return equal(a, b)
}

// isEmpty reports whether v is nothing: null, an empty list, or an object whose fields are all
// nothing.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		for _, f := range x {
			if !isEmpty(f) {
				return false
			}
		}
		return true
	case []any:
		return len(x) == 0
	}
	return false
}

// equal is deep equality of two JSON values, with every kind of nothing equal (see isEmpty) and
// numbers compared by value.
func equal(a, b any) bool {
	switch av := a.(type) {
	case nil:
		return isEmpty(b)
	case map[string]any:
		bm, ok := asObject(b)
		if !ok {
			return false
		}
		for k, v := range av {
			if bv, in := bm[k]; in {
				if !equal(v, bv) {
					return false
				}
			} else if !isEmpty(v) {
				return false
			}
		}
		for k, v := range bm {
			if _, in := av[k]; !in && !isEmpty(v) {
				return false
			}
		}
		return true
	case []any:
		bl, ok := asList(b)
		if !ok || len(av) != len(bl) {
			return false
		}
		for i := range av {
			if !equal(av[i], bl[i]) {
				return false
			}
		}
		return true
	case string:
		bs, ok := b.(string)
		return ok && av == bs
	case bool:
		bb, ok := b.(bool)
		return ok && av == bb
	}
	if b == nil {
		return isEmpty(a)
	}
	if af, ok := number(a); ok {
		bf, ok := number(b)
		return ok && af == bf
	}
	return reflect.DeepEqual(a, b)
}

// number is the value of a JSON number in any of the shapes a caller may hand in.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil && !math.IsInf(f, 0)
	}
	return 0, false
}

// similarity scores how alike two list elements are, from 0 to 1, to pair replaced elements:
// strings by textSimilarity, objects by the share of their fields that are equal (string fields
// counting their textSimilarity), anything else 1 when equal and 0 otherwise.
func similarity(a, b any) float64 {
	switch av := a.(type) {
	case string:
		if bs, ok := b.(string); ok {
			return textSimilarity(av, bs)
		}
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok {
			return 0
		}
		total, union := 0.0, len(bm)
		for k, v := range av {
			bv, in := bm[k]
			if !in {
				union++
				continue
			}
			if vs, ok := v.(string); ok {
				if bs, ok := bv.(string); ok {
					total += textSimilarity(vs, bs)
					continue
				}
			}
			if equal(v, bv) {
				total++
			}
		}
		if union == 0 {
			return 1
		}
		return total / float64(union)
	}
	if equal(a, b) {
		return 1
	}
	return 0
}

// textSimilarity is the Dice coefficient of the two strings' multisets of adjacent rune pairs (runes
// themselves for strings of one rune): 1 for equal strings, 0 for strings with nothing in common.
// It works on runes, so it is the same for any script.
func textSimilarity(a, b string) float64 {
	if a == b {
		return 1
	}
	ra, rb := []rune(a), []rune(b)
	if len(ra) < 2 || len(rb) < 2 {
		common := 0
		for _, r := range ra {
			if slices.Contains(rb, r) {
				common++
				break
			}
		}
		if common == 0 {
			return 0
		}
		return 2 / float64(len(ra)+len(rb))
	}
	pairs := make(map[[2]rune]int, len(ra)-1)
	for i := 0; i+1 < len(ra); i++ {
		pairs[[2]rune{ra[i], ra[i+1]}]++
	}
	common := 0
	for i := 0; i+1 < len(rb); i++ {
		p := [2]rune{rb[i], rb[i+1]}
		if pairs[p] > 0 {
			pairs[p]--
			common++
		}
	}
	return 2 * float64(common) / float64(len(ra)-1+len(rb)-1)
}
