package changes_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/signoff/signoff/changes"
	"github.com/signoff/signoff/demodata"
	"github.com/signoff/signoff/storage"
)

// doc decodes a JSON object the way a version's canonical JSON is decoded.
func doc(t testing.TB, s string) map[string]any {
	t.Helper()
	if s == "" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return m
}

// ch builds an expected change; before and after are JSON texts ("" for null).
func ch(path string, kind changes.Kind, before, after string) changes.Change {
	c := changes.Change{Path: path, Kind: kind}
	if before != "" {
		if err := json.Unmarshal([]byte(before), &c.Before); err != nil {
			panic(before)
		}
	}
	if after != "" {
		if err := json.Unmarshal([]byte(after), &c.After); err != nil {
			panic(after)
		}
	}
	return c
}

func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func js(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkChanges compares got and want by their JSON, one change a line.
func checkChanges(t *testing.T, got, want []changes.Change) {
	t.Helper()
	lines := func(cs []changes.Change) string {
		var b strings.Builder
		for _, c := range cs {
			b.WriteString(js(t, c))
			b.WriteByte('\n')
		}
		return b.String()
	}
	if g, w := lines(got), lines(want); g != w {
		t.Errorf("changes differ\n got:\n%s\nwant:\n%s", g, w)
	}
}

// segments is a content with two segments and one sequence step, the base of the nested cases.
const base = `{"name":"Q1","kind":"campaign","mode":"active","start_at":null,"end_at":"2027-01-31T00:00:00Z",
 "content":{
  "segments":[
   {"name":"Fintech","filters":{"titles":["CFO","VP Finance"],"industries":["Fintech"],"countries":null,"company_size_min":null,"company_size_max":null,"keywords":null}},
   {"name":"Software","filters":{"titles":["CFO"],"industries":["Software"],"countries":null,"company_size_min":50,"company_size_max":2000,"keywords":null}}],
  "prompts":[{"name":"Opening","text":"Write one sentence."}],
  "ai_model_configs":[{"step":"qualify","provider":"local","model":"rules-v1","temperature":0},{"step":"personalise","provider":"local","model":"rules-v1","temperature":0.4}],
  "sequences":[{"name":"Outreach","steps":[
   {"subject":"Hello","body":"Hi,\n\nFirst.\n\nSecond.\n\nBye.","delay_days":0},
   {"subject":"Again","body":"Hi again.","delay_days":3}]}],
  "tracking_links":[{"url":"https://x.example/a","label":"A"}]}}`

// edit applies fn to a decoded copy of base and returns it.
func edit(t testing.TB, fn func(v map[string]any)) map[string]any {
	v := doc(t, base)
	fn(v)
	return v
}

func content(v map[string]any) map[string]any { return v["content"].(map[string]any) }
func list(v map[string]any, k string) []any   { return v[k].([]any) }
func obj(v any) map[string]any                { return v.(map[string]any) }
func seg(v map[string]any, i int) map[string]any {
	return obj(list(content(v), "segments")[i])
}
func filters(v map[string]any, i int) map[string]any { return obj(seg(v, i)["filters"]) }
func step(v map[string]any, s, i int) map[string]any {
	return obj(list(obj(list(content(v), "sequences")[s]), "steps")[i])
}

func TestBetween(t *testing.T) {
	segFintech := `{"name":"Fintech","filters":{"titles":["CFO","VP Finance"],"industries":["Fintech"],"countries":null,"company_size_min":null,"company_size_max":null,"keywords":null}}`
	segSoftware := `{"name":"Software","filters":{"titles":["CFO"],"industries":["Software"],"countries":null,"company_size_min":50,"company_size_max":2000,"keywords":null}}`
	newSeg := map[string]any{"name": "Banks", "filters": map[string]any{"titles": []any{"CFO"}}}
	cases := []struct {
		name   string
		before map[string]any
		after  map[string]any
		want   []changes.Change
	}{
		{"identical inputs", doc(t, base), doc(t, base), nil},
		{"both nil", nil, nil, nil},
		{"nil base: every non-empty top-level field added, in field order", nil,
			doc(t, `{"content":{"segments":[{"name":"S"}]},"start_at":null,"end_at":{"x":[]},"mode":"test","name":"N","zzz":1}`),
			[]changes.Change{ch("name", changes.Added, "", `"N"`), ch("mode", changes.Added, "", `"test"`),
				ch("content", changes.Added, "", `{"segments":[{"name":"S"}]}`), ch("zzz", changes.Added, "", `1`)}},
		{"top-level field changed", doc(t, base), edit(t, func(v map[string]any) { v["name"] = "Q2" }),
			[]changes.Change{ch("name", changes.Changed, `"Q1"`, `"Q2"`)}},
		{"top-level null to a value is changed", doc(t, base), edit(t, func(v map[string]any) { v["start_at"] = "2027-01-01T00:00:00Z" }),
			[]changes.Change{ch("start_at", changes.Changed, "", `"2027-01-01T00:00:00Z"`)}},
		{"top-level value to null is changed", doc(t, base), edit(t, func(v map[string]any) { v["end_at"] = nil }),
			[]changes.Change{ch("end_at", changes.Changed, `"2027-01-31T00:00:00Z"`, "")}},
		{"several top-level fields, in field order", doc(t, base), edit(t, func(v map[string]any) {
			v["mode"] = "passive"
			v["kind"] = "journey"
			v["name"] = "Q2"
		}), []changes.Change{ch("name", changes.Changed, `"Q1"`, `"Q2"`), ch("kind", changes.Changed, `"campaign"`, `"journey"`),
			ch("mode", changes.Changed, `"active"`, `"passive"`)}},
		{"top-level key added and removed", doc(t, base), edit(t, func(v map[string]any) {
			delete(v, "mode")
			v["note"] = "new"
		}), []changes.Change{ch("mode", changes.Removed, `"active"`, ""), ch("note", changes.Added, "", `"new"`)}},
		{"missing key and null are the same", doc(t, `{"a":null,"b":[],"c":{}}`), doc(t, `{"d":null,"e":{"f":[]}}`), nil},
		{"null list and empty list are the same", doc(t, `{"l":null}`), doc(t, `{"l":[]}`), nil},
		{"numbers compare by value", map[string]any{"n": json.Number("3.0"), "m": 2}, map[string]any{"n": 3.0, "m": int64(2)}, nil},
		{"a value changing type is changed", doc(t, `{"f":{"a":1}}`), doc(t, `{"f":"x"}`),
			[]changes.Change{ch("f", changes.Changed, `{"a":1}`, `"x"`)}},
		{"odd keys are quoted", doc(t, `{"x":{"a b":1,"ü":2}}`), doc(t, `{"x":{"a b":2,"ü":3}}`),
			[]changes.Change{ch(`x["a b"]`, changes.Changed, `1`, `2`), ch(`x["ü"]`, changes.Changed, `2`, `3`)}},

		// Nested filters.
		{"filter value appended", doc(t, base), edit(t, func(v map[string]any) {
			f := filters(v, 0)
			f["titles"] = append(f["titles"].([]any), "Head of Finance")
		}), []changes.Change{ch("content.segments[0].filters.titles[2]", changes.Added, "", `"Head of Finance"`)}},
		{"filter value inserted first", doc(t, base), edit(t, func(v map[string]any) {
			f := filters(v, 0)
			f["titles"] = append([]any{"Controller"}, f["titles"].([]any)...)
		}), []changes.Change{ch("content.segments[0].filters.titles[0]", changes.Added, "", `"Controller"`)}},
		{"filter value removed", doc(t, base), edit(t, func(v map[string]any) { filters(v, 0)["titles"] = []any{"VP Finance"} }),
			[]changes.Change{ch("content.segments[0].filters.titles[0]", changes.Removed, `"CFO"`, "")}},
		{"filter value replaced", doc(t, base), edit(t, func(v map[string]any) { filters(v, 1)["industries"] = []any{"Banking"} }),
			[]changes.Change{ch("content.segments[1].filters.industries[0]", changes.Changed, `"Software"`, `"Banking"`)}},
		{"filter list from null", doc(t, base), edit(t, func(v map[string]any) { filters(v, 0)["countries"] = []any{"United Kingdom"} }),
			[]changes.Change{ch("content.segments[0].filters.countries[0]", changes.Added, "", `"United Kingdom"`)}},
		{"filter list emptied", doc(t, base), edit(t, func(v map[string]any) { filters(v, 1)["titles"] = nil }),
			[]changes.Change{ch("content.segments[1].filters.titles[0]", changes.Removed, `"CFO"`, "")}},
		{"filter number set and changed", doc(t, base), edit(t, func(v map[string]any) {
			filters(v, 0)["company_size_min"] = 10.0
			filters(v, 1)["company_size_max"] = 5000.0
		}), []changes.Change{ch("content.segments[0].filters.company_size_min", changes.Changed, "", `10`),
			ch("content.segments[1].filters.company_size_max", changes.Changed, `2000`, `5000`)}},
		{"filter key added", doc(t, base), edit(t, func(v map[string]any) { filters(v, 0)["seniority"] = "C-level" }),
			[]changes.Change{ch("content.segments[0].filters.seniority", changes.Added, "", `"C-level"`)}},

		// List elements (named things).
		{"segment appended", doc(t, base), edit(t, func(v map[string]any) {
			content(v)["segments"] = append(list(content(v), "segments"), newSeg)
		}), []changes.Change{ch("content.segments[2]", changes.Added, "", js(t, newSeg))}},
		{"segment inserted in the middle is one added", doc(t, base), edit(t, func(v map[string]any) {
			s := list(content(v), "segments")
			content(v)["segments"] = []any{s[0], newSeg, s[1]}
		}), []changes.Change{ch("content.segments[1]", changes.Added, "", js(t, newSeg))}},
		{"segment removed", doc(t, base), edit(t, func(v map[string]any) {
			content(v)["segments"] = list(content(v), "segments")[1:]
		}), []changes.Change{ch("content.segments[0]", changes.Removed, segFintech, "")}},
		{"last segment removed", doc(t, base), edit(t, func(v map[string]any) {
			content(v)["segments"] = list(content(v), "segments")[:1]
		}), []changes.Change{ch("content.segments[1]", changes.Removed, segSoftware, "")}},
		{"segment renamed is its name changed", doc(t, base), edit(t, func(v map[string]any) { seg(v, 1)["name"] = "SaaS" }),
			[]changes.Change{ch("content.segments[1].name", changes.Changed, `"Software"`, `"SaaS"`)}},
		{"edited segment matched by name after an insert before it", doc(t, base), edit(t, func(v map[string]any) {
			s := list(content(v), "segments")
			filters(v, 1)["keywords"] = []any{"payments"}
			content(v)["segments"] = []any{newSeg, s[0], s[1]}
		}), []changes.Change{ch("content.segments[0]", changes.Added, "", js(t, newSeg)),
			ch("content.segments[2].filters.keywords[0]", changes.Added, "", `"payments"`)}},
		{"segments swapped: removed and added", doc(t, base), edit(t, func(v map[string]any) {
			s := list(content(v), "segments")
			content(v)["segments"] = []any{s[1], s[0]}
		}), []changes.Change{ch("content.segments[0]", changes.Removed, segFintech, ""),
			ch("content.segments[1]", changes.Added, "", segFintech)}},
		{"prompt text changed", doc(t, base), edit(t, func(v map[string]any) {
			obj(list(content(v), "prompts")[0])["text"] = "Write two sentences."
		}), []changes.Change{ch("content.prompts[0].text", changes.Changed, `"Write one sentence."`, `"Write two sentences."`)}},
		{"AI config matched by step", doc(t, base), edit(t, func(v map[string]any) {
			c := list(content(v), "ai_model_configs")
			obj(c[1])["temperature"] = 0.7
			obj(c[1])["model"] = "gpt"
		}), []changes.Change{ch("content.ai_model_configs[1].model", changes.Changed, `"rules-v1"`, `"gpt"`),
			ch("content.ai_model_configs[1].temperature", changes.Changed, `0.4`, `0.7`)}},
		{"tracking link label changed, link added", doc(t, base), edit(t, func(v map[string]any) {
			l := list(content(v), "tracking_links")
			obj(l[0])["label"] = "Guide"
			content(v)["tracking_links"] = append(l, map[string]any{"url": "https://x.example/b", "label": "B"})
		}), []changes.Change{ch("content.tracking_links[0].label", changes.Changed, `"A"`, `"Guide"`),
			ch("content.tracking_links[1]", changes.Added, "", `{"url":"https://x.example/b","label":"B"}`)}},
		{"tracking link url replaced", doc(t, base), edit(t, func(v map[string]any) {
			obj(list(content(v), "tracking_links")[0])["url"] = "https://x.example/c"
		}), []changes.Change{ch("content.tracking_links[0].url", changes.Changed, `"https://x.example/a"`, `"https://x.example/c"`)}},
		{"content list emptied to null", doc(t, base), edit(t, func(v map[string]any) { content(v)["prompts"] = nil }),
			[]changes.Change{ch("content.prompts[0]", changes.Removed, `{"name":"Opening","text":"Write one sentence."}`, "")}},

		// Sequences and steps.
		{"step fields changed", doc(t, base), edit(t, func(v map[string]any) {
			step(v, 0, 1)["subject"] = "Once more"
			step(v, 0, 1)["delay_days"] = 5.0
		}), []changes.Change{ch("content.sequences[0].steps[1].subject", changes.Changed, `"Again"`, `"Once more"`),
			ch("content.sequences[0].steps[1].delay_days", changes.Changed, `3`, `5`)}},
		{"step inserted between", doc(t, base), edit(t, func(v map[string]any) {
			sq := obj(list(content(v), "sequences")[0])
			s := list(sq, "steps")
			sq["steps"] = []any{s[0], map[string]any{"subject": "Mid", "body": "Middle.", "delay_days": 1.0}, s[1]}
		}), []changes.Change{ch("content.sequences[0].steps[1]", changes.Added, "", `{"subject":"Mid","body":"Middle.","delay_days":1}`)}},
		{"step inserted before an edited step", doc(t, base), edit(t, func(v map[string]any) {
			sq := obj(list(content(v), "sequences")[0])
			s := list(sq, "steps")
			obj(s[1])["delay_days"] = 4.0
			sq["steps"] = []any{s[0], map[string]any{"subject": "Mid", "body": "Middle.", "delay_days": 1.0}, s[1]}
		}), []changes.Change{ch("content.sequences[0].steps[1]", changes.Added, "", `{"subject":"Mid","body":"Middle.","delay_days":1}`),
			ch("content.sequences[0].steps[2].delay_days", changes.Changed, `3`, `4`)}},
		{"step removed", doc(t, base), edit(t, func(v map[string]any) {
			sq := obj(list(content(v), "sequences")[0])
			sq["steps"] = list(sq, "steps")[:1]
		}), []changes.Change{ch("content.sequences[0].steps[1]", changes.Removed, `{"subject":"Again","body":"Hi again.","delay_days":3}`, "")}},
		{"sequence added", doc(t, base), edit(t, func(v map[string]any) {
			content(v)["sequences"] = append(list(content(v), "sequences"), map[string]any{"name": "Nurture", "steps": []any{}})
		}), []changes.Change{ch("content.sequences[1]", changes.Added, "", `{"name":"Nurture","steps":[]}`)}},

		// Email bodies, paragraph by paragraph.
		{"paragraph edited", doc(t, base), edit(t, func(v map[string]any) { step(v, 0, 0)["body"] = "Hi,\n\nFirst.\n\nSecond, better.\n\nBye." }),
			[]changes.Change{ch("content.sequences[0].steps[0].body.paragraphs[2]", changes.Changed, `"Second."`, `"Second, better."`)}},
		{"paragraph inserted is one added", doc(t, base), edit(t, func(v map[string]any) { step(v, 0, 0)["body"] = "Hi,\n\nNew.\n\nFirst.\n\nSecond.\n\nBye." }),
			[]changes.Change{ch("content.sequences[0].steps[0].body.paragraphs[1]", changes.Added, "", `"New."`)}},
		{"paragraph appended", doc(t, base), edit(t, func(v map[string]any) { step(v, 0, 0)["body"] = "Hi,\n\nFirst.\n\nSecond.\n\nBye.\n\nP.S." }),
			[]changes.Change{ch("content.sequences[0].steps[0].body.paragraphs[4]", changes.Added, "", `"P.S."`)}},
		{"paragraph deleted", doc(t, base), edit(t, func(v map[string]any) { step(v, 0, 0)["body"] = "Hi,\n\nSecond.\n\nBye." }),
			[]changes.Change{ch("content.sequences[0].steps[0].body.paragraphs[1]", changes.Removed, `"First."`, "")}},
		{"paragraph moved: removed and added", doc(t, base), edit(t, func(v map[string]any) { step(v, 0, 0)["body"] = "Hi,\n\nSecond.\n\nBye.\n\nFirst." }),
			[]changes.Change{ch("content.sequences[0].steps[0].body.paragraphs[1]", changes.Removed, `"First."`, ""),
				ch("content.sequences[0].steps[0].body.paragraphs[3]", changes.Added, "", `"First."`)}},
		{"paragraph edited and one inserted before it: the similar one is paired", doc(t, base), edit(t, func(v map[string]any) {
			step(v, 0, 0)["body"] = "Hi,\n\nFirst.\n\nA brand new paragraph.\n\nSecond, better.\n\nBye."
		}), []changes.Change{ch("content.sequences[0].steps[0].body.paragraphs[2]", changes.Added, "", `"A brand new paragraph."`),
			ch("content.sequences[0].steps[0].body.paragraphs[3]", changes.Changed, `"Second."`, `"Second, better."`)}},
		{"paragraph edited and one inserted after it", doc(t, base), edit(t, func(v map[string]any) {
			step(v, 0, 0)["body"] = "Hi,\n\nFirst.\n\nSecond, better.\n\nA brand new paragraph.\n\nBye."
		}), []changes.Change{ch("content.sequences[0].steps[0].body.paragraphs[2]", changes.Changed, `"Second."`, `"Second, better."`),
			ch("content.sequences[0].steps[0].body.paragraphs[3]", changes.Added, "", `"A brand new paragraph."`)}},
		{"whole body rewritten from one paragraph", doc(t, base), edit(t, func(v map[string]any) { step(v, 0, 1)["body"] = "Hello again." }),
			[]changes.Change{ch("content.sequences[0].steps[1].body.paragraphs[0]", changes.Changed, `"Hi again."`, `"Hello again."`)}},
		{"body emptied", doc(t, base), edit(t, func(v map[string]any) { step(v, 0, 1)["body"] = "" }),
			[]changes.Change{ch("content.sequences[0].steps[1].body.paragraphs[0]", changes.Removed, `"Hi again."`, "")}},
		{"only blank lines differ: the body is changed", doc(t, base), edit(t, func(v map[string]any) {
			step(v, 0, 0)["body"] = "Hi,\n\n\n\nFirst.\n  \nSecond.\n\nBye.\n"
		}), []changes.Change{ch("content.sequences[0].steps[0].body", changes.Changed, q("Hi,\n\nFirst.\n\nSecond.\n\nBye."), q("Hi,\n\n\n\nFirst.\n  \nSecond.\n\nBye.\n"))}},
		{"a line break inside a paragraph is an edit of it", doc(t, base), edit(t, func(v map[string]any) { step(v, 0, 0)["body"] = "Hi,\n\nFirst.\nStill first.\n\nSecond.\n\nBye." }),
			[]changes.Change{ch("content.sequences[0].steps[0].body.paragraphs[1]", changes.Changed, `"First."`, q("First.\nStill first."))}},
		{"other long strings are compared whole", doc(t, `{"text":"a\n\nb"}`), doc(t, `{"text":"a\n\nc"}`),
			[]changes.Change{ch("text", changes.Changed, q("a\n\nb"), q("a\n\nc"))}},

		// Unicode.
		{"emoji paragraph edited", doc(t, `{"body":"Hi 👋\n\nLaunch 🚀 today"}`), doc(t, `{"body":"Hi 👋\n\nLaunch 🚀🚀 tomorrow 👩‍💻"}`),
			[]changes.Change{ch("body.paragraphs[1]", changes.Changed, `"Launch 🚀 today"`, `"Launch 🚀🚀 tomorrow 👩‍💻"`)}},
		{"CJK paragraphs inserted and edited", doc(t, `{"body":"您好，\n\n我们的产品可以帮助财务团队。\n\n谢谢。"}`),
			doc(t, `{"body":"您好，\n\n我们的产品可以帮助财务团队更快结账。\n\n月末结账只需三天。\n\n谢谢。"}`),
			[]changes.Change{ch("body.paragraphs[1]", changes.Changed, `"我们的产品可以帮助财务团队。"`, `"我们的产品可以帮助财务团队更快结账。"`),
				ch("body.paragraphs[2]", changes.Added, "", `"月末结账只需三天。"`)}},
		{"Japanese paragraphs split on an ideographic-space line", doc(t, `{"body":"こんにちは\n\u3000\nさようなら"}`), doc(t, `{"body":"こんにちは\n\u3000\nまたね"}`),
			[]changes.Change{ch("body.paragraphs[1]", changes.Changed, `"さようなら"`, `"またね"`)}},
		{"combining mark versus precomposed letter is a change", doc(t, `{"name":"Cafe\u0301","body":"Cafe\u0301\n\nna\u00efve"}`),
			doc(t, `{"name":"Caf\u00e9","body":"Cafe\u0301\n\nnai\u0308ve"}`),
			[]changes.Change{ch("name", changes.Changed, `"Cafe\u0301"`, `"Caf\u00e9"`),
				ch("body.paragraphs[1]", changes.Changed, `"na\u00efve"`, `"nai\u0308ve"`)}},
		{"unicode segment names matched by name", doc(t, `{"segments":[{"name":"Zürich 🏦"},{"name":"東京"}]}`),
			doc(t, `{"segments":[{"name":"東京","x":1},{"name":"Zürich 🏦"}]}`),
			[]changes.Change{ch("segments[0]", changes.Removed, `{"name":"Zürich 🏦"}`, ""),
				ch("segments[0].x", changes.Added, "", `1`), ch("segments[1]", changes.Added, "", `{"name":"Zürich 🏦"}`)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := changes.Between(tc.before, tc.after)
			if got == nil {
				t.Fatal("Between returned nil; want a non-nil slice")
			}
			checkChanges(t, got, tc.want)
			for _, c := range got {
				for _, v := range []any{c.Before, c.After} {
					if s, ok := v.(string); ok && !utf8.ValidString(s) {
						t.Errorf("%s: invalid UTF-8 %q", c.Path, s)
					}
				}
			}
			// Reversed, there are changes exactly when there were.
			if back := changes.Between(tc.after, tc.before); (len(back) == 0) != (len(got) == 0) {
				t.Errorf("reversed: %d changes, forward %d: %s", len(back), len(got), js(t, back))
			}
		})
	}
}

func TestVeryLongListsComparedByPosition(t *testing.T) {
	var a, b []any
	for i := range 1100 {
		a = append(a, "a"+time.Duration(i).String())
		b = append(b, "b"+time.Duration(i).String())
	}
	b = append(b, "extra")
	got := changes.Between(map[string]any{"l": a}, map[string]any{"l": b})
	if len(got) != 1101 || got[0].Path != "l[0]" || got[0].Kind != changes.Changed || got[1100].Kind != changes.Added {
		t.Errorf("%d changes, first %+v, last %+v", len(got), got[0], got[len(got)-1])
	}
}

func TestParagraphs(t *testing.T) {
	cases := []struct {
		name string
		body string
		want []string
	}{
		{"empty", "", nil},
		{"only blank lines", "\n \n\t\n", nil},
		{"one paragraph", "Hello", []string{"Hello"}},
		{"blank line separates", "a\n\nb", []string{"a", "b"}},
		{"several blank lines and white space", "\n\na\n \n\t\n\nb\n\n", []string{"a", "b"}},
		{"single newline stays inside", "a\nb\n\nc", []string{"a\nb", "c"}},
		{"CRLF", "a\r\nb\r\n\r\nc\r\n", []string{"a\nb", "c"}},
		{"inner spaces kept", "  indented\n\nx  ", []string{"  indented", "x  "}},
		{"emoji and ZWJ", "👩‍👩‍👧\n\n🇫🇷 ok", []string{"👩‍👩‍👧", "🇫🇷 ok"}},
		{"CJK and ideographic space line", "第一段。\n\u3000\n第二段。", []string{"第一段。", "第二段。"}},
		{"combining marks", "e\u0301\u0301\n\nn\u0303", []string{"e\u0301\u0301", "n\u0303"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := changes.Paragraphs(tc.body)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Paragraphs(%q) = %q, want %q", tc.body, got, tc.want)
			}
		})
	}
}

func TestChangeJSON(t *testing.T) {
	got := js(t, []changes.Change{
		{Path: "content.segments[0]", Kind: changes.Added, After: map[string]any{"name": "S"}},
		{Path: "name", Kind: changes.Changed, Before: "a", After: "b"},
	})
	want := `[{"path":"content.segments[0]","kind":"added","before":null,"after":{"name":"S"}},{"path":"name","kind":"changed","before":"a","after":"b"}]`
	if got != want {
		t.Errorf("JSON:\n got %s\nwant %s", got, want)
	}
	if s := js(t, changes.Between(nil, nil)); s != "[]" {
		t.Errorf("no changes encode as %s, want []", s)
	}
}

func TestBetweenJSON(t *testing.T) {
	after := []byte(`{"name":"b","content":{"prompts":[]}}`)
	for _, before := range [][]byte{nil, []byte(""), []byte(" null ")} {
		got, err := changes.BetweenJSON(before, after)
		if err != nil {
			t.Fatal(err)
		}
		checkChanges(t, got, []changes.Change{ch("name", changes.Added, "", `"b"`)})
	}
	got, err := changes.BetweenJSON([]byte(`{ "content": {"prompts": null}, "name": "a" }`), after)
	if err != nil {
		t.Fatal(err)
	}
	checkChanges(t, got, []changes.Change{ch("name", changes.Changed, `"a"`, `"b"`)})
	for _, bad := range []struct{ before, after string }{{`[]`, `{}`}, {`{}`, `null`}, {`{}`, `{`}, {`{}`, ``}, {`"x"`, `{}`}} {
		if _, err := changes.BetweenJSON([]byte(bad.before), []byte(bad.after)); err == nil {
			t.Errorf("BetweenJSON(%s, %s): no error", bad.before, bad.after)
		}
	}
}

// version is a campaign version's frozen fields, as the version's canonical JSON holds them.
type version struct {
	Name    string                  `json:"name"`
	Kind    string                  `json:"kind"`
	Mode    string                  `json:"mode"`
	StartAt *time.Time              `json:"start_at"`
	EndAt   *time.Time              `json:"end_at"`
	Content storage.CampaignContent `json:"content"`
}

// fintechVersions are two versions of the demo fintech campaign: as created, and after a round of
// edits an approver would review (name, a filter, a temperature, a paragraph edited, one inserted,
// a delay, a tracking link).
func fintechVersions(t testing.TB) (v1, v2 []byte) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	c := demodata.Campaigns(now)[0]
	ver := version{Name: c.Name, Kind: c.Kind, Mode: c.Mode, StartAt: c.StartAt, EndAt: c.EndAt, Content: c.Content}
	v1 = []byte(js(t, ver))

	c = demodata.Campaigns(now)[0] // fresh values to edit
	ct := &c.Content
	c.Name += " (rev. 2)"
	ct.Segments[1].Filters.Industries = append(ct.Segments[1].Filters.Industries, "Banking")
	ct.AIModelConfigs[2].Temperature = 0.5
	steps := ct.Sequences[0].Steps
	ps := changes.Paragraphs(steps[0].Body)
	ps[2] = strings.Replace(ps[2], "three days instead of ten", "three days instead of twelve", 1)
	steps[0].Body = strings.Join(ps, "\n\n")
	ps = changes.Paragraphs(steps[1].Body)
	ps = slices.Insert(ps, 2, "The write-up includes a checklist you can copy into your close calendar.")
	steps[1].Body = strings.Join(ps, "\n\n")
	steps[2].DelayDays = 10
	ct.TrackingLinks = append(ct.TrackingLinks, storage.TrackingLink{URL: "https://signoff-demo.example/pricing", Label: "Pricing"})
	ver = version{Name: c.Name, Kind: c.Kind, Mode: c.Mode, StartAt: c.StartAt, EndAt: c.EndAt, Content: c.Content}
	return v1, []byte(js(t, ver))
}

func TestBetweenFintech(t *testing.T) {
	v1, v2 := fintechVersions(t)
	got, err := changes.BetweenJSON(v1, v2)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, c := range got {
		paths = append(paths, string(c.Kind)+" "+c.Path)
	}
	want := []string{
		"changed name",
		"added content.segments[1].filters.industries[1]",
		"changed content.ai_model_configs[2].temperature",
		"changed content.sequences[0].steps[0].body.paragraphs[2]",
		"added content.sequences[0].steps[1].body.paragraphs[2]",
		"changed content.sequences[0].steps[2].delay_days",
		"added content.tracking_links[2]",
	}
	if !slices.Equal(paths, want) {
		t.Errorf("changes:\n got %q\nwant %q", paths, want)
	}
	first, err := changes.BetweenJSON(nil, v1)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 6 {
		t.Errorf("first approval: %d changes, want the 6 frozen fields added: %s", len(first), js(t, first))
	}
	same, err := changes.BetweenJSON(v1, v1)
	if err != nil || len(same) != 0 {
		t.Errorf("a version against itself: %v, %s", err, js(t, same))
	}
	for range 20 { // deterministic whatever the maps' order
		again, _ := changes.BetweenJSON(v1, v2)
		if js(t, again) != js(t, got) {
			t.Fatalf("not deterministic:\n%s\n%s", js(t, again), js(t, got))
		}
	}
}

// BenchmarkBetweenFintech measures what GET /v1/approval-requests/{id}/changes computes: decoding
// two versions of the demo fintech campaign from JSON and diffing them. It reports the median and
// p99 of single calls over at least 1000 of them; the target (issue 14) is p99 under 2 ms.
func BenchmarkBetweenFintech(b *testing.B) {
	v1, v2 := fintechVersions(b)
	benchPercentiles(b, func() {
		if _, err := changes.BetweenJSON(v1, v2); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkBetweenFintechDecoded measures the diff alone, on already decoded versions.
func BenchmarkBetweenFintechDecoded(b *testing.B) {
	v1, v2 := fintechVersions(b)
	d1, d2 := doc(b, string(v1)), doc(b, string(v2))
	benchPercentiles(b, func() { changes.Between(d1, d2) })
}

// BenchmarkBetweenLongBody diffs a 300-paragraph body with an edit, an insert, a delete and a move.
func BenchmarkBetweenLongBody(b *testing.B) {
	var ps []string
	for i := range 300 {
		ps = append(ps, strings.Repeat("Paragraph "+string(rune('A'+i%26))+" of a long email. ", 4)+time.Duration(i).String())
	}
	before := map[string]any{"body": strings.Join(ps, "\n\n")}
	ps[10] += " Edited."
	ps = slices.Insert(ps, 100, "Inserted.")
	ps = slices.Delete(ps, 200, 201)
	moved := ps[50]
	ps = slices.Delete(ps, 50, 51)
	ps = append(ps, moved)
	after := map[string]any{"body": strings.Join(ps, "\n\n")}
	if n := len(changes.Between(before, after)); n != 5 {
		b.Fatalf("%d changes, want 5", n)
	}
	benchPercentiles(b, func() { changes.Between(before, after) })
}

// benchPercentiles times every call of fn, at least 1000 of them, and reports the median and p99
// of their wall-clock time (p50-ns, p99-ns). make bench reports the same diff with the CPU time of
// the calling thread as well, which leaves out what other processes of a shared machine took.
func benchPercentiles(b *testing.B, fn func()) {
	b.ReportAllocs()
	wall := make([]time.Duration, 0, 1024)
	sample := func() {
		t0 := time.Now()
		fn()
		wall = append(wall, time.Since(t0))
	}
	for b.Loop() {
		sample()
	}
	for len(wall) < 1000 {
		sample()
	}
	slices.Sort(wall)
	pct := func(p int) float64 { return float64(wall[(len(wall)-1)*p/100].Nanoseconds()) }
	b.ReportMetric(pct(50), "p50-ns")
	b.ReportMetric(pct(99), "p99-ns")
}
