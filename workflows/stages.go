package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/signoff/signoff/activities"
	"github.com/signoff/signoff/errs"
)

// Policy is the approval policy a request was submitted under, resolved against its approvers
// (R-POL-1): its stages run in order, and its rules append stages once the audience is counted.
type Policy struct {
	Stages []Stage
	Rules  []Rule
}

// Stage is one stage of a request: its approvers and how many of them must approve.
type Stage struct {
	Name        string
	ApproverIDs []string
	Required    int
}

// Rule appends AddStage when the request's audience is larger than AudienceSizeGT (R-POL-3).
type Rule struct {
	AudienceSizeGT int
	AddStage       Stage
}

// StageState is a stage as the state query answers it: its approvers, its approvals so far and
// whether it is done.
type StageState struct {
	Name        string   `json:"name"`
	ApproverIDs []string `json:"approver_ids"`
	Required    int      `json:"required"`
	Approvals   []string `json:"approvals"`
	Done        bool     `json:"done"`
}

// versionPolicyStages: a request submitted under an approval policy (ApprovalRequestInput.Policy)
// counts its audience, runs its stages in order, counts N-of-M approvals per stage and reminds and
// escalates per stage (stages.go). A request without a policy records no marker and runs as before:
// one stage of its approvers, one approval.
const versionPolicyStages = "policy-stages"

// stageRun is a stage as the workflow runs it.
type stageRun struct {
	Stage
	approvals []string // who approved, in order
}

// stagesState is the stage state of a run under a policy.
type stagesState struct {
	stages        []stageRun
	current       int
	audienceKnown bool
	audience      int
	// onNoApprovers is the account's on_no_approvers, as the last expiry of an approver answered it.
	onNoApprovers string
	// cancelTimers stops the current stage's reminder and escalation timers.
	cancelTimers workflow.CancelFunc
}

// setupStages takes the policy's stages; called in setup before any handler, for a run under a policy.
func (w *approvalRequestImpl) setupStages(ctx workflow.Context) {
	if w.in.Policy == nil || len(w.in.Policy.Stages) == 0 {
		return
	}
	if workflow.GetVersion(ctx, versionPolicyStages, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	w.staged = &stagesState{}
	for _, st := range w.in.Policy.Stages {
		st.ApproverIDs = slices.Clone(st.ApproverIDs) // escalation appends to them
		w.staged.stages = append(w.staged.stages, stageRun{Stage: st})
	}
}

// stageState answers the stages for the state query.
func (w *approvalRequestImpl) stageState() (int, []StageState) {
	if w.staged == nil {
		return 0, nil
	}
	out := make([]StageState, len(w.staged.stages))
	for i, st := range w.staged.stages {
		out[i] = StageState{Name: st.Name, ApproverIDs: st.ApproverIDs, Required: st.Required,
			Approvals: append([]string{}, st.approvals...), Done: len(st.approvals) >= st.Required}
	}
	return w.staged.current, out
}

// currentStage is the stage the request waits for.
func (w *approvalRequestImpl) currentStage() *stageRun {
	return &w.staged.stages[w.staged.current]
}

// validateStageAction refuses an approval or rejection by someone who is not an approver of the
// current stage (or no longer may act), and an approval by someone who already approved it.
func (w *approvalRequestImpl) validateStageAction(actorID string, approve bool) error {
	if !w.approvers[actorID] {
		return errs.Temporal(errs.New(errs.Forbidden, "you are not an assigned approver of this request"))
	}
	st := w.currentStage()
	if !slices.Contains(st.ApproverIDs, actorID) {
		return errs.Temporal(errs.Newf(errs.StageNotCurrent, "you are not an approver of the current stage %d of %d (%s); "+
			"you act when your stage comes", w.staged.current+1, len(w.staged.stages), st.Name))
	}
	if approve && slices.Contains(st.approvals, actorID) {
		return errs.Temporal(errs.Newf(errs.AlreadyApproved, "you already approved stage %d of %d (%s); it waits for %d more approval(s)",
			w.staged.current+1, len(w.staged.stages), st.Name, st.Required-len(st.approvals)))
	}
	return nil
}

// awaitAudience waits until the audience is counted (the stages rules add are known); the caller
// holds w.mu, which the count does not take.
func (w *approvalRequestImpl) awaitAudience(ctx workflow.Context) error {
	return workflow.Await(ctx, func() bool { return w.staged.audienceKnown || w.status != activities.RequestStatusPending })
}

// approveStagedLocked is an approval under a policy (R-POL-2, R-POL-5); the caller holds w.mu. The
// approval that completes the last stage approves the request, as a decision; any other is counted
// in the current stage, and one that completes its stage starts the next.
func (w *approvalRequestImpl) approveStagedLocked(ctx workflow.Context, d DecisionInput) (Request, error) {
	if err := w.awaitAudience(ctx); err != nil {
		return Request{}, err
	}
	if err := w.validatePending(); err != nil {
		return Request{}, err
	}
	if err := w.validateStageAction(d.ActorID, true); err != nil {
		return Request{}, err
	}
	st := w.currentStage()
	idx := w.staged.current
	actor := d.ActorID
	if len(st.approvals)+1 >= st.Required && idx == len(w.staged.stages)-1 {
		out, err := w.decideLocked(ctx, activities.Decision{RequestID: w.in.RequestID, Type: activities.EventApproved,
			ActorID: &actor, Note: d.Note, Stage: &idx}, w.in.Deadline)
		if err == nil {
			st.approvals = append(st.approvals, actor)
		}
		return out, err
	}
	var res activities.ApproveStageResult
	if err := w.step(ctx, w.in.Deadline, acts.ApproveStage, activities.ApproveStageInput{AccountID: w.in.AccountID,
		RequestID: w.in.RequestID, Stage: idx, UserID: actor, Required: st.Required}, &res); err != nil {
		return Request{}, err
	}
	st.approvals = append(st.approvals, actor)
	if res.StageDone {
		w.startStage(ctx, idx+1)
	}
	if res.MailPending {
		w.deliver(ctx)
	}
	return Request{ID: w.in.RequestID, AccountID: w.in.AccountID, CampaignID: w.in.CampaignID, Status: w.status}, nil
}

// startStage makes stage i current: its reminder and escalation timers start from now, and a stage
// that cannot reach its required approvals follows on_no_approvers (checked by the run's loop).
func (w *approvalRequestImpl) startStage(ctx workflow.Context, i int) {
	w.staged.current = i
	if i >= len(w.staged.stages) {
		return
	}
	if w.staged.cancelTimers != nil {
		w.staged.cancelTimers()
	}
	w.startStageTimers(ctx, workflow.Now(ctx))
	if !w.stageReachable() {
		w.unreachable = true
	}
}

// startStageTimers starts the reminders and escalation of the current stage, counted from from.
func (w *approvalRequestImpl) startStageTimers(ctx workflow.Context, from time.Time) {
	stageCtx, cancel := workflow.WithCancel(w.timerCtx)
	w.staged.cancelTimers = cancel
	if w.in.Reminders == nil {
		return
	}
	r := *w.in.Reminders
	r.From = from
	w.startRemindersOf(stageCtx, &r, w.staged.current)
}

// stageReachable says whether the current stage can still reach its required approvals: its
// approvals plus its approvers who may still act and have not approved (R-APPR-7 per stage).
func (w *approvalRequestImpl) stageReachable() bool {
	st := w.currentStage()
	n := len(st.approvals)
	for _, id := range st.ApproverIDs {
		if w.approvers[id] && !slices.Contains(st.approvals, id) {
			n++
		}
	}
	return n >= st.Required
}

// countAudience counts the request's audience and appends the stages of the rules that hold (R-POL-3).
func (w *approvalRequestImpl) countAudience(ctx workflow.Context) error {
	var n int
	if err := w.step(ctx, time.Time{}, acts.RecordAudience, activities.AudienceInput{AccountID: w.in.AccountID,
		RequestID: w.in.RequestID}, &n); err != nil {
		return err
	}
	w.staged.audience = n
	for _, r := range w.in.Policy.Rules {
		if n > r.AudienceSizeGT {
			st := r.AddStage
			st.ApproverIDs = slices.Clone(st.ApproverIDs)
			w.staged.stages = append(w.staged.stages, stageRun{Stage: st})
		}
	}
	w.staged.audienceKnown = true
	return nil
}

// stageLabel names stage i in timer summaries: "stage 2: " (empty for a run without a policy).
func (w *approvalRequestImpl) stageLabel(i int) string {
	if w.staged == nil {
		return ""
	}
	return fmt.Sprintf("stage %d: ", i+1)
}

// resumeStages puts a repaired run where the request stood (ResumeStage, ResumeApprovals): the
// approvals counted in the database count here too.
func (w *approvalRequestImpl) resumeStages() {
	for i, ids := range w.in.ResumeApprovals {
		if i >= 0 && i < len(w.staged.stages) {
			w.staged.stages[i].approvals = slices.Clone(ids)
		}
	}
	if w.in.ResumeStage > 0 && w.in.ResumeStage < len(w.staged.stages) {
		w.staged.current = w.in.ResumeStage
	}
}
