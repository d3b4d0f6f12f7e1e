package sandbox

import (
	"bytes"
	"context"
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "__sandbox-init" {
		os.Exit(Init())
	}
	os.Exit(m.Run())
}

func TestSmoke(t *testing.T) {
	var out bytes.Buffer
	sb, err := Create(context.Background(), Config{Args: []string{"sh", "-c", "id; cat /etc/resolv.conf; ip route; ls -l /proc/self/ns/; grep Cap /proc/self/status; exit 7"}, Exe: os.Args[0], Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	code, err := sb.Wait()
	t.Logf("code %d err %v\n%s", code, err, out.String())
}
