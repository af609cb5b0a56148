package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/bus/natstest"
)

// TestClusterSecretAndStoreKey: the processes of a cluster take their
// secret from the bus; the store remembers which key made its pseudonyms,
// so a cluster on a bus provisioned anew (another secret) refuses the
// store, and starts again with the copy of the secret secret_file kept
// (restore); the refused start leaves the new bus without a secret. A copy
// that is not the bus's secret is refused too.
func TestClusterSecretAndStoreKey(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NATS servers and serve processes")
	}
	dir := t.TempDir()
	storeSpec := "sqlite://" + filepath.Join(dir, "store", "palisade.db")
	secret := filepath.Join(dir, "cluster.key")
	args := func(urls, data string, extra ...string) []string {
		return append([]string{"serve", "--bus", urls, "--store", storeSpec, "--roles", "api", "--listen", "127.0.0.1:0",
			"--data", filepath.Join(dir, data), "--cluster", "replicas=1"}, extra...)
	}

	first := natstest.Start(t, 1)
	c := startProc(t, dir, "first", binPath, args(first.URLs(), "d1", "--cluster", "secret_file="+secret)...)
	waitURL(t, c)
	c.kill()
	key, err := os.ReadFile(secret)
	if err != nil || len(key) != 32 {
		t.Fatalf("secret_file not written with the bus's secret: %d bytes, %v", len(key), err)
	}
	if fi, _ := os.Stat(secret); fi.Mode().Perm() != 0o600 {
		t.Errorf("secret_file mode %v, want 0600", fi.Mode().Perm())
	}

	// A new bus holds a new secret: the store's pseudonyms were made with
	// the old one.
	second := natstest.Start(t, 1)
	_, stderr, code := run(t, nil, args(second.URLs(), "d2")...)
	if code != 2 || !strings.Contains(stderr, "another installation key") || !strings.Contains(stderr, "secret_file") {
		t.Fatalf("a bus with another secret: exit %d, stderr %s", code, stderr)
	}

	// A copy that is not this bus's secret.
	other := filepath.Join(dir, "other.key")
	os.WriteFile(other, bytes.Repeat([]byte("o"), 32), 0o600)
	_, stderr, code = run(t, nil, args(first.URLs(), "d1", "--cluster", "secret_file="+other)...)
	if code != 2 || !strings.Contains(stderr, "differs from the secret the bus holds") {
		t.Fatalf("secret_file of another cluster: exit %d, stderr %s", code, stderr)
	}
	short := filepath.Join(dir, "short.key")
	os.WriteFile(short, []byte("x"), 0o600)
	if _, stderr, code = run(t, nil, args(first.URLs(), "d1", "--cluster", "secret_file="+short)...); code != 2 || !strings.Contains(stderr, short) {
		t.Fatalf("short secret_file: exit %d, stderr %s", code, stderr)
	}

	// Restore: the new bus (left empty by the refused start) given the
	// copy takes it, and the store agrees.
	c = startProc(t, dir, "restored", binPath, args(second.URLs(), "d3", "--cluster", "secret_file="+secret)...)
	waitURL(t, c)
	c.kill()
}
