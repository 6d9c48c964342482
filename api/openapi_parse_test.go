package api_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// The served contract parses as YAML and is OpenAPI 3.1 with the paths and the request schema's
// policy and section fields, so generators and validators that CSM tools use can read it.
func TestOpenAPIParses(t *testing.T) {
	raw, err := os.ReadFile("openapi.yaml")
	require.NoError(t, err)
	var doc struct {
		OpenAPI    string         `yaml:"openapi"`
		Paths      map[string]any `yaml:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)
	require.Contains(t, doc.Paths, "/v1/approval-requests/{id}/review")
	props := doc.Components.Schemas["ApprovalRequest"].Properties
	for _, f := range []string{"stages", "current_stage", "audience_size", "approval_policy", "section_reviews"} {
		require.Containsf(t, props, f, "ApprovalRequest documents %s", f)
	}
}
