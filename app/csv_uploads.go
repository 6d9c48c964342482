package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// CSV limits (R-DRAFT-4).
const (
	defaultCSVMaxBytes = 1 << 20
	maxCSVRows         = 10000
	maxCSVColumns      = 100
	// maxCSVCellChars bounds a cell: contact fields are at most 200 characters, and a longer cell is
	// not a contact field but a mistake (a stray quote swallowing the rest of the file, say).
	maxCSVCellChars = 1000
	// maxCSVHeaderChars bounds a column name; maxCSVFilenameChars a file name.
	maxCSVHeaderChars   = 200
	maxCSVFilenameChars = 255
)

// CSVUpload is an uploaded file of sample contacts: its header and rows, stored as parsed.
type CSVUpload = storage.CSVUpload

// CSVUploadInput is an uploaded file: its name, its bytes as read (at most one byte over the limit)
// and the field → column mapping sent with it (nil: the header names decide).
type CSVUploadInput struct {
	Filename string
	Data     []byte
	// Oversized says the file was not read whole because the upload was over the limit.
	Oversized bool
	Mapping   map[string]string
}

// CSVUploadResult is a stored upload and the mapping that will be used for it.
type CSVUploadResult struct {
	Upload  CSVUpload
	Mapping map[string]string
}

// csvUploader refuses (403) anyone without drafts.build (admins and CSMs).
func csvUploader(u User) error { return requirePermission(u, storage.PermDraftsBuild) }

// CSVUploadLimit is the size limit of u's uploads in bytes (SIGNOFF_CSV_MAX_BYTES), or a 403 when u
// may not upload at all; ask it before reading a file.
func (a *App) CSVUploadLimit(u User) (int64, error) {
	if err := csvUploader(u); err != nil {
		return 0, err
	}
	return a.csvMaxBytes(), nil
}

func (a *App) csvMaxBytes() int64 {
	if a.CSVMaxBytes > 0 {
		return a.CSVMaxBytes
	}
	return defaultCSVMaxBytes
}

// CreateCSVUpload stores an uploaded CSV of sample contacts (R-DRAFT-4) for u's account
// (drafts.build) and answers it with the mapping that will be used. The file must be within the size
// limit, its name and every cell valid text, and the mapping must cover the required fields; nothing is
// stored when the file is refused.
func (a *App) CreateCSVUpload(ctx context.Context, u User, in CSVUploadInput) (CSVUploadResult, error) {
	if err := csvUploader(u); err != nil {
		return CSVUploadResult{}, err
	}
	if limit := a.csvMaxBytes(); in.Oversized || int64(len(in.Data)) > limit {
		return CSVUploadResult{}, errs.Invalid("file", fmt.Sprintf("the file is larger than the limit of %d bytes", limit))
	}
	if err := checkCSVFilename(in.Filename); err != nil {
		return CSVUploadResult{}, err
	}
	columns, rows, err := parseCSV(in.Data)
	if err != nil {
		return CSVUploadResult{}, err
	}
	mapping := in.Mapping
	if mapping == nil {
		mapping = autoMapping(columns)
	}
	if err := checkMapping(mapping, columns); err != nil {
		return CSVUploadResult{}, err
	}
	up, err := a.Store.CreateCSVUpload(ctx, u.AccountID, u.ID, in.Filename, columns, rows)
	if err != nil {
		return CSVUploadResult{}, storeErr(err)
	}
	return CSVUploadResult{Upload: up, Mapping: mapping}, nil
}

// csvFields are the contact fields a CSV column may map to.
var csvFields = []string{"first_name", "last_name", "email", "title", "company_name", "domain", "industry", "country", "company_size"}

// csvAliases are the normalised header names recognised for each field when no mapping is given.
var csvAliases = map[string][]string{
	"first_name":   {"firstname", "first", "givenname", "forename"},
	"last_name":    {"lastname", "last", "surname", "familyname"},
	"email":        {"email", "emailaddress", "workemail", "mail"},
	"title":        {"title", "jobtitle", "position", "role"},
	"company_name": {"companyname", "company", "organization", "organisation", "account", "accountname"},
	"domain":       {"domain", "companydomain", "website", "companywebsite", "url"},
	"industry":     {"industry", "sector"},
	"country":      {"country", "countryname", "location"},
	"company_size": {"companysize", "employees", "employeecount", "headcount", "size"},
}

// normaliseHeader is h lower-cased with everything but letters and digits dropped.
func normaliseHeader(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// autoMapping maps contact fields to the columns whose header names are recognised for them; the
// first column recognised wins.
func autoMapping(columns []string) map[string]string {
	m := map[string]string{}
	for _, f := range csvFields {
		for _, c := range columns {
			n := normaliseHeader(c)
			for _, a := range csvAliases[f] {
				if n == a {
					if _, taken := m[f]; !taken {
						m[f] = c
					}
				}
			}
		}
	}
	return m
}

// checkMapping validates a field → column mapping against the columns and the required fields
// (first name, last name, and company name or domain); the *errs.Error names the mapping entry.
func checkMapping(m map[string]string, columns []string) error {
	cols := map[string]bool{}
	for _, c := range columns {
		cols[c] = true
	}
	for f, c := range m {
		if err := oneOf("mapping", f, csvFields...); err != nil {
			field := "mapping." + f
			if len(f) > 50 {
				field = "mapping" // the name is not a field at all: do not echo it whole
			}
			return errs.Invalid(field, quoteShort(f)+" is not a contact field; use one of "+strings.Join(csvFields, ", "))
		}
		if !cols[c] {
			return errs.Invalid("mapping."+f, "the file has no column "+quoteShort(c))
		}
	}
	var missing []string
	for _, f := range []string{"first_name", "last_name"} {
		if m[f] == "" {
			missing = append(missing, f)
		}
	}
	if m["company_name"] == "" && m["domain"] == "" {
		missing = append(missing, "company_name or domain")
	}
	if len(missing) > 0 {
		return errs.Invalid("mapping", "no column for the required field(s) "+strings.Join(missing, ", ")+
			"; name the columns First Name, Last Name and Company Name or Domain, or send a mapping")
	}
	return nil
}

// parseCSV reads a whole file: a header row and at least one data row, every row as wide as the header.
func parseCSV(b []byte) ([]string, [][]string, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil, errs.Invalid("file", "the file is empty")
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.ReuseRecord = false
	header, err := r.Read()
	if err != nil {
		return nil, nil, errs.Invalid("file", "not a valid CSV file: "+err.Error())
	}
	if len(header) > maxCSVColumns {
		return nil, nil, errs.Invalid("file", fmt.Sprintf("at most %d columns", maxCSVColumns))
	}
	seen := map[string]bool{}
	for i, h := range header {
		if err := checkCSVCell(1, i, "", h, false, maxCSVHeaderChars); err != nil {
			return nil, nil, err
		}
		header[i] = strings.TrimSpace(h)
		if header[i] == "" {
			return nil, nil, errs.Invalid("file", fmt.Sprintf("column %d has no name in the header row", i+1))
		}
		if seen[header[i]] {
			return nil, nil, errs.Invalid("file", fmt.Sprintf("the header names column %q twice", header[i]))
		}
		seen[header[i]] = true
	}
	var rows [][]string
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, errs.Invalid("file", "not a valid CSV file: "+err.Error())
		}
		if len(rows) >= maxCSVRows {
			return nil, nil, errs.Invalid("file", fmt.Sprintf("at most %d rows per file", maxCSVRows))
		}
		for i, cell := range rec {
			if err := checkCSVCell(len(rows)+2, i, header[i], cell, true, maxCSVCellChars); err != nil {
				return nil, nil, err
			}
		}
		rows = append(rows, rec)
	}
	if len(rows) == 0 {
		return nil, nil, errs.Invalid("file", "the file has a header but no data rows")
	}
	return header, rows, nil
}

// checkCSVCell runs the shared text check (TextProblem) on the cell of row (1 is the header) and column
// index col, named name when the header is known, and bounds its length; the error names the row and
// the column. Cells may span lines (a quoted cell may hold line breaks and tabs); column names may not.
func checkCSVCell(row, col int, name, v string, multiline bool, max int) error {
	where := fmt.Sprintf("row %d, column %d", row, col+1)
	if name != "" {
		where = fmt.Sprintf("row %d, column %s", row, quoteShort(name))
	}
	problem := TextProblem(v, multiline)
	switch {
	case strings.ContainsRune(v, 0):
		problem = "contains NUL bytes; is the file saved as UTF-16? Save it as CSV UTF-8 and upload it again"
	case problem == "must be valid UTF-8 text":
		problem = "is not valid UTF-8 text; save the file as CSV UTF-8 and upload it again"
	case problem == "" && utf8.RuneCountInString(v) > max:
		problem = fmt.Sprintf("is longer than %d characters", max)
	}
	if problem != "" {
		return errs.Invalid("file", where+": "+problem)
	}
	return nil
}

// checkCSVFilename validates the file name, which is stored and shown again.
func checkCSVFilename(v string) error {
	if problem := TextProblem(v, false); problem != "" {
		return errs.Invalid("filename", "the file name "+problem+"; rename the file and upload it again")
	}
	if n := utf8.RuneCountInString(v); n > maxCSVFilenameChars {
		return errs.Invalid("filename", fmt.Sprintf("the file name must be at most %d characters (got %d)", maxCSVFilenameChars, n))
	}
	return nil
}

// quoteShort quotes v for a message, cut to 60 characters so a message never echoes a long input.
func quoteShort(v string) string {
	if r := []rune(v); len(r) > 60 {
		v = string(r[:60]) + "…"
	}
	return strconv.Quote(v)
}
