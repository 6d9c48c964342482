package workflows

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

// TestTruncateSummary: a long static summary is cut to maxSummaryBytes on a rune boundary, marked
// with an ellipsis; a short one is kept.
func TestTruncateSummary(t *testing.T) {
	assert.Equal(t, "short", truncate("short", maxSummaryBytes))
	long := strings.Repeat("é", maxSummaryBytes)
	got := truncate(long, maxSummaryBytes)
	assert.LessOrEqual(t, len(got), maxSummaryBytes)
	assert.True(t, utf8.ValidString(got))
	assert.True(t, strings.HasSuffix(got, "…"))
}
