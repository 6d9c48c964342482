package app

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// TestRequestWindow checks R-APPR-3 and R-APPR-6: campaigns must start in the future and time out at
// their end date; a journey starting now times out after the immediate window or at end_at, whichever
// comes first.
func TestRequestWindow(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	a := &App{ImmediateApprovalWindow: 2 * time.Hour}
	for _, tc := range []struct {
		name         string
		kind         string
		start, end   *time.Time
		wantDeadline time.Time
		wantLaunch   *time.Time
		wantField    string
	}{
		{"campaign later: deadline at end_at", storage.CampaignKindCampaign, at(24 * time.Hour), at(72 * time.Hour), now.Add(72 * time.Hour), at(24 * time.Hour), ""},
		{"campaign now: refused", storage.CampaignKindCampaign, nil, at(72 * time.Hour), time.Time{}, nil, "start_at"},
		{"campaign in the past: refused", storage.CampaignKindCampaign, at(-time.Hour), at(72 * time.Hour), time.Time{}, nil, "start_at"},
		{"campaign later without end_at: refused", storage.CampaignKindCampaign, at(time.Hour), nil, time.Time{}, nil, "end_at"},
		{"journey now: two-hour window", storage.CampaignKindJourney, nil, at(72 * time.Hour), now.Add(2 * time.Hour), nil, ""},
		{"journey now, no end: two-hour window", storage.CampaignKindJourney, nil, nil, now.Add(2 * time.Hour), nil, ""},
		{"journey now, end first: end_at", storage.CampaignKindJourney, nil, at(30 * time.Minute), now.Add(30 * time.Minute), nil, ""},
		{"journey later: deadline at end_at", storage.CampaignKindJourney, at(time.Hour), at(5 * time.Hour), now.Add(5 * time.Hour), at(time.Hour), ""},
		{"ended campaign: refused", storage.CampaignKindJourney, nil, at(-time.Minute), time.Time{}, nil, "end_at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, l, err := a.requestWindow(storage.Campaign{Kind: tc.kind, StartAt: tc.start, EndAt: tc.end}, now)
			if tc.wantField != "" {
				fe, ok := errs.As(err)
				require.True(t, ok && fe.Code == errs.Validation, "want a field error, got %v", err)
				require.Equal(t, tc.wantField, fe.Field)
				return
			}
			require.NoError(t, err)
			require.True(t, tc.wantDeadline.Equal(d), "deadline %s, want %s", d, tc.wantDeadline)
			if tc.wantLaunch == nil {
				require.Nil(t, l)
			} else {
				require.True(t, tc.wantLaunch.Equal(*l))
			}
		})
	}
}
