package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/signoff/signoff/app"
)

// csvUploadResponse is a stored upload and the mapping that will be used for it.
type csvUploadResponse struct {
	Columns   []string          `json:"columns"`
	CreatedAt time.Time         `json:"created_at"`
	Filename  string            `json:"filename"`
	ID        string            `json:"id"`
	Mapping   map[string]string `json:"mapping"`
	RowCount  int               `json:"row_count"`
}

func toCSVUploadResponse(r app.CSVUploadResult) csvUploadResponse {
	return csvUploadResponse{Columns: r.Upload.Columns, CreatedAt: r.Upload.CreatedAt, Filename: r.Upload.Filename,
		ID: r.Upload.ID, Mapping: r.Mapping, RowCount: r.Upload.RowCount}
}

// createCSVUpload stores an uploaded CSV of sample contacts (R-DRAFT-4) and answers its columns,
// row count and the mapping that will be used. Nothing is stored when the file is refused.
func (s *Server) createCSVUpload(c *gin.Context) {
	u := currentUser(c)
	limit, err := s.App.CSVUploadLimit(u)
	if err != nil {
		respondError(c, err)
		return
	}
	in, ok := readCSVUpload(c, limit)
	if !ok {
		return
	}
	out, err := s.App.CreateCSVUpload(c.Request.Context(), u, in)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusCreated, toCSVUploadResponse(out))
}

// readCSVUpload reads the multipart form of an upload: the file (at most limit+1 of its bytes, or
// none when the upload is over the limit) and the optional mapping, a JSON object of field → column.
// On failure it writes the answer and returns false.
func readCSVUpload(c *gin.Context, limit int64) (app.CSVUploadInput, bool) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit+64<<10)
	fh, err := c.FormFile("file")
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return app.CSVUploadInput{Oversized: true}, true
	case err != nil:
		invalid(c, "file", "send the CSV as multipart/form-data in a field named file")
		return app.CSVUploadInput{}, false
	}
	in := app.CSVUploadInput{Filename: fh.Filename, Oversized: fh.Size > limit}
	if !in.Oversized {
		f, err := fh.Open()
		if err != nil {
			invalid(c, "file", "the file could not be read")
			return app.CSVUploadInput{}, false
		}
		defer f.Close()
		in.Data, err = io.ReadAll(io.LimitReader(f, limit+1))
		in.Oversized = err != nil
	}
	if in.Oversized {
		return in, true
	}
	var ok bool
	in.Mapping, ok = readCSVMapping(c)
	return in, ok
}

// readCSVMapping reads the optional mapping field, a JSON object of field → column (nil when it is
// absent). On failure it writes the answer and returns false.
func readCSVMapping(c *gin.Context) (map[string]string, bool) {
	raw := c.PostForm("mapping")
	if raw == "" {
		return nil, true
	}
	m := map[string]string{}
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		invalid(c, "mapping", "must be a JSON object of field → column, such as {\"first_name\":\"First Name\"}")
		return nil, false
	}
	if m == nil { // a JSON null maps nothing
		m = map[string]string{}
	}
	if fe := checkJSONText([]byte(raw), "mapping"); fe != nil {
		respondError(c, fe)
		return nil, false
	}
	return m, true
}
