package api

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/signoff/signoff/app"
	"github.com/signoff/signoff/errs"
)

// approvalRequestJSON is an approval request as the API answers it.
type approvalRequestJSON struct {
	ID              string         `json:"id"`
	AccountID       string         `json:"account_id"`
	CampaignID      string         `json:"campaign_id"`
	CampaignVersion int            `json:"campaign_version"`
	ContentHash     string         `json:"content_hash"` // the pinned version's content_hash (R-VER-2)
	SubmittedBy     string         `json:"submitted_by"`
	Note            string         `json:"note"`
	Status          string         `json:"status"`
	DecidedBy       *string        `json:"decided_by"`
	DecisionNote    string         `json:"decision_note"`
	DecidedAt       *time.Time     `json:"decided_at"`
	DeadlineAt      time.Time      `json:"deadline_at"`
	LaunchAt        *time.Time     `json:"launch_at"`
	Approvers       []approverJSON `json:"approvers"`
	CreatedAt       time.Time      `json:"created_at"`
	UpdatedAt       time.Time      `json:"updated_at"`
	// Stages, CurrentStage, AudienceSize and ApprovalPolicy are the request's approval policy as it
	// runs (R-POL-1..3): one stage under the default, whose policy is null; audience_size is null
	// while counting, and for good when the count failed.
	Stages         []stageJSON         `json:"stages"`
	CurrentStage   int                 `json:"current_stage"`
	AudienceSize   *int                `json:"audience_size"`
	ApprovalPolicy *approvalPolicyJSON `json:"approval_policy"`
	// SectionReviews are the approvers' per-section verdicts (R-POL-4), in the answers that load them
	// (GET of the request and its review); left out of the others.
	SectionReviews *[]sectionReviewJSON `json:"section_reviews,omitempty"`
}

// sectionReviewJSON is one approver's verdict on one section of a request (R-POL-4).
type sectionReviewJSON struct {
	UserID  string    `json:"user_id"`
	Section string    `json:"section"`
	Verdict string    `json:"verdict"`
	Note    string    `json:"note"`
	At      time.Time `json:"at"`
}

type approverJSON struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	State  string `json:"state"`
}

func toApprovalRequestJSON(r app.ApprovalRequest) approvalRequestJSON {
	out := approvalRequestJSON{ID: r.ID, AccountID: r.AccountID, CampaignID: r.CampaignID, CampaignVersion: r.CampaignVersion,
		ContentHash: r.ContentHash, SubmittedBy: r.SubmittedBy, Note: r.Note, Status: r.Status, DecidedBy: r.DecidedBy, DecisionNote: r.DecisionNote,
		DecidedAt: r.DecidedAt, DeadlineAt: r.DeadlineAt, LaunchAt: r.LaunchAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Approvers: mapEach(r.Approvers, func(a app.Approver) approverJSON {
			return approverJSON{UserID: a.UserID, Name: a.Name, Email: a.Email, State: a.State}
		}), Stages: toStagesJSON(r), CurrentStage: r.CurrentStage, AudienceSize: r.AudienceSize,
		ApprovalPolicy: toRequestPolicyJSON(r.Policy)}
	if r.SectionReviews != nil {
		list := mapEach(r.SectionReviews, func(s app.SectionReview) sectionReviewJSON {
			return sectionReviewJSON{UserID: s.UserID, Section: s.Section, Verdict: s.Verdict, Note: s.Note, At: s.At}
		})
		out.SectionReviews = &list
	}
	return out
}

// approvalEventJSON is one entry of an approval history.
type approvalEventJSON struct {
	Type      string     `json:"type"`
	Actor     *actorJSON `json:"actor"`
	Note      string     `json:"note"`
	At        time.Time  `json:"at"`
	RequestID string     `json:"request_id"`
	// Version is the campaign version the request pinned (R-VER-8).
	Version *int `json:"version"`
	// Approvers are the request's approvers as they were then, on submitted and approvers_changed
	// events; null on other events and on those recorded before the approvers were kept.
	Approvers []actorJSON `json:"approvers"`
	// Stage is the stage (from 0) a stage_approved event completed (R-POL-2); absent on other events.
	Stage *int `json:"stage,omitempty"`
}

type actorJSON struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

func toApprovalEventJSON(e app.ApprovalEvent) approvalEventJSON {
	out := approvalEventJSON{Type: e.Type, Note: e.Note, At: e.At, RequestID: e.RequestID, Version: e.Version, Stage: e.Stage}
	if e.Actor != nil {
		out.Actor = &actorJSON{ID: e.Actor.ID, Name: e.Actor.Name, Email: e.Actor.Email}
	}
	if e.Approvers != nil {
		out.Approvers = mapEach(e.Approvers, func(a app.Actor) actorJSON { return actorJSON{ID: a.ID, Name: a.Name, Email: a.Email} })
	}
	return out
}

type outboxEmailJSON struct {
	ID        string     `json:"id"`
	ToEmail   string     `json:"to"`
	ToName    string     `json:"to_name"`
	Subject   string     `json:"subject"`
	Body      string     `json:"body"`
	HTML      string     `json:"html"`
	RequestID *string    `json:"request_id"`
	CreatedAt time.Time  `json:"created_at"`
	SentAt    *time.Time `json:"sent_at"`
	FailedAt  *time.Time `json:"failed_at"`
	Failure   string     `json:"failure"`
}

func toOutboxEmailJSON(m app.OutboxEmail) outboxEmailJSON {
	return outboxEmailJSON{ID: m.ID, ToEmail: m.ToEmail, ToName: m.ToName, Subject: m.Subject, Body: m.Body, HTML: m.HTML,
		RequestID: m.RequestID, CreatedAt: m.CreatedAt, SentAt: m.SentAt, FailedAt: m.FailedAt, Failure: m.Failure}
}

type launchJSON struct {
	ID         string    `json:"id"`
	CampaignID string    `json:"campaign_id"`
	Version    int       `json:"version"`
	RequestID  *string   `json:"request_id"`
	LaunchedBy *string   `json:"launched_by"`
	Source     string    `json:"source"`
	LaunchedAt time.Time `json:"launched_at"`
	// ContentHash and Content are the launched version's (R-VER-3), never the working copy.
	ContentHash string              `json:"content_hash"`
	Content     campaignContentJSON `json:"content"`
}

func toLaunchJSON(l app.Launch) launchJSON {
	return launchJSON{ID: l.ID, CampaignID: l.CampaignID, Version: l.Version, RequestID: l.RequestID,
		LaunchedBy: l.LaunchedBy, Source: l.Source, LaunchedAt: l.LaunchedAt, ContentHash: l.ContentHash,
		Content: toCampaignContentJSON(l.Content)}
}

// launchPageJSON is a page of the launch feed with the cursor of the next one.
type launchPageJSON struct {
	Items      []launchJSON `json:"items"`
	NextCursor *string      `json:"next_cursor"`
}

// launchCursorTag starts the bytes of a launch feed cursor: the tag, then the feed number, big-endian,
// 9 bytes in all.
const launchCursorTag = 'F'

func encodeLaunchCursor(cur app.LaunchCursor) string {
	b := binary.BigEndian.AppendUint64([]byte{launchCursorTag}, uint64(cur.Seq))
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeLaunchCursor reads the after parameter of the launch feed into in: a cursor encodeLaunchCursor
// wrote, or one of the feed before migration 00015 (a list cursor naming the last launch seen).
func decodeLaunchCursor(v string, in *app.LaunchFeedInput) error {
	if b, err := base64.RawURLEncoding.DecodeString(v); err == nil && len(b) == 9 && b[0] == launchCursorTag {
		in.After = &app.LaunchCursor{Seq: int64(binary.BigEndian.Uint64(b[1:]))}
		return nil
	}
	old, err := decodeCursor(v)
	if err != nil {
		return err
	}
	in.AfterLaunchID = &old.ID
	return nil
}

// launchAnswer is the answer of a launch.
type launchAnswer struct {
	Launch launchJSON `json:"launch"`
}

type submitRequest struct {
	ApproverIDs []string `json:"approver_ids"`
	Note        string   `json:"note"`
}

// submitInput is a submission of campaign campaignID; the request's id derives from the
// Idempotency-Key in a keyed call.
func submitInput(c *gin.Context, campaignID string, approverIDs []string, note string) app.SubmitInput {
	_, keyed := c.Get(ctxIdempotencyKey)
	return app.SubmitInput{CampaignID: campaignID, ApproverIDs: approverIDs, Note: note,
		RequestID: idempotentID(c, "approval-request:"+c.FullPath()), Keyed: keyed}
}

// createApprovalRequest submits a campaign to approvers (R-APPR-2, R-APPR-3).
func (s *Server) createApprovalRequest(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	var req submitRequest
	if !bindJSON(c, &req) {
		return
	}
	r, err := s.App.Submit(c.Request.Context(), currentUser(c), submitInput(c, id, req.ApproverIDs, req.Note))
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusCreated, toApprovalRequestJSON(r))
}

func (s *Server) getApprovalRequest(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	r, err := s.App.ApprovalRequestWithReviews(c.Request.Context(), currentUser(c), id)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, toApprovalRequestJSON(r))
}

type decisionRequest struct {
	Note string `json:"note"`
}

// decide answers approve, reject or cancel with the request as the decision left it (R-APPR-4,
// R-APPR-5).
func (s *Server) decide(d app.Decision) gin.HandlerFunc {
	return func(c *gin.Context) {
		var body decisionRequest
		if c.Request.ContentLength != 0 && !bindJSON(c, &body) {
			return
		}
		id, ok := pathID(c, "id")
		if !ok {
			return
		}
		// Once sent, the decision happens whether or not its client waits: its outcome is awaited a
		// while after the client left, so a keyed retry gets it. A keyed retry also sends the same
		// Update id, and Temporal answers the first Update's outcome instead of deciding again.
		ctx, done := outliveClient(c, s.decisionGrace())
		defer done()
		r, err := s.App.Decide(ctx, currentUser(c), app.DecideInput{RequestID: id, Decision: d, Note: body.Note,
			UpdateID: keyedUpdateID(c, string(d))})
		s.decided(ctx, c, id, r, err)
	}
}

// decided answers a change to request id made under ctx (a decision, a review, new approvers): the
// request's decision pages are told at once in this process (others hear the feed), then the answer
// is 499 when the client went away first, the error, or 200 with the request.
func (s *Server) decided(ctx context.Context, c *gin.Context, id string, r app.ApprovalRequest, err error) {
	s.decisionCache.requestChanged(id)
	switch {
	case err != nil && ctx.Err() != nil:
		abort(c, errs.ClientClosed, "the request was cancelled")
	case err != nil:
		respondError(c, err)
	default:
		c.JSON(http.StatusOK, toApprovalRequestJSON(r))
	}
}

// reviewRequest is the body of a per-section review (R-POL-4).
type reviewRequest struct {
	Sections map[string]sectionAnswer `json:"sections"`
}

type sectionAnswer struct {
	Verdict string `json:"verdict"`
	Note    string `json:"note"`
}

// review takes an approver's per-section verdicts (R-POL-4) and answers the request with them: still
// pending, or approved or rejected when the verdicts decided it. Like a decision, it is awaited a
// while after its client went away, and a keyed retry sends the same Update id.
func (s *Server) review(c *gin.Context) {
	var body reviewRequest
	if !bindJSON(c, &body) {
		return
	}
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	ctx, done := outliveClient(c, s.decisionGrace())
	defer done()
	in := app.ReviewInput{RequestID: id, Sections: map[string]app.SectionAnswer{}, CallID: keyedUpdateID(c, "review")}
	for k, v := range body.Sections {
		in.Sections[k] = app.SectionAnswer(v)
	}
	r, err := s.App.Review(ctx, currentUser(c), in)
	s.decided(ctx, c, id, r, err) // the approver's decision pages show the verdicts
}

type approversRequest struct {
	ApproverIDs []string `json:"approver_ids"`
	Note        string   `json:"note"`
}

// changeApprovers replaces a pending request's approvers (R-APPR-4).
func (s *Server) changeApprovers(c *gin.Context) {
	var body approversRequest
	if !bindJSON(c, &body) {
		return
	}
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	r, err := s.App.ChangeApprovers(ctx, currentUser(c), app.ChangeApproversInput{RequestID: id, ApproverIDs: body.ApproverIDs, Note: body.Note})
	s.decided(ctx, c, id, r, err) // removed approvers' links
}

func (s *Server) requestHistory(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	events, err := s.App.RequestHistory(c.Request.Context(), currentUser(c), id)
	if err != nil {
		respondError(c, err)
		return
	}
	writeHistory(c, events)
}

func (s *Server) campaignHistory(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	events, err := s.App.CampaignHistory(c.Request.Context(), currentUser(c), id)
	if err != nil {
		respondError(c, err)
		return
	}
	writeHistory(c, events)
}

// writeHistory answers events as JSON, or CSV with ?format=csv (R-APPR-10).
func writeHistory(c *gin.Context, events []app.ApprovalEvent) {
	switch c.DefaultQuery("format", "json") {
	case "json":
		c.JSON(http.StatusOK, items(mapEach(events, toApprovalEventJSON)))
	case "csv":
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", `attachment; filename="approval-history.csv"`)
		c.Status(http.StatusOK)
		w := csv.NewWriter(c.Writer)
		// A stage_approved line's note names its stage ("stage 1 of 2 (legal) approved"): the columns stay
		// those spreadsheets already read.
		_ = w.Write([]string{"type", "actor", "actor_email", "note", "at", "request_id", "version", "approvers"})
		for _, e := range events {
			actor, email := "system", ""
			if e.Actor != nil {
				actor, email = e.Actor.Name, e.Actor.Email
			}
			version := ""
			if e.Version != nil {
				version = strconv.Itoa(*e.Version)
			}
			_ = w.Write([]string{e.Type, csvSafe(actor), csvSafe(email), csvSafe(e.Note), e.At.UTC().Format(time.RFC3339), e.RequestID,
				version, csvSafe(approversCell(e.Approvers))})
		}
		w.Flush()
	default:
		invalid(c, "format", "must be json or csv")
	}
}

// approversCell is an event's approvers in one CSV cell: "Name <email>; Name <email>" (R-VER-8).
func approversCell(list []app.Actor) string {
	parts := make([]string, len(list))
	for i, a := range list {
		parts[i] = a.Name + " <" + a.Email + ">"
	}
	return strings.Join(parts, "; ")
}

// csvSafe keeps a cell from being read as a formula by spreadsheet programs.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// inboxPageJSON is the caller's inbox, or a page of it with the cursor of the next one.
type inboxPageJSON struct {
	Items      []inboxItemJSON `json:"items"`
	NextCursor *string         `json:"next_cursor"`
}

// inbox answers the caller's whole inbox, or one page of it when the query has a limit or a cursor.
func (s *Server) inbox(c *gin.Context) {
	var in app.InboxInput
	if !queryLimit(c, &in.Limit, app.PageLimitError()) {
		return
	}
	if v := c.Query("cursor"); v != "" {
		t, id, err := decodeKeyCursor(v)
		if err != nil {
			invalid(c, "cursor", "is not a cursor this API returned")
			return
		}
		in.After = &app.InboxCursor{DeadlineAt: t, ID: id}
	}
	page, err := s.App.Inbox(c.Request.Context(), currentUser(c), in)
	if err != nil {
		respondError(c, err)
		return
	}
	out := inboxPageJSON{Items: mapEach(page.Items, toInboxItemJSON)}
	if page.Next != nil {
		next := encodeKeyCursor(page.Next.DeadlineAt, page.Next.ID)
		out.NextCursor = &next
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) outbox(c *gin.Context) {
	list, err := s.App.Outbox(c.Request.Context(), currentUser(c))
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, items(mapEach(list, toOutboxEmailJSON)))
}

// launch serves external schedulers (R-APPR-8): 201 with the launch record when this call launched
// the campaign, 200 with the same record on a repeat.
func (s *Server) launch(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	l, created, err := s.App.Launch(c.Request.Context(), currentUser(c), id)
	if err != nil {
		respondError(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, launchAnswer{Launch: toLaunchJSON(l)})
}

func (s *Server) launches(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	list, err := s.App.Launches(c.Request.Context(), currentUser(c), id)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, items(mapEach(list, toLaunchJSON)))
}

// launchFeed is the account's launch feed for schedulers that poll (R-VER-3): oldest first, ?limit=
// records a page and ?after=, the next_cursor of the page before (null on the last page).
func (s *Server) launchFeed(c *gin.Context) {
	var in app.LaunchFeedInput
	if !queryLimit(c, &in.Limit, app.ErrLaunchFeedLimit) {
		return
	}
	if v := c.Query("after"); v != "" && decodeLaunchCursor(v, &in) != nil {
		respondError(c, app.ErrLaunchFeedCursor)
		return
	}
	page, err := s.App.LaunchFeed(c.Request.Context(), currentUser(c), in)
	if err != nil {
		respondError(c, err)
		return
	}
	out := launchPageJSON{Items: mapEach(page.Items, toLaunchJSON)}
	if page.Next != nil {
		next := encodeLaunchCursor(*page.Next)
		out.NextCursor = &next
	}
	c.JSON(http.StatusOK, out)
}
