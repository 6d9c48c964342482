package activities

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/signoff/signoff/storage"
)

// TestLaunchSkippedNote: the history note of a workflow launch the store refused says why (R-APPR-10,
// R-VER-3): which version the request approved and what the campaign's approval stands on now; an
// error that is no refusal gets no note (the launch is retried, not skipped).
func TestLaunchSkippedNote(t *testing.T) {
	three, two := 3, 2
	wrap := func(err error) error { return fmt.Errorf("storage: launch: %w", err) }
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"edited after the approval", wrap(&storage.PinnedVersionError{Pinned: 2, PinnedHash: "aa"}),
			"not launched: this request approved version 2, but the campaign was edited after the approval and no approved " +
				"version stands now; the new version needs its own approval"},
		{"another version approved", wrap(&storage.PinnedVersionError{Pinned: 2, PinnedHash: "aa", Approved: &three, StoredHash: "aa"}),
			"not launched: this request approved version 2, but the campaign's approved version is now 3, which launches with its own request"},
		{"hash differs", wrap(&storage.PinnedVersionError{Pinned: 2, PinnedHash: "aa", Approved: &two, StoredHash: "bb"}),
			"not launched: version 2 does not hold the content this request approved (content_hash bb, pinned aa)"},
		{"not launchable", wrap(storage.ErrNotLaunchable), "the approval no longer covers the campaign (it was edited or deleted)"},
		{"campaign gone", wrap(storage.ErrNotFound), "the approval no longer covers the campaign (it was edited or deleted)"},
		{"campaign in error", wrap(storage.ErrCampaignInError),
			"the campaign is in error at its start time; fix it, set it ready and launch it"},
		{"database down", errors.New("dial tcp: connection refused"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, launchSkippedNote(tc.err))
		})
	}
	assert.ErrorIs(t, &storage.PinnedVersionError{Pinned: 1}, storage.ErrNotLaunchable)
}
