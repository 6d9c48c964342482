package changes

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

var decodeSeeds = []string{
	`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `1.5e3`, `-2E-2`, `123456789012345678901234567890`,
	` { "a" : [ 1 , 2 , { "b" : null } ] , "c" : "d" } `,
	`{"a":1,"a":2}`,
	`{"s":"plain ascii","u":"Zürich 🏦 東京 e\u0301","e":"tab\tquote\"slash\\/ \u00e9 \ud83d\ude80 \u2028"}`,
	`{"k\"ey":"v","\u00fc":"ü"}`,
	"{\"bad\":\"\xff\xfe invalid utf8\"}",
	"[\"\xe6\x9d\xb1\"]",
	`[[],[[]],{},{"x":{}},""]`,
	"{\"nested\":{\"deep\":[1,[2,[3,{\"four\":4}]]]},\n\r\t\"end\":[true,false,null]}",
	`{"big":1e400}`, `{`, `[1,]`, `"unterminated`, ``, `nul`, `01`, `1.`, `.5`, `-`, `1e`, `1e+`, `+1`, `[1 2]`,
	`{"a" 1}`, `{"a":1,}`, `{,"a":1}`, `{1:2}`, `"\x"`, `"\u12"`, `"\u12G4"`, "\"tab\there\"", `"\ud800"`,
	`"\udc00\ud800x"`, `truex`, `[true,fals]`, `nulls`, `{} {}`, "\ufeff{}", `"\u0000"`, "\"\x7f\"",
}

// TestDecodeMatchesEncodingJSON checks decode gives exactly json.Unmarshal's values, and fails
// where it fails.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	for _, s := range decodeSeeds {
		checkDecode(t, []byte(s))
	}
	for _, depth := range []int{maxDepth, maxDepth + 1} {
		checkDecode(t, []byte(strings.Repeat("[", depth)+strings.Repeat("]", depth)))
		checkDecode(t, []byte(strings.Repeat(`{"a":`, depth)+"1"+strings.Repeat("}", depth)))
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) { checkDecode(t, doc) })
}

func checkDecode(t *testing.T, doc []byte) {
	t.Helper()
	var want any
	wantErr := json.Unmarshal(doc, &want)
	got, err := decode(doc)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("decode(%q): error %v, json.Unmarshal error %v", doc, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decode(%q) = %#v, json.Unmarshal gives %#v", doc, got, want)
	}
}
