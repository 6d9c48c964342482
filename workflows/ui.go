package workflows

import (
	"context"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/client"

	"github.com/signoff/signoff/logging"
)

// What an operator reads in the Temporal UI without a decoder (SPEC §7): a static summary and details
// set at start, summaries on the timers, the state query, and the request id of the API call that
// started a run in its memo (R-OPS-4).

// QueryState is the name of the query both workflow types answer with their current state
// (RequestState, DraftState).
const QueryState = "state"

// MemoRequestID is the memo key holding the request id of the API call that started a run (R-OPS-4);
// the Updates and Signals of later calls carry theirs as the logging.RequestIDHeader header.
const MemoRequestID = "request_id"

// RunView is what the Temporal UI shows of a run besides its history: a one-line summary and
// markdown details, set when the run starts (StartWorkflowOptions.StaticSummary, StaticDetails).
// It is recorded in the start event's metadata, not in the workflow's input.
type RunView struct {
	Summary string
	Details string
}

// maxSummaryBytes bounds a static summary: the UI shows one line.
const maxSummaryBytes = 200

// startOptions completes o with what every start sets for the UI: view's summary and details and the
// request id of the API call ctx serves, in the memo.
func startOptions(ctx context.Context, o client.StartWorkflowOptions, view RunView) client.StartWorkflowOptions {
	o.StaticSummary = truncate(view.Summary, maxSummaryBytes)
	o.StaticDetails = view.Details
	if id := logging.RequestID(ctx); id != "" {
		o.Memo = map[string]any{MemoRequestID: id}
	}
	return o
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// RequestState is the answer of an approval request's state query: where the run stands now.
type RequestState struct {
	// Status is the request's status as the run knows it (pending, approved, rejected, …), or the
	// run's result once it has one (launched, launch_skipped).
	Status string `json:"status"`
	// Approvers are the ids of the users who may decide now, sorted.
	Approvers []string `json:"approvers"`
	// Deadline is when a pending request times out; LaunchAt the campaign's start_at, if any.
	Deadline time.Time  `json:"deadline"`
	LaunchAt *time.Time `json:"launch_at"`
	// CampaignVersion is the version the request pinned (0 for runs started before it was carried).
	CampaignVersion int `json:"campaign_version"`
	// DeadlineDue and StartDue say whether the deadline and start timers have fired.
	DeadlineDue bool `json:"deadline_due"`
	StartDue    bool `json:"start_due"`
	// ApproverChanges counts the changes of approvers this run made.
	ApproverChanges int `json:"approver_changes"`
	// ApprovalsDisabled and ApprovalDropped say whether those signals came.
	ApprovalsDisabled bool `json:"approvals_disabled"`
	ApprovalDropped   bool `json:"approval_dropped"`
	// Repaired marks a run the sweeper started again.
	Repaired bool `json:"repaired"`
	// CurrentStage and Stages are the stages of a request under a policy (R-POL-2); Stages is nil
	// for the default.
	CurrentStage int          `json:"current_stage"`
	Stages       []StageState `json:"stages,omitempty"`
}

// DraftState is the answer of a draft build's state query: where the build stands now.
type DraftState struct {
	// Status is the draft's status as the run knows it: processing, ready, failed, approved or
	// not_approved.
	Status string `json:"status"`
	// Step is the build step running or last run (check_capacity, resolve_contacts, copy_campaign,
	// import_leads, freeze_snapshot, personalise, awaiting_client, done).
	Step string `json:"step"`
	// ContactCount is how many contacts the draft was asked for; Leads how many the frozen snapshot holds.
	ContactCount int `json:"contact_count"`
	Leads        int `json:"leads"`
	// CopyCampaignID is the hidden copy the build made ("" before it).
	CopyCampaignID string `json:"copy_campaign_id"`
	// FailureReason is the human reason of a failed build.
	FailureReason string `json:"failure_reason,omitempty"`
	// Submitted says whether the client's submit came.
	Submitted bool `json:"submitted"`
}

// WithRequestID returns ctx carrying id, the request id of the API call being served: the workflow
// starts, Updates and Signals sent with ctx carry it (R-OPS-4) through logging.RequestIDPropagator,
// which the client must be built with.
func WithRequestID(ctx context.Context, id string) context.Context {
	return logging.WithRequestID(ctx, id)
}
