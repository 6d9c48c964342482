package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/signoff/signoff/errs"
	"github.com/signoff/signoff/storage"
)

// ApprovalPolicy is who must approve a request and in what order (R-POL-1).
type ApprovalPolicy = storage.ApprovalPolicy

// Limits of approval policies.
const (
	maxPolicyStages = 10
	maxPolicyRules  = 10
	maxStageName    = 100
)

// policyField is the name of the policy in settings and campaigns, the prefix of its 422s.
const policyField = "approval_policy"

// rawPolicy is a policy as the client wrote it, its numbers and "all" still to check.
type rawPolicy struct {
	Stages *[]rawStage `json:"stages"`
	Rules  []rawRule   `json:"rules"`
}

type rawStage struct {
	Name        *string         `json:"name"`
	ApproverIDs *[]string       `json:"approver_ids"`
	Required    json.RawMessage `json:"required"`
}

type rawRule struct {
	If       *rawCondition `json:"if"`
	AddStage *rawStage     `json:"add_stage"`
}

type rawCondition struct {
	AudienceSizeGT json.RawMessage `json:"audience_size_gt"`
}

// ParseApprovalPolicy reads and validates an approval policy as a client wrote it (R-POL-1) in
// account accountID: null is none (the default, or the account's for a campaign); otherwise stages
// are non-empty, each named, its approvers distinct users holding the approval right (null: the
// request's approvers), required a whole number from 1 to the stage's approver count or "all", and
// rules are well formed. A 422 names the field, like approval_policy.stages[1].required.
func (a *App) ParseApprovalPolicy(ctx context.Context, accountID string, raw json.RawMessage) (*ApprovalPolicy, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var rp rawPolicy
	if err := dec.Decode(&rp); err != nil {
		return nil, errs.Invalid(policyField, "must be an object {\"stages\":[{\"name\",\"approver_ids\",\"required\"}],\"rules\":[…]}: "+jsonProblem(err))
	}
	if rp.Stages == nil || len(*rp.Stages) == 0 {
		return nil, errs.Invalid(policyField+".stages", "needs at least one stage")
	}
	if len(*rp.Stages) > maxPolicyStages {
		return nil, errs.Invalid(policyField+".stages", fmt.Sprintf("at most %d stages", maxPolicyStages))
	}
	out := &ApprovalPolicy{Stages: []storage.PolicyStage{}, Rules: []storage.PolicyRule{}}
	for i, rs := range *rp.Stages {
		st, err := a.parseStage(ctx, accountID, fmt.Sprintf("%s.stages[%d]", policyField, i), rs)
		if err != nil {
			return nil, err
		}
		out.Stages = append(out.Stages, st)
	}
	if len(rp.Rules) > maxPolicyRules {
		return nil, errs.Invalid(policyField+".rules", fmt.Sprintf("at most %d rules", maxPolicyRules))
	}
	for i, rr := range rp.Rules {
		field := fmt.Sprintf("%s.rules[%d]", policyField, i)
		if rr.If == nil || len(rr.If.AudienceSizeGT) == 0 {
			return nil, errs.Invalid(field+".if.audience_size_gt", `is required: a rule reads {"if":{"audience_size_gt":n},"add_stage":{…}}`)
		}
		var n int
		if err := json.Unmarshal(rr.If.AudienceSizeGT, &n); err != nil || n < 0 {
			return nil, errs.Invalid(field+".if.audience_size_gt", "must be a whole number of contacts, 0 or more")
		}
		if rr.AddStage == nil {
			return nil, errs.Invalid(field+".add_stage", "is required: the stage the rule appends")
		}
		st, err := a.parseStage(ctx, accountID, field+".add_stage", *rr.AddStage)
		if err != nil {
			return nil, err
		}
		out.Rules = append(out.Rules, storage.PolicyRule{If: storage.RuleCondition{AudienceSizeGT: &n}, AddStage: st})
	}
	return out, nil
}

// jsonProblem is what a JSON decoding error says, without Go's type names.
func jsonProblem(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	msg = strings.ReplaceAll(msg, "app.rawPolicy", "the policy")
	msg = strings.ReplaceAll(msg, "app.rawStage", "a stage")
	msg = strings.ReplaceAll(msg, "app.rawRule", "a rule")
	return msg
}

// parseStage checks one stage of a policy; field is its path.
func (a *App) parseStage(ctx context.Context, accountID, field string, rs rawStage) (storage.PolicyStage, error) {
	var st storage.PolicyStage
	if rs.Name == nil || strings.TrimSpace(*rs.Name) == "" {
		return st, errs.Invalid(field+".name", "is required")
	}
	st.Name = strings.TrimSpace(*rs.Name)
	if err := checkWritten(field+".name", st.Name, true, false, maxStageName); err != nil {
		return st, err
	}
	if rs.ApproverIDs != nil {
		if len(*rs.ApproverIDs) == 0 {
			return st, errs.Invalid(field+".approver_ids", "needs at least one approver, or null for the request's approvers")
		}
		users, err := a.usersWithApprovalRight(ctx, accountID, field+".approver_ids", *rs.ApproverIDs)
		if err != nil {
			return st, err
		}
		st.ApproverIDs = make([]string, len(users))
		for i, u := range users {
			st.ApproverIDs[i] = u.ID
		}
	}
	if len(rs.Required) == 0 {
		return st, errs.Invalid(field+".required", `is required: a whole number of approvals, or "all"`)
	}
	if err := json.Unmarshal(rs.Required, &st.Required); err != nil {
		return st, errs.Invalid(field+".required", `must be a whole number of approvals, or "all"`)
	}
	if !st.Required.All {
		switch {
		case st.Required.N < 1:
			return st, errs.Invalid(field+".required", "must be at least 1")
		case st.ApproverIDs != nil && st.Required.N > len(st.ApproverIDs):
			return st, errs.Invalid(field+".required", fmt.Sprintf("must be at most the stage's %d approver(s)", len(st.ApproverIDs)))
		case st.Required.N > maxApprovers:
			return st, errs.Invalid(field+".required", fmt.Sprintf("must be at most %d", maxApprovers))
		}
	}
	return st, nil
}

// resolveStage is stage st of a request whose approvers are approverIDs: null approvers take the
// request's, "all" becomes their count. field names the stage for the 422 of a required count the
// request's approvers cannot reach.
func resolveStage(st storage.PolicyStage, approverIDs []string, field string) (storage.RequestStage, error) {
	ids := st.ApproverIDs
	if ids == nil {
		ids = approverIDs
	}
	out := storage.RequestStage{Name: st.Name, ApproverIDs: append([]string(nil), ids...), Required: st.Required.N}
	if st.Required.All {
		out.Required = len(ids)
	}
	if out.Required > len(ids) {
		return out, errs.Invalid("approver_ids", fmt.Sprintf("the approval policy's %s requires %d approvals from the request's approvers: choose at least %d",
			field, out.Required, out.Required))
	}
	return out, nil
}

// requestPolicy is the policy a request submitted with approverIDs runs under, resolved: nil for
// the default (no policy on the campaign or the account), else the stages and rules with their
// approvers and required counts.
type requestPolicy struct {
	stages []storage.RequestStage
	rules  []storage.RequestRule
}

// resolvePolicy resolves the effective policy of a submission (the campaign's override, else the
// account's; nil for the default) against the request's approvers.
func resolvePolicy(campaign, account *ApprovalPolicy, approverIDs []string) (*requestPolicy, error) {
	p := campaign
	if p == nil {
		p = account
	}
	if p == nil {
		return nil, nil
	}
	out := &requestPolicy{}
	for i, st := range p.Stages {
		rs, err := resolveStage(st, approverIDs, fmt.Sprintf("stages[%d]", i))
		if err != nil {
			return nil, err
		}
		out.stages = append(out.stages, rs)
	}
	for i, r := range p.Rules {
		rs, err := resolveStage(r.AddStage, approverIDs, fmt.Sprintf("rules[%d].add_stage", i))
		if err != nil {
			return nil, err
		}
		gt := 0
		if r.If.AudienceSizeGT != nil {
			gt = *r.If.AudienceSizeGT
		}
		out.rules = append(out.rules, storage.RequestRule{AudienceSizeGT: gt, AddStage: rs})
	}
	return out, nil
}

// stageApprovers is every approver a resolved policy names, the request's assignments: the stages'
// and the rules' in order, each once.
func (p *requestPolicy) approvers() []string {
	seen := map[string]bool{}
	var out []string
	add := func(ids []string) {
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	for _, st := range p.stages {
		add(st.ApproverIDs)
	}
	for _, r := range p.rules {
		add(r.AddStage.ApproverIDs)
	}
	return out
}

// Stage statuses as a request answers them (R-POL-2).
const (
	StageWaiting  = "waiting"  // a later stage of a pending request
	StagePending  = "pending"  // the stage the request waits for
	StageApproved = "approved" // done: its required approvals came
	StageSkipped  = "skipped"  // never reached: the request ended before it (or was approved by the system)
)

// StageView is a stage of a request as its answer shows it: name, required count, the approvals
// counted and its status (StageWaiting, StagePending, StageApproved, StageSkipped, or the request's
// final status for the stage it ended in: rejected, cancelled, timed_out, expired).
type StageView struct {
	Name      string
	Required  int
	Approvals []storage.StageApproval
	Status    string
}

// DefaultStageName names the one stage of a request under the default policy.
const DefaultStageName = "approval"

// RequestStages is the stages of request r as its answer shows them. A request under the default
// policy has one stage of its approvers, one approval required, the approval its decision.
func RequestStages(r ApprovalRequest) []StageView {
	if r.Stages == nil {
		st := StageView{Name: DefaultStageName, Required: 1, Approvals: []storage.StageApproval{}}
		if r.Status == storage.RequestStatusApproved && r.DecidedBy != nil && r.DecidedAt != nil {
			st.Approvals = append(st.Approvals, storage.StageApproval{UserID: *r.DecidedBy, At: *r.DecidedAt})
		}
		st.Status = stageStatus(r, 0, len(st.Approvals) >= 1)
		return []StageView{st}
	}
	out := make([]StageView, len(r.Stages))
	for i, st := range r.Stages {
		v := StageView{Name: st.Name, Required: st.Required, Approvals: []storage.StageApproval{}}
		for _, a := range r.StageApprovals {
			if a.Stage == i {
				v.Approvals = append(v.Approvals, a)
			}
		}
		v.Status = stageStatus(r, i, len(v.Approvals) >= st.Required)
		out[i] = v
	}
	return out
}

// stageStatus is the status of stage i of r; done says its required approvals came.
func stageStatus(r ApprovalRequest, i int, done bool) string {
	switch {
	case done:
		return StageApproved
	case r.Status == storage.RequestStatusPending && i == r.CurrentStage:
		return StagePending
	case r.Status == storage.RequestStatusPending && i > r.CurrentStage:
		return StageWaiting
	case r.Status != storage.RequestStatusApproved && i == r.CurrentStage:
		return r.Status
	}
	return StageSkipped
}

// Types of policies and stages, as the API maps them.
type (
	// PolicyStage is a stage of an approval policy.
	PolicyStage = storage.PolicyStage
	// RequestPolicy is the resolved policy a request was submitted under.
	RequestPolicy = storage.RequestPolicy
	// RequestStage is a resolved stage of a request.
	RequestStage = storage.RequestStage
	// StageApproval is an approval counted in a stage.
	StageApproval = storage.StageApproval
)
