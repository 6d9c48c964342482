package chaos_test

import (
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/signoff/signoff/workflows"
)

// Helpers of TestChaosPostgresOutage (postgres_outage_test.go). Its own Postgres cluster is the
// restart case's (restartOwnPostgres in restart_test.go), its API client the suite's (apiClient).

// outageStatusAttr decodes the SignoffStatus search attribute of a described workflow ("" when unset).
func outageStatusAttr(indexed map[string]*commonpb.Payload) string {
	p := indexed[workflows.SearchAttrStatus]
	if p == nil {
		return ""
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &s); err != nil {
		return "(undecodable: " + err.Error() + ")"
	}
	return s
}
