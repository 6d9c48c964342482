// Package workflows holds Signoff's Temporal workflows: orchestration only, deterministic.
// Names of task queues, workflows, signals and updates are constants here so the API and the
// worker agree on them.
package workflows

// DefaultTaskQueue is the task queue the worker polls unless SIGNOFF_TASK_QUEUE says otherwise.
const DefaultTaskQueue = "signoff"

// Search attribute names of SPEC §7, registered by `make dev` and upserted by the workflows.
const (
	SearchAttrAccountID  = "SignoffAccountId"
	SearchAttrCampaignID = "SignoffCampaignId"
	SearchAttrStatus     = "SignoffStatus"
)
