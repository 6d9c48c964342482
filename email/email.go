// Package email holds the email message type and the SendGrid sender used when SENDGRID_API_KEY is set.
package email

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
	"github.com/sendgrid/sendgrid-go/helpers/mail"
)

// Message is one email to one person, in text and HTML (R-ACT-4).
type Message struct {
	ToEmail string
	ToName  string
	Subject string
	// Body is the text part.
	Body string
	// HTML is the HTML part; empty sends the text part alone.
	HTML string
}

// SendGrid sends messages through the SendGrid v3 mail API.
type SendGrid struct {
	// From is the sender address (SIGNOFF_MAIL_FROM).
	From string
	// FromName is the sender's display name.
	FromName string
	client   *sendgrid.Client
}

// NewSendGrid returns a sender using apiKey. host overrides the API host (tests point it at an
// httptest server); empty means https://api.sendgrid.com.
func NewSendGrid(apiKey, host, from, fromName string) *SendGrid {
	req := sendgrid.GetRequest(apiKey, "/v3/mail/send", host)
	req.Method = http.MethodPost
	return &SendGrid{From: from, FromName: fromName, client: &sendgrid.Client{Request: req}}
}

// ErrPermanent marks a message SendGrid refused for good (a 4xx other than 429).
var ErrPermanent = errors.New("email: refused by provider")

// Send delivers m with its text and HTML parts (text/plain first, as the v3 API requires). A 429 or 5xx
// answer, or no answer, is an ordinary error (retry); any other 4xx wraps ErrPermanent.
func (s *SendGrid) Send(ctx context.Context, m Message) error {
	msg := mail.NewSingleEmail(mail.NewEmail(s.FromName, s.From), m.Subject, mail.NewEmail(m.ToName, m.ToEmail), m.Body, m.HTML)
	resp, err := s.client.SendWithContext(ctx, msg)
	if err != nil {
		return fmt.Errorf("email: sendgrid: %w", err)
	}
	return classify(resp)
}

func classify(resp *rest.Response) error {
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("email: sendgrid answered %d: %s", resp.StatusCode, resp.Body)
	}
	return fmt.Errorf("%w: sendgrid answered %d: %s", ErrPermanent, resp.StatusCode, resp.Body)
}
