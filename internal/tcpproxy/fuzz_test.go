package tcpproxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/buildwall/buildwall/internal/testutil"
)

// FuzzParseClientHello checks that the ClientHello parser never panics and
// that its answer does not depend on how the handshake is split into
// records.
func FuzzParseClientHello(f *testing.F) {
	f.Add(buildHello(sniExt(0, "x.example"), ext{extEncryptedClientHelo, []byte{1}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		ch, err := parseClientHello(b)
		if err != nil {
			return
		}
		if !utf8.ValidString(ch.SNI) || !validHostBytes([]byte(ch.SNI)) && ch.SNI != "" {
			t.Fatalf("invalid SNI %q accepted", ch.SNI)
		}
		if len(b) < recordHeaderLen+4 {
			t.Fatalf("success on %d bytes", len(b))
		}
		// Re-packed into tiny records, the same handshake must give the
		// same answer.
		one := oneHandshake(b)
		if one == nil {
			return
		}
		ch2, err := parseClientHello(refragment(t, one, 3))
		if err != nil || ch2 != ch {
			t.Fatalf("refragmented: %+v, %v; whole: %+v", ch2, err, ch)
		}
	})
}

// oneHandshake returns the records of b that the parser consumed (up to
// and including the one completing the ClientHello), or nil.
func oneHandshake(b []byte) []byte {
	var msgLen, have int
	i := 0
	for i+recordHeaderLen <= len(b) {
		n := int(b[i+3])<<8 | int(b[i+4])
		if i+recordHeaderLen+n > len(b) {
			return nil
		}
		rec := b[i+recordHeaderLen : i+recordHeaderLen+n]
		if have < 4 && have+len(rec) >= 4 {
			var hdr [4]byte
			copy(hdr[:], collect(b[:i+recordHeaderLen+n])[:4])
			msgLen = int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
		}
		have += len(rec)
		i += recordHeaderLen + n
		if have >= 4 && have >= 4+msgLen {
			return b[:i]
		}
	}
	return nil
}

// collect concatenates the payloads of complete records.
func collect(b []byte) []byte {
	var out []byte
	for len(b) >= recordHeaderLen {
		n := int(b[3])<<8 | int(b[4])
		if len(b) < recordHeaderLen+n {
			break
		}
		out = append(out, b[recordHeaderLen:recordHeaderLen+n]...)
		b = b[recordHeaderLen+n:]
	}
	return out
}

// FuzzParseHTTPRequest checks that the HTTP verifier never panics, never
// forwards a request head naming another host, and that its answer does
// not depend on how the stream is split into reads.
func FuzzParseHTTPRequest(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, err := parseRequestHead(b); err == nil {
			if h.Host != "" && !validHostBytes([]byte(h.Host)) || h.Len <= 0 || h.Len > len(b) {
				t.Fatalf("bad head %+v accepted", h)
			}
			h2, err := parseRequestHead(append(append([]byte(nil), b...), "\x00garbage"...))
			if err != nil || h2 != h {
				t.Fatalf("with trailing bytes: %+v, %v; without: %+v", h2, err, h)
			}
		}
		whole := &httpStream{name: "a.test"}
		out1, err1 := whole.feed(nil, b)
		split := &httpStream{name: "a.test"}
		var out2 []byte
		var err2 error
		for i := 0; i < len(b) && err2 == nil; i += 7 {
			out2, err2 = split.feed(out2, b[i:min(i+7, len(b))])
		}
		if string(out1) != string(out2) || (err1 == nil) != (err2 == nil) {
			t.Fatalf("whole: %q, %v; in 7-byte pieces: %q, %v", out1, err1, out2, err2)
		}
		// Whatever was forwarded, re-verified from the start, must pass
		// whole: no head naming another host slipped through.
		check := &httpStream{name: "a.test"}
		if _, err := check.feed(nil, out1); err != nil {
			t.Fatalf("forwarded bytes %q fail verification: %v", out1, err)
		}
	})
}

// TestFuzzSeeds keeps the seed corpora honest: with -update it captures
// fresh ClientHellos from crypto/tls clients into testdata/fuzz; without,
// it checks that every ClientHello seed still parses to the SNI its file
// name promises.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzParseClientHello")
	seeds := map[string]*tls.Config{
		"tls13_registry.example": {ServerName: "registry.example"},
		"tls12_a.test":           {ServerName: "a.test", MaxVersion: tls.VersionTLS12},
		"h2_b.test":              {ServerName: "b.test", NextProtos: []string{"h2"}},
		"nosni_":                 {InsecureSkipVerify: true},
	}
	if *testutil.Update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, cfg := range seeds {
			rec := captureClientHello(t, cfg)
			for _, v := range []struct {
				suffix string
				b      []byte
			}{{"", rec}, {"_split7", refragment(t, rec, 7)}} {
				data := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(v.b)))
				if err := os.WriteFile(filepath.Join(dir, name+v.suffix), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for name := range seeds {
		for _, suffix := range []string{"", "_split7"} {
			b := readSeed(t, filepath.Join(dir, name+suffix))
			ch, err := parseClientHello(b)
			if err != nil {
				t.Errorf("seed %s: %v", name+suffix, err)
				continue
			}
			want := afterUnderscore(name)
			if ch.SNI != want {
				t.Errorf("seed %s: SNI %q, want %q", name+suffix, ch.SNI, want)
			}
		}
	}
	for _, f := range []string{"FuzzParseHTTPRequest"} {
		files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", f, "*"))
		if len(files) == 0 {
			t.Errorf("no seeds in testdata/fuzz/%s", f)
		}
	}
}

func afterUnderscore(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '_' {
			return s[i+1:]
		}
	}
	return s
}

// readSeed decodes a one-[]byte "go test fuzz v1" corpus file.
func readSeed(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read seed (run with -update to create): %v", err)
	}
	var q string
	if _, err := fmt.Sscanf(string(data), "go test fuzz v1\n[]byte(%q)", &q); err != nil {
		t.Fatalf("decode seed %s: %v", path, err)
	}
	if q == "" {
		t.Fatal(errors.New("empty seed"))
	}
	return []byte(q)
}
