package cluster

import (
	"reflect"
	"testing"

	"github.com/palisade-sec/palisade/internal/model"
)

// mergedFields are the report fields Merge assembles (GeneratedAt is the
// merge's own time).
var mergedFields = []string{"GeneratedAt", "Input", "Endpoints", "Alerts", "Findings", "Probes", "APIChange", "Intel",
	"AnalysisDropped", "Hosts", "Outbound", "Readiness"}

// TestMergeCoversReport fails when model.Report gains a field Merge does
// not know: a clustered deployment would silently drop it.
func TestMergeCoversReport(t *testing.T) {
	known := map[string]bool{}
	for _, f := range mergedFields {
		known[f] = true
	}
	rt := reflect.TypeFor[model.Report]()
	for i := 0; i < rt.NumField(); i++ {
		if f := rt.Field(i); !known[f.Name] {
			t.Errorf("model.Report.%s is not merged by cluster.Merge: handle it and add it to mergedFields", f.Name)
		}
	}
}
