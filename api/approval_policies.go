package api

import (
	"encoding/json"
	"time"

	"github.com/signoff/signoff/app"
)

// approvalPolicyJSON is an approval policy as settings and campaigns answer it (R-POL-1).
type approvalPolicyJSON struct {
	Stages []policyStageJSON `json:"stages"`
	Rules  []policyRuleJSON  `json:"rules"`
}

// policyStageJSON is a stage of a policy: approver_ids null takes the request's; required is a
// number or "all".
type policyStageJSON struct {
	Name        string   `json:"name"`
	ApproverIDs []string `json:"approver_ids"`
	Required    any      `json:"required"`
}

type policyRuleJSON struct {
	If       policyConditionJSON `json:"if"`
	AddStage policyStageJSON     `json:"add_stage"`
}

type policyConditionJSON struct {
	AudienceSizeGT int `json:"audience_size_gt"`
}

func toPolicyStageJSON(st app.PolicyStage) policyStageJSON {
	out := policyStageJSON{Name: st.Name, ApproverIDs: st.ApproverIDs, Required: st.Required.N}
	if st.Required.All {
		out.Required = "all"
	}
	return out
}

// toApprovalPolicyJSON maps a policy; nil is null (the default, or the account's for a campaign).
func toApprovalPolicyJSON(p *app.ApprovalPolicy) *approvalPolicyJSON {
	if p == nil {
		return nil
	}
	out := &approvalPolicyJSON{Stages: mapEach(p.Stages, toPolicyStageJSON), Rules: []policyRuleJSON{}}
	for _, r := range p.Rules {
		gt := 0
		if r.If.AudienceSizeGT != nil {
			gt = *r.If.AudienceSizeGT
		}
		out.Rules = append(out.Rules, policyRuleJSON{If: policyConditionJSON{AudienceSizeGT: gt}, AddStage: toPolicyStageJSON(r.AddStage)})
	}
	return out
}

// toRequestPolicyJSON maps the policy a request was submitted under, resolved: every stage names
// its approvers and a number; null for the default.
func toRequestPolicyJSON(p *app.RequestPolicy) *approvalPolicyJSON {
	if p == nil {
		return nil
	}
	stage := func(st app.RequestStage) policyStageJSON {
		return policyStageJSON{Name: st.Name, ApproverIDs: st.ApproverIDs, Required: st.Required}
	}
	out := &approvalPolicyJSON{Stages: mapEach(p.Stages, stage), Rules: []policyRuleJSON{}}
	for _, r := range p.Rules {
		out.Rules = append(out.Rules, policyRuleJSON{If: policyConditionJSON{AudienceSizeGT: r.AudienceSizeGT}, AddStage: stage(r.AddStage)})
	}
	return out
}

// stageJSON is a stage of a request (R-POL-2).
type stageJSON struct {
	Name      string              `json:"name"`
	Required  int                 `json:"required"`
	Approvals []stageApprovalJSON `json:"approvals"`
	Status    string              `json:"status"`
}

type stageApprovalJSON struct {
	UserID string    `json:"user_id"`
	At     time.Time `json:"at"`
}

func toStagesJSON(r app.ApprovalRequest) []stageJSON {
	return mapEach(app.RequestStages(r), func(v app.StageView) stageJSON {
		return stageJSON{Name: v.Name, Required: v.Required, Status: v.Status,
			Approvals: mapEach(v.Approvals, func(a app.StageApproval) stageApprovalJSON {
				return stageApprovalJSON{UserID: a.UserID, At: a.At}
			})}
	})
}

// rawOrNull is the JSON of an optional field as the client wrote it; absent or null is nil.
func rawOrNull(o Optional[json.RawMessage]) json.RawMessage {
	if o.Value == nil {
		return nil
	}
	return *o.Value
}
