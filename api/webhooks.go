package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/signoff/signoff/app"
)

// webhookJSON is an endpoint as the API answers it; secret is set only in the answer that creates it.
type webhookJSON struct {
	ID             string     `json:"id"`
	URL            string     `json:"url"`
	Description    string     `json:"description"`
	Events         []string   `json:"events"`
	Enabled        bool       `json:"enabled"`
	DisabledReason *string    `json:"disabled_reason"`
	DisabledAt     *time.Time `json:"disabled_at"`
	CreatedBy      *string    `json:"created_by"`
	CreatedAt      time.Time  `json:"created_at"`
	Secret         string     `json:"secret,omitempty"`
}

func toWebhookJSON(e app.WebhookEndpoint) webhookJSON {
	return webhookJSON{ID: e.ID, URL: e.URL, Description: e.Description, Events: e.Events, Enabled: e.Enabled,
		DisabledReason: e.DisabledReason, DisabledAt: e.DisabledAt, CreatedBy: e.CreatedBy, CreatedAt: e.CreatedAt}
}

// webhookDeliveryJSON is one delivery of an event with its attempts (R-HOOK-4).
type webhookDeliveryJSON struct {
	ID           string               `json:"id"`
	EventID      string               `json:"event_id"`
	EventType    string               `json:"event_type"`
	RedeliveryOf *string              `json:"redelivery_of"`
	Status       string               `json:"status"`
	ResponseCode *int                 `json:"response_code"`
	NextTryAt    *time.Time           `json:"next_try_at"`
	CreatedAt    time.Time            `json:"created_at"`
	Attempts     []webhookAttemptJSON `json:"attempts"`
}

// webhookAttemptJSON is one POST of a delivery.
type webhookAttemptJSON struct {
	Attempt      int        `json:"attempt"`
	Outcome      string     `json:"outcome"`
	ResponseCode *int       `json:"response_code"`
	Error        string     `json:"error"`
	DurationMS   int        `json:"duration_ms"`
	AttemptedAt  time.Time  `json:"attempted_at"`
	NextTryAt    *time.Time `json:"next_try_at"`
}

func toWebhookDeliveryJSON(d app.WebhookDelivery) webhookDeliveryJSON {
	return webhookDeliveryJSON{ID: d.ID, EventID: d.EventID, EventType: d.EventType, RedeliveryOf: d.RedeliveryOf,
		Status: d.Status, ResponseCode: d.LastStatusCode, NextTryAt: d.NextTryAt, CreatedAt: d.CreatedAt,
		Attempts: mapEach(d.AttemptList, func(a app.WebhookAttempt) webhookAttemptJSON {
			return webhookAttemptJSON{Attempt: a.Attempt, Outcome: a.Outcome, ResponseCode: a.ResponseCode, Error: a.Error,
				DurationMS: a.DurationMS, AttemptedAt: a.AttemptedAt.UTC(), NextTryAt: utcPtr(a.NextTryAt)}
		})}
}

// utcPtr is t in UTC; nil stays nil.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// createWebhookRequest is the body of POST /v1/webhooks.
type createWebhookRequest struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
}

// createWebhook registers an endpoint (R-HOOK-1): 201 with the secret, shown this once.
func (s *Server) createWebhook(c *gin.Context) {
	var req createWebhookRequest
	if !bindJSON(c, &req) {
		return
	}
	out, err := s.App.CreateWebhook(c.Request.Context(), currentUser(c),
		app.CreateWebhookInput{URL: req.URL, Events: req.Events, Description: req.Description})
	if err != nil {
		respondError(c, err)
		return
	}
	answerHasSecrets(c, "secret")
	j := toWebhookJSON(out.Endpoint)
	j.Secret = out.Secret
	c.JSON(http.StatusCreated, j)
}

func (s *Server) listWebhooks(c *gin.Context) {
	list, err := s.App.Webhooks(c.Request.Context(), currentUser(c))
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, items(mapEach(list, toWebhookJSON)))
}

func (s *Server) getWebhook(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	e, err := s.App.Webhook(c.Request.Context(), currentUser(c), id)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, toWebhookJSON(e))
}

func (s *Server) deleteWebhook(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	if err := s.App.DeleteWebhook(c.Request.Context(), currentUser(c), id); err != nil {
		respondError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// webhookDeliveries lists an endpoint's newest deliveries with their attempts (R-HOOK-4).
func (s *Server) webhookDeliveries(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	list, err := s.App.WebhookDeliveries(c.Request.Context(), currentUser(c), id)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusOK, items(mapEach(list, toWebhookDeliveryJSON)))
}

// redeliver sends a delivery's event again as a new delivery: 202, sent in the background.
func (s *Server) redeliver(c *gin.Context) {
	id, ok := pathID(c, "id")
	if !ok {
		return
	}
	deliveryID, ok := pathID(c, "delivery_id")
	if !ok {
		return
	}
	d, err := s.App.Redeliver(c.Request.Context(), currentUser(c), id, deliveryID)
	if err != nil {
		respondError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, toWebhookDeliveryJSON(d))
}
