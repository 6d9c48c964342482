package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/signoff/signoff/localenv"
	"github.com/signoff/signoff/workflows"
)

// TestDevServerRegistersTheSearchAttributes: the dev servers of make dev and make test register
// exactly the search attributes the workflows set. localenv keeps its own list because it sits below
// the packages it serves (the activities' tests start servers through it); this keeps the two equal.
func TestDevServerRegistersTheSearchAttributes(t *testing.T) {
	assert.ElementsMatch(t, workflows.SearchAttributes(), localenv.SearchAttributes)
}
