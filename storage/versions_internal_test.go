package storage

import "testing"

// TestCountSentence checks the sentence approver emails carry about a request's changes (R-VER-6).
func TestCountSentence(t *testing.T) {
	one, two := 1, 2
	for _, c := range []struct {
		version int
		base    *int
		n       int
		want    string
	}{
		{1, nil, 6, "Version 1: the first approval of this campaign."},
		{2, &two, 0, "Version 2: no changes since the last approved version (version 2)."},
		{2, &one, 1, "Version 2: 1 change since the last approved version (version 1)."},
		{3, &one, 12, "Version 3: 12 changes since the last approved version (version 1)."},
	} {
		if got := countSentence(c.version, c.base, c.n); got != c.want {
			t.Errorf("countSentence(%d, %v, %d) = %q, want %q", c.version, c.base, c.n, got, c.want)
		}
	}
}
