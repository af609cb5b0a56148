package inventory

import (
	"fmt"
	"strings"
	"testing"
)

func TestJaccard(t *testing.T) {
	for _, c := range []struct {
		a, b []string
		want float64
	}{
		{[]string{"a", "b"}, []string{"a", "b"}, 1},
		{[]string{"a", "b"}, []string{"c"}, 0},
		{[]string{"a", "b", "c"}, []string{"b", "c", "d"}, 0.5},
		{nil, nil, 1},
	} {
		if got := jaccard(c.a, c.b); got != c.want {
			t.Errorf("jaccard(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// TestShapesHoldDistinctOperations: 24 RPC-style actions at the root of a
// host, each answering with data of its own, stay 24 operations; 24 users
// at /users/NAME answering with one resource's objects (optional members
// present or not) become /users/{userId}; with the check off, or with
// answers that are no JSON, the cardinality rule alone decides (the actions
// collapse).
func TestShapesHoldDistinctOperations(t *testing.T) {
	actions := []string{"CreateJob", "ListJobs", "DescribeJob", "DeleteJob", "StartExport", "StopExport", "GetPolicy", "PutPolicy",
		"TagResource", "UntagResource", "ListTags", "CreateApp", "UpdateApp", "DeleteApp", "ListApps", "GetQuota",
		"ListRegions", "DescribeAccount", "CreateToken", "RevokeToken", "ListEvents", "GetSettings", "PutSettings", "ResetAll"}
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj",
		"olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "xavier", "yolanda", "zoe", "quentin", "uma"}
	actionBody := func(i int) string {
		// each action's own members (a shared requestId, as RPC APIs add)
		return fmt.Sprintf(`{"requestId":"r1","%sResult":{"x":1},"%sCount":%d}`, strings.ToLower(actions[i]), strings.ToLower(actions[i]), i)
	}
	userBody := func(i int) string {
		b := `{"id":` + fmt.Sprint(i) + `,"login":"u","name":"n","email":"e@example.test","created_at":"2024-01-01"`
		if i%3 == 0 {
			b += `,"bio":"b"`
		}
		if i%4 == 0 {
			b += `,"company":"c","location":"l"`
		}
		return b + "}"
	}
	run := func(t *testing.T, cfg Config, rpcBody func(int) string) ([]string, []string) {
		inv := New(cfg)
		f := newFeeder(t, inv)
		for round := 0; round < 3; round++ {
			for i := range actions {
				f.send(req{method: "POST", url: "https://rpc.example.test/" + actions[i], respBody: rpcBody(i)})
				f.send(req{method: "GET", url: "https://users.example.test/users/" + users[i], respBody: userBody(i)})
				// operations beside the users, as busy as one user each
				if i%8 == 0 {
					f.send(req{method: "GET", url: "https://users.example.test/users/search", respBody: `{"results":[],"total":0,"next":null}`})
					f.send(req{method: "GET", url: "https://users.example.test/users/stats", respBody: `{"active":3,"dormant":1}`})
				}
			}
		}
		return templates(inv, "rpc.example.test"), templates(inv, "users.example.test")
	}
	t.Run("default", func(t *testing.T) {
		rpc, us := run(t, DefaultConfig(), actionBody)
		if len(rpc) != len(actions) {
			t.Errorf("rpc actions: %d operations, want %d: %v", len(rpc), len(actions), rpc)
		}
		if want := "[GET /users/search GET /users/stats GET /users/{userId}]"; fmt.Sprint(us) != want {
			t.Errorf("users: %v, want %s (the two operations answer unlike a user)", us, want)
		}
	})
	t.Run("off", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.ShapeSimilarity = -1
		rpc, us := run(t, cfg, actionBody)
		if len(rpc) != 1 {
			t.Errorf("check off: rpc actions %v, want one collapsed operation", rpc)
		}
		if len(us) != 1 {
			t.Errorf("check off: users %v, want one operation", us)
		}
	})
	t.Run("no JSON", func(t *testing.T) {
		rpc, _ := run(t, DefaultConfig(), func(int) string { return "" })
		if len(rpc) != 1 {
			t.Errorf("empty answers: rpc actions %v, want one collapsed operation (cardinality alone)", rpc)
		}
	})
}

// TestShapeHoldBound: a store of documents whose shapes are its clients'
// own (/configs/NAME answering any JSON) is held static only up to
// shapeHoldMax × MinCardinality names, then collapses; while held, the
// shapes are judged again only when the names have doubled.
func TestShapeHoldBound(t *testing.T) {
	inv := New(DefaultConfig())
	f := newFeeder(t, inv)
	limit := shapeHoldMax * DefaultConfig().MinCardinality
	for i := 0; i < limit+5; i++ {
		f.send(req{method: "GET", url: fmt.Sprintf("https://kv.example.test/configs/cfgname%c%c", 'a'+i/26%26, 'a'+i%26),
			respBody: fmt.Sprintf(`{"k%d":1,"v%d":2}`, i, i)})
		if i == limit-2 {
			if got := len(templates(inv, "kv.example.test")); got != limit-1 {
				t.Fatalf("%d names with their own shapes: %d operations, want them held static", limit-1, got)
			}
			if s := inv.Stats(); s.ShapeHeld < 1 || s.ShapeHeld > 4 {
				t.Errorf("shape judgments that held: %d, want a few (one per doubling), not one per name", s.ShapeHeld)
			}
		}
	}
	if got := templates(inv, "kv.example.test"); len(got) != 1 || got[0] != "GET /configs/{configId}" {
		t.Errorf("past %d names: %v, want one collapsed operation", limit, got)
	}
}
