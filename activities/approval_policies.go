package activities

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/signoff/signoff/changes"
	"github.com/signoff/signoff/storage"
)

// ApproveStageInput is an approval of stage Stage of a request under a policy that does not decide
// the request (R-POL-2): the stage needs Required approvals.
type ApproveStageInput struct {
	AccountID string
	RequestID string
	Stage     int
	UserID    string
	Required  int
}

// ApproveStageResult is the request's status as the approval left it, whether it completed its
// stage, and whether its emails (the next stage's) still wait in the outbox.
type ApproveStageResult struct {
	Status      string
	StageDone   bool
	MailPending bool
}

// ApproveStage counts the approval in its stage, with the database's guards (the approver assigned
// with the right, the stage current, one approval per person and stage); a stage it completes moves
// the request to the next one, whose approvers are asked to decide. Then it hands the emails to the
// mailer in the same activity.
func (a *Activities) ApproveStage(ctx context.Context, in ApproveStageInput) (ApproveStageResult, error) {
	res, err := a.Store.ApproveStage(ctx, storage.StageApprovalInput{AccountID: in.AccountID, RequestID: in.RequestID,
		Stage: in.Stage, UserID: in.UserID, Required: in.Required, LinkBase: storage.DecisionLinkBase(a.PublicURL),
		CountChanges: changes.Count})
	if err != nil {
		return ApproveStageResult{}, classify(err)
	}
	a.log(ctx).Info("stage approval recorded", zap.String("approval_request_id", in.RequestID), zap.Int("stage", in.Stage),
		zap.Bool("stage_done", res.StageDone))
	out := ApproveStageResult{Status: res.Request.Status, StageDone: res.StageDone}
	if res.StageDone {
		out.MailPending = !a.deliverNow(ctx, in.RequestID)
	}
	return out, nil
}

// AudienceInput names the request whose audience is counted.
type AudienceInput struct {
	AccountID string
	RequestID string
}

// RecordAudience counts the directory contacts the segments of the campaign version a request pinned
// match (a contact counted once; no segment matches nobody) and records the count on the request,
// with the stages its policy's rules add for it (R-POL-3); every request's workflow runs it, with or
// without a policy. Once: a request whose audience is recorded answers the recorded count.
func (a *Activities) RecordAudience(ctx context.Context, in AudienceInput) (int, error) {
	r, err := a.Store.ApprovalRequest(ctx, in.AccountID, in.RequestID)
	if err != nil {
		return 0, classify(err)
	}
	if r.AudienceSize != nil {
		return *r.AudienceSize, nil
	}
	var filters []storage.SearchFilters
	v, err := a.Store.CampaignVersion(ctx, in.AccountID, r.CampaignID, r.CampaignVersion)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		// A campaign archived since: its version is hidden; count its working copy's segments.
		c, cerr := a.Store.Campaign(ctx, in.AccountID, r.CampaignID)
		if cerr != nil {
			return 0, classify(cerr)
		}
		if c.Content != nil {
			for _, s := range c.Content.Segments {
				filters = append(filters, s.Filters)
			}
		}
	case err != nil:
		return 0, classify(err)
	default:
		for _, s := range v.Content.Segments {
			filters = append(filters, s.Filters)
		}
	}
	n, err := a.Store.AudienceSize(ctx, in.AccountID, filters)
	if err != nil {
		return 0, err
	}
	r, err = a.Store.SetAudience(ctx, in.AccountID, in.RequestID, n)
	if err != nil {
		return 0, classify(err)
	}
	return *r.AudienceSize, nil
}
