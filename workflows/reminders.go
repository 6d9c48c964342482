package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/signoff/signoff/activities"
)

// Reminders are the reminder and escalation settings a request was submitted under (R-ACT-2): the
// account's at that moment, so that changing them later leaves a pending request as it was.
type Reminders struct {
	// From is when the request was submitted: reminders and escalation count from it.
	From time.Time
	// Every is reminder_after: reminder k falls due at From + k×Every, for k up to MaxReminders, when
	// that is before the deadline; zero sends none.
	Every time.Duration
	// EscalateAfter is escalate_after: at From + EscalateAfter, when that is before the deadline,
	// EscalateTo are added as approvers; zero never escalates.
	EscalateAfter time.Duration
	// EscalateTo are the users the request escalates to, resolved at submission.
	EscalateTo []string
}

// MaxReminders is how many times at most a request reminds its approvers (R-ACT-2).
const MaxReminders = activities.MaxReminders

// reminderTimes lists when the reminders of a request whose deadline is deadline fall due: never at
// or after the deadline, at most MaxReminders.
func (r *Reminders) reminderTimes(deadline time.Time) []time.Time {
	if r == nil || r.Every <= 0 {
		return nil
	}
	var out []time.Time
	for k := 1; k <= MaxReminders; k++ {
		at := r.From.Add(time.Duration(k) * r.Every)
		if !at.Before(deadline) {
			break
		}
		out = append(out, at)
	}
	return out
}

// escalationTime is when the request escalates, and false when it never does (off, nobody to escalate
// to, or not before the deadline).
func (r *Reminders) escalationTime(deadline time.Time) (time.Time, bool) {
	if r == nil || r.EscalateAfter <= 0 || len(r.EscalateTo) == 0 {
		return time.Time{}, false
	}
	at := r.From.Add(r.EscalateAfter)
	return at, at.Before(deadline)
}

// startReminders starts the reminder and escalation timers of a request submitted with them
// (versionReminders): one reminder timer at a time, the next set when one has fired, and one
// escalation timer, each with a summary the Temporal UI shows ("reminder 1 of 3", "escalation"). A
// run without reminders or escalation records no version marker and starts nothing: its commands are
// those of the runs before them. The timers run under ctx, the run's timer context.
func (w *approvalRequestImpl) startReminders(ctx workflow.Context) {
	w.startRemindersOf(ctx, w.in.Reminders, -1)
}

// startRemindersOf starts the timers of reminders r: of stage stage of a request under a policy,
// counted from the stage's start (R-POL-5), or of the whole request for a negative stage.
func (w *approvalRequestImpl) startRemindersOf(ctx workflow.Context, r *Reminders, stage int) {
	due := r.reminderTimes(w.in.Deadline)
	escalateAt, escalate := r.escalationTime(w.in.Deadline)
	if len(due) == 0 && !escalate {
		return
	}
	if workflow.GetVersion(ctx, versionReminders, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	start := workflow.Now(ctx)
	if len(due) > 0 {
		workflow.Go(ctx, func(ctx workflow.Context) {
			for i, at := range due {
				if i+1 < len(due) && due[i+1].Before(start) {
					// Of the reminders that fell due before the run started (a repaired run, or a first
					// workflow task that came late), only the last is sent, at once: never several together.
					// One already sent is not sent again (the step is keyed by its number).
					continue
				}
				summary := w.stageLabel(stage) + fmt.Sprintf("reminder %d of %d", i+1, len(due))
				if err := workflow.NewTimerWithOptions(ctx, nonNegative(at.Sub(workflow.Now(ctx))),
					workflow.TimerOptions{Summary: summary}).Get(ctx, nil); err != nil {
					return
				}
				if !w.remind(ctx, i+1, len(due), stage) {
					return
				}
			}
		})
	}
	if escalate {
		workflow.Go(ctx, func(ctx workflow.Context) {
			// A repaired run whose escalation fell due before it started escalates at once (once per
			// request: the step is keyed by the request).
			if err := workflow.NewTimerWithOptions(ctx, nonNegative(escalateAt.Sub(workflow.Now(ctx))),
				workflow.TimerOptions{Summary: w.stageLabel(stage) + "escalation"}).Get(ctx, nil); err != nil {
				return
			}
			w.escalate(ctx, r, stage)
		})
	}
}

// stillWaiting says whether the request still waits for a decision: pending, its deadline not come
// (a late timer reminds or escalates nobody after the deadline).
func (w *approvalRequestImpl) stillWaiting(ctx workflow.Context) bool {
	return w.status == activities.RequestStatusPending && workflow.Now(ctx).Before(w.in.Deadline)
}

// remind sends reminder n of of to the approvers still assigned, in the app and by email (one local
// activity, which also delivers the emails; a delivery that failed is retried here), unless the
// request no longer waits; false stops the reminders. A reminder that fails is logged and skipped: it
// never fails the request.
func (w *approvalRequestImpl) remind(ctx workflow.Context, n, of, stage int) bool {
	if err := w.mu.Lock(ctx); err != nil {
		return false
	}
	if !w.stillWaiting(ctx) || (stage >= 0 && w.staged.current != stage) {
		w.mu.Unlock()
		return false
	}
	in := activities.RemindInput{AccountID: w.in.AccountID, RequestID: w.in.RequestID, N: n, Of: of}
	if stage >= 0 {
		in.Stage = &stage
	}
	var res activities.RemindResult
	err := w.step(ctx, w.in.Deadline, acts.RemindApprovers, in, &res)
	w.mu.Unlock()
	if err != nil {
		workflow.GetLogger(ctx).Warn("reminder not sent", "reminder", n, "error", err)
		return true
	}
	if res.MailPending {
		w.deliver(ctx)
	}
	return true
}

// escalate adds the escalation users as approvers, once, unless the request no longer waits; the
// added approvers are asked to decide as on any change of approvers, and may act at once. An
// escalation that fails is logged: it never fails the request.
func (w *approvalRequestImpl) escalate(ctx workflow.Context, r *Reminders, stage int) {
	if err := w.mu.Lock(ctx); err != nil {
		return
	}
	if !w.stillWaiting(ctx) || (stage >= 0 && w.staged.current != stage) {
		w.mu.Unlock()
		return
	}
	in := activities.EscalateInput{AccountID: w.in.AccountID, RequestID: w.in.RequestID, UserIDs: r.EscalateTo, After: r.EscalateAfter}
	if stage >= 0 {
		in.Stage = &stage
	}
	var res activities.EscalateResult
	err := w.step(ctx, w.in.Deadline, acts.Escalate, in, &res)
	if err == nil {
		w.approvers = map[string]bool{}
		for _, a := range res.Request.Approvers {
			if a.State == activities.ApproverStateAssigned && !slices.Contains(w.revoked, a.UserID) {
				w.approvers[a.UserID] = true
			}
		}
		if stage >= 0 {
			// The escalation users who may act join the stage's approvers (R-POL-5).
			st := w.currentStage()
			for _, id := range r.EscalateTo {
				if w.approvers[id] && !slices.Contains(st.ApproverIDs, id) {
					st.ApproverIDs = append(st.ApproverIDs, id)
				}
			}
		}
	}
	w.mu.Unlock()
	if err != nil {
		workflow.GetLogger(ctx).Warn("escalation failed", "error", err)
		return
	}
	if res.MailPending {
		w.deliver(ctx)
	}
}
