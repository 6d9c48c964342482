package chaos_test

import (
	"os"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/signoff/signoff/workflows"
)

// Helpers of TestChaosPostgresOutage (postgres_outage_test.go). Its own Postgres cluster and its API
// client are the restart case's (restartOwnPostgres, restartClient in restart_test.go).

// outageFull reports whether the full form was asked for (SIGNOFF_CHAOS=full).
func outageFull() bool { return os.Getenv("SIGNOFF_CHAOS") == "full" }

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
