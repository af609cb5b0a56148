package pipeline

import (
	"os/exec"
	"strings"
	"testing"
)

// layers places every package of internal/ in the pipeline
// (docs/ARCHITECTURE.md, "The stages and their types"): a package may
// import packages of its level or below, never above; analyzers (level 4)
// never import another analyzer family (a package and its subpackages are
// one family). A new package must be placed here.
var layers = map[string]int{
	// leaves: contract types and shared mechanisms
	"model": 0, "alert": 0, "config": 0, "jsonscan": 0, "hashing": 0, "bounded": 0, "textkind": 0, "authzname": 0, "specfile": 0, "classify/ac": 0,
	"testutil": 0, "statecodec": 0, "bus/natstest": 0, "evalsplit": 0,
	// normalized record, identities, the event and the stage interfaces
	"exchange": 1, "identity": 1, "event": 1, "pipeline": 1, "graphql": 1,
	// sources and enrichment
	"source": 2, "ship": 2, "enrich": 2, "intel": 2, "bus": 2,
	// the classification stage
	"classify": 3,
	// analyzers
	"inventory": 4, "detect": 4, "detect/crs": 4, "posture": 4, "posture/specaudit": 4, "posture/gateway": 4,
	"posture/yamltree": 4, "activity": 4,
	// wiring (and the evaluation tooling that drives the detectors and the engine)
	"engine": 5, "detect/injeval": 5, "engine/discoveryeval": 5,
	// outputs
	"report": 6, "incident": 6, "sink": 6, "server/wal": 6, "server/query": 6, "dashboard": 6, "dashboard/chart": 6, "sim": 6,
	"store": 6, "store/sqlstore": 6, "store/sqlite": 6, "store/postgres": 6, "store/postgres/pgtest": 6,
	"store/storeopen": 6, "store/storetest": 6, "cluster": 6,
	// the server and the scenario scoring (which runs the engine on the simulator)
	"server": 7, "scenario": 7,
}

func family(p string) string {
	f, _, _ := strings.Cut(p, "/")
	return f
}

func TestImportsPointDown(t *testing.T) {
	const mod = "github.com/palisade-sec/palisade/internal/"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		from := strings.TrimPrefix(f[0], mod)
		lf, ok := layers[from]
		if !ok {
			t.Errorf("package %s is not placed in the pipeline's layers (layers_test.go and docs/ARCHITECTURE.md)", from)
			continue
		}
		seen++
		for _, imp := range f[1:] {
			to, ok := strings.CutPrefix(imp, mod)
			if !ok {
				continue
			}
			lt, ok := layers[to]
			switch {
			case !ok:
				// reported as a package of its own
			case lt > lf:
				t.Errorf("%s (level %d) imports %s (level %d): imports point down the pipeline", from, lf, to, lt)
			case lf == 4 && lt == 4 && family(from) != family(to):
				t.Errorf("analyzer %s imports analyzer %s: analyzers never read each other (share through the event, internal/pipeline or a lower package)", from, to)
			}
		}
	}
	if seen < 30 {
		t.Fatalf("only %d packages listed", seen)
	}
}
