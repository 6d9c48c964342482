package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// CSV uploads and bad bytes: a NUL byte in a cell would make Postgres refuse the upload (500), and
// bytes that are not UTF-8 would be stored as U+FFFD, silently changing names. Cells, column names
// and the file name go through the same text check as JSON bodies; a refusal is a 422 whose message names
// the row and the column, and nothing is stored. Cells are bounded in length too.

// TestCSVUploadBadBytesRefused sends files with a bad byte in a cell, in a column name or in the
// file name, and over-long cells: each answers 422 saying where, and nothing is stored.
func TestCSVUploadBadBytesRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	csm := e.A.Tokens[storage.RoleCSM]
	const header = "First Name,Last Name,Company Name"
	file := func(rows ...string) []byte { return []byte(header + "\n" + strings.Join(rows, "\n") + "\n") }
	utf16 := func(s string) []byte { // what Excel's "Unicode Text" writes: UTF-16LE with a BOM
		out := []byte{0xff, 0xfe}
		for _, r := range s {
			out = append(out, byte(r), 0)
		}
		return out
	}
	mapping := `{"first_name":"First Name","last_name":"Last Name","company_name":"Company Name"}`

	cases := []struct {
		name     string
		filename string
		content  []byte
		mapping  string
		field    string   // the field the 422 names
		say      []string // what its message says
	}{
		{"NUL in a cell", "people.csv", file("Ada,Lovelace,Engines", "Alan,Tu\x00ring,Bletchley"), "",
			"file", []string{`row 3, column "Last Name"`, "NUL"}},
		{"Latin-1 in a cell", "people.csv", file("Ada,M\xfcller,Engines"), "",
			"file", []string{`row 2, column "Last Name"`, "UTF-8"}},
		{"truncated UTF-8 in a cell", "people.csv", file("Ada,Lovelace,Caf\xc3"), "",
			"file", []string{`row 2, column "Company Name"`, "UTF-8"}},
		{"control character in a cell", "people.csv", file("Ada,Lovelace,\x1b[31mEngines"), "",
			"file", []string{`row 2, column "Company Name"`, "control"}},
		{"over-long cell", "people.csv", file("Ada,Lovelace," + strings.Repeat("E", 1001)), "",
			"file", []string{`row 2, column "Company Name"`, "longer than 1000"}},
		{"bad byte in a column name", "people.csv", []byte("First Name,Last\xffName,Company Name\nAda,Lovelace,Engines\n"), "",
			"file", []string{"row 1, column 2", "UTF-8"}},
		{"NUL in a column name", "people.csv", []byte("First Name,Last\x00Name,Company Name\nAda,Lovelace,Engines\n"), "",
			"file", []string{"row 1, column 2", "NUL"}},
		{"tab in a column name", "people.csv", []byte("First Name,Last\tName,Company Name\nAda,Lovelace,Engines\n"), "",
			"file", []string{"row 1, column 2", "tab"}},
		{"a UTF-16 file", "people.csv", utf16(header + "\nAda,Lovelace,Engines\n"), "",
			"file", []string{"row 1", "UTF-16"}},
		{"Latin-1 file name", "m\xfcller.csv", file("Ada,Lovelace,Engines"), "", "filename", []string{"UTF-8"}},
		{"control character in the file name", "a\u0085b.csv", file("Ada,Lovelace,Engines"), "", "filename", []string{"control"}},
		{"over-long file name", strings.Repeat("n", 300) + ".csv", file("Ada,Lovelace,Engines"), "", "filename", []string{"at most 255"}},
		{"NUL in the mapping", "people.csv", file("Ada,Lovelace,Engines"), `{"first_name":"First\u0000Name"}`,
			"mapping.first_name", []string{"NUL"}},
		{"bad byte in the mapping", "people.csv", file("Ada,Lovelace,Engines"), "{\"first_name\":\"First\xffName\"}",
			"mapping.first_name", []string{"UTF-8"}},
	}
	before := dbState(t, e.pool)
	for _, tc := range cases {
		status, body := draftUpload(t, e, csm, tc.filename, tc.content, tc.mapping)
		require.Less(t, status, 500, "%s: %v", tc.name, body)
		errObj := requireError(t, status, body, http.StatusUnprocessableEntity, string(errs.Validation))
		assert.Equal(t, tc.field, errObj["field"], "%s: %v", tc.name, body)
		for _, s := range tc.say {
			assert.Contains(t, errObj["message"], s, tc.name)
		}
	}
	requireNoWrites(t, e.pool, before)

	// A NUL or a C0 control in the file name is refused by the multipart parser already (the part is
	// then no file): a 422 too, never a 500.
	for _, name := range []string{"a\x00b.csv", "a\x01b.csv", "a\nb.csv"} {
		status, body := draftUpload(t, e, csm, name, file("Ada,Lovelace,Engines"), "")
		requireError(t, status, body, http.StatusUnprocessableEntity, string(errs.Validation))
	}
	requireNoWrites(t, e.pool, before)

	// What is allowed: a quoted cell over two lines, a tab inside a cell, non-ASCII text, a cell of
	// exactly 1000 characters, and the mapping.
	ok := file(`Ada,"Love`+"\n"+`lace",Engines`, "Zoë,Ruiz\tMartín,東京 KK", "Ada,Byron,"+strings.Repeat("é", 1000))
	status, body := draftUpload(t, e, csm, "Zoë's list.csv", ok, mapping)
	require.Equal(t, http.StatusCreated, status, "%v", body)
	require.Equal(t, "Zoë's list.csv", body["filename"])
	require.EqualValues(t, 3, body["row_count"])
	require.Equal(t, 1, countRows(t, e.pool, "csv_uploads"), fmt.Sprint(body))
}
