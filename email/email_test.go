package email_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/signoff/signoff/email"
)

// sendGridPayload is the part of the v3 mail/send body the test checks.
type sendGridPayload struct {
	From struct {
		Email string `json:"email"`
		Name  string `json:"name"`
	} `json:"from"`
	Subject          string `json:"subject"`
	Personalizations []struct {
		To []struct {
			Email string `json:"email"`
			Name  string `json:"name"`
		} `json:"to"`
	} `json:"personalizations"`
	Content []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"content"`
}

func TestSendGridSendsTheMessage(t *testing.T) {
	// The handler runs on the server's goroutine, where require cannot stop the test: it only records
	// what it saw, and the test checks it once Send has returned.
	var (
		mu                 sync.Mutex
		calls              int
		raw                []byte
		readErr            error
		auth, path, method string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		auth, path, method = r.Header.Get("Authorization"), r.URL.Path, r.Method
		raw, readErr = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()

	s := email.NewSendGrid("SG.test-key", srv.URL, "signoff@example.com", "Signoff")
	err := s.Send(context.Background(), email.Message{ToEmail: "ana@example.com", ToName: "Ana", Subject: "Approval requested: Q1",
		Body: "Please review.", HTML: "<p>Please review.</p>"})
	require.NoError(t, err)
	mu.Lock()
	require.Equal(t, 1, calls, "one request to SendGrid")
	require.NoError(t, readErr)
	var got sendGridPayload
	require.NoError(t, json.Unmarshal(raw, &got), "body: %s", raw)
	require.Equal(t, "Bearer SG.test-key", auth)
	require.Equal(t, "/v3/mail/send", path)
	require.Equal(t, http.MethodPost, method)
	require.Equal(t, "signoff@example.com", got.From.Email)
	require.Equal(t, "Approval requested: Q1", got.Subject)
	require.Len(t, got.Personalizations, 1)
	require.Equal(t, "ana@example.com", got.Personalizations[0].To[0].Email)
	require.Equal(t, "Ana", got.Personalizations[0].To[0].Name)
	require.Len(t, got.Content, 2, "text and HTML (R-ACT-4)")
	require.Equal(t, "text/plain", got.Content[0].Type, "SendGrid wants text/plain first")
	require.Equal(t, "Please review.", got.Content[0].Value)
	require.Equal(t, "text/html", got.Content[1].Type)
	require.Equal(t, "<p>Please review.</p>", got.Content[1].Value)
	mu.Unlock()

	// An email without an HTML part (written before the outbox kept one) goes as text alone.
	require.NoError(t, s.Send(context.Background(), email.Message{ToEmail: "ana@example.com", Subject: "s", Body: "text only"}))
	mu.Lock()
	defer mu.Unlock()
	got = sendGridPayload{}
	require.NoError(t, json.Unmarshal(raw, &got), "body: %s", raw)
	require.Len(t, got.Content, 1)
	require.Equal(t, "text/plain", got.Content[0].Type)
}

func TestSendGridErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		permanent bool
	}{
		{"rate limited is retryable", http.StatusTooManyRequests, false},
		{"server error is retryable", http.StatusBadGateway, false},
		{"bad request is permanent", http.StatusBadRequest, true},
		{"unauthorized is permanent", http.StatusUnauthorized, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(`{"errors":[{"message":"nope"}]}`))
			}))
			defer srv.Close()
			err := email.NewSendGrid("k", srv.URL, "a@example.com", "A").Send(context.Background(), email.Message{ToEmail: "b@example.com", Subject: "s", Body: "b"})
			require.Error(t, err)
			require.Equal(t, tc.permanent, errors.Is(err, email.ErrPermanent))
			require.Equal(t, int32(1), calls.Load(), "the sender itself never retries; the activity's retry policy does")
		})
	}
}
