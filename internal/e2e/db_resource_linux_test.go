package e2e

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The database resource test runs the real binary on hostile archives the
// test generates, at 1, 2, 4 and 8 MiB: each run must end with the
// documented outcome, without a crash, within a memory cap enforced by a
// watchdog, and with time and memory growing at most linearly.
//
// The binary runs under RLIMIT_DATA (dataCap), which counts the writable
// memory the Go heap commits: a runaway allocation ends in "out of
// memory", which the test reports as a crash. RLIMIT_AS is not used: the
// Go runtime reserves address space at start and, under limits of 1 to
// 2 GiB, fails to start at random. Besides, a watchdog reads the child's
// resident set from /proc and kills it past rssCap; rusage gives the peak.

const (
	mib = 1 << 20
	// rssCap is what any run may take; the old code took 4.8 GB.
	rssCap = 512 * mib
	// dataCap is the binary's RLIMIT_DATA (the runtime alone needs about
	// 128 MiB of it).
	dataCap = 1024 * mib
)

// measured is one run of the binary.
type measured struct {
	code           int
	stdout, stderr string
	cpu            time.Duration // user + system
	maxRSS         int64         // bytes
	killed         bool          // by the watchdog
}

// runDBMeasured runs the binary through measureHelper: a fresh, small
// process whose child's rusage is the binary's alone (ru_maxrss survives
// execve, so a child started straight from this test would report this
// test's own resident set).
func runDBMeasured(t *testing.T, args ...string) measured {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{bin}, args...)...)
	cmd.Env = append(os.Environ(), helperEnv+"=measure", "GOMAXPROCS=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd.ExtraFiles = []*os.File{pw}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	report, _ := io.ReadAll(pr)
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("buildwall %s did not finish in 2 minutes", strings.Join(args, " "))
	}
	m := measured{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		m.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var cpu int64
	if _, err := fmt.Sscan(string(report), &cpu, &m.maxRSS, &m.killed); err != nil {
		t.Fatalf("measure helper report %q: %v", report, err)
	}
	m.cpu = time.Duration(cpu)
	return m
}

// measureHelper is the test binary acting as a launcher (helperEnv=measure):
// it runs os.Args[1:] under RLIMIT_DATA dataCap, kills it when its
// resident set passes rssCap, and
// writes "cpu-ns max-rss-bytes killed" to file descriptor 3. It returns
// the child's exit code.
func measureHelper() int {
	// Inherited by the child; this helper allocates next to nothing.
	if err := syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: dataCap, Max: dataCap}); err != nil {
		fmt.Fprintln(os.Stderr, "set RLIMIT_DATA:", err)
		return 120
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 120
	}
	done := make(chan struct{})
	killed := make(chan bool, 1)
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				killed <- false
				return
			case <-tick.C:
				if rss(cmd.Process.Pid) > rssCap {
					cmd.Process.Kill()
					killed <- true
					return
				}
			}
		}
	}()
	cmd.Wait()
	close(done)
	k := <-killed
	var cpu, maxRSS int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = ru.Utime.Nano() + ru.Stime.Nano()
		maxRSS = ru.Maxrss * 1024 // kilobytes on Linux
	}
	fmt.Fprintf(os.NewFile(3, "report"), "%d %d %t\n", cpu, maxRSS, k)
	if code := cmd.ProcessState.ExitCode(); code >= 0 {
		return code
	}
	return 128 + int(cmd.ProcessState.Sys().(syscall.WaitStatus).Signal())
}

// rss returns the resident set of pid in bytes, 0 when it is gone.
func rss(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func record(id, name string, versions string) string {
	return `{"id":"` + id + `","modified":"2026-01-01T00:00:00Z","summary":"Malicious code in ` + name +
		`","affected":[{"package":{"ecosystem":"npm","name":"` + name + `"},"versions":[` + versions + `]}]}`
}

// hostileArchive is one kind of hostile archive, generated at about size
// bytes, and the outcome the CLI must report.
type hostileArchive struct {
	name string
	gen  func(t *testing.T, size int) []byte
	// want returns the exit code and a stderr (or, on success, stdout)
	// fragment for an archive of size bytes.
	want func(size int) (int, string)
}

var hostileArchives = []hostileArchive{
	{
		// The reproduction: records within the size limits made
		// of tiny versions, deflating about 1000:1.
		name: "ratio_bomb",
		gen: func(t *testing.T, size int) []byte {
			data := []byte(record("MAL-2026-1", "bomb", strings.Repeat(`"1",`, 1_000_000)+`"1"`))
			var comp bytes.Buffer
			fw, _ := flate.NewWriter(&comp, flate.BestCompression)
			fw.Write(data)
			fw.Close()
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			for i := 0; buf.Len() < size; i++ {
				w, err := zw.CreateRaw(&zip.FileHeader{Name: fmt.Sprintf("b%d.json", i), Method: zip.Deflate,
					CRC32: crc32.ChecksumIEEE(data), CompressedSize64: uint64(comp.Len()), UncompressedSize64: uint64(len(data))})
				if err != nil {
					t.Fatal(err)
				}
				w.Write(comp.Bytes())
			}
			zw.Close()
			return buf.Bytes()
		},
		want: func(int) (int, string) { return 3, "(a zip bomb?)" },
	},
	{
		// Many small valid records: all are indexed.
		name: "many_small_entries",
		gen: func(t *testing.T, size int) []byte {
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			for i := 0; buf.Len() < size; i++ {
				w, _ := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("%d.json", i), Method: zip.Store})
				w.Write([]byte(record(fmt.Sprintf("MAL-2031-%d", i), fmt.Sprintf("p%d", i), `"1.0.0"`)))
			}
			zw.Close()
			return buf.Bytes()
		},
		want: func(int) (int, string) { return 0, "records:  " },
	},
	{
		// One record of random versions as big as the archive: indexed
		// up to the 4 MiB record limit, refused past it.
		name: "huge_single_record",
		gen: func(t *testing.T, size int) []byte {
			rng := rand.New(rand.NewPCG(1, uint64(size)))
			var vs strings.Builder
			for vs.Len() < size-200 {
				fmt.Fprintf(&vs, `"%x",`, rng.Uint64())
			}
			vs.WriteString(`"1"`)
			return storedZip(t, map[string]string{"huge.json": record("MAL-2026-2", "huge", vs.String())})
		},
		want: func(size int) (int, string) {
			if size > 4*mib {
				return 3, "too large: declares"
			}
			return 0, "records:  1"
		},
	},
	{
		// Deeply nested JSON in stored entries (no compression to limit),
		// beside one valid record: the nested ones are skipped.
		name: "deeply_nested",
		gen: func(t *testing.T, size int) []byte {
			files := map[string]string{"ok.json": record("MAL-2026-3", "ok", `"1"`)}
			for i := 0; i*mib < size; i++ {
				depth := mib/2 - 200
				files[fmt.Sprintf("deep%d.json", i)] = `{"id":"MAL-2026-9` + strconv.Itoa(i) + `","modified":"2026-01-01T00:00:00Z","database_specific":{"iocs":{"domains":` +
					strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}},"affected":[{"package":{"ecosystem":"npm","name":"y"},"versions":["1"]}]}`
			}
			return storedZip(t, files)
		},
		want: func(int) (int, string) { return 0, "skipped:" },
	},
}

func storedZip(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(data))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDBUpdateHostileArchivesBounded is issue 17's class 6 resource test.
func TestDBUpdateHostileArchivesBounded(t *testing.T) {
	// A working index the failed updates must leave alone.
	seed := t.TempDir()
	if err := os.WriteFile(filepath.Join(seed, "MAL-2026-8000.json"), []byte(record("MAL-2026-8000", "old-evil", `"1.0.0"`)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, h := range hostileArchives {
		t.Run(h.name, func(t *testing.T) {
			var first measured
			var firstSize int
			for _, n := range []int{1, 2, 4, 8} {
				size := n * mib
				zp := filepath.Join(t.TempDir(), "all.zip")
				archive := h.gen(t, size)
				if err := os.WriteFile(zp, archive, 0o644); err != nil {
					t.Fatal(err)
				}
				db := t.TempDir()
				if m := runDBMeasured(t, "db", "update", "--from", seed, "--db", db); m.code != 0 {
					t.Fatalf("seeding the index: exit %d\n%s", m.code, m.stderr)
				}
				old, err := os.ReadFile(filepath.Join(db, "index.bwdb"))
				if err != nil {
					t.Fatal(err)
				}

				m := runDBMeasured(t, "db", "update", "--from", zp, "--db", db)
				t.Logf("%d MiB (%d bytes): exit %d, cpu %v, max RSS %.1f MiB", n, len(archive), m.code, m.cpu.Round(time.Millisecond), float64(m.maxRSS)/mib)
				if m.killed {
					t.Fatalf("%d MiB: resident set passed %d MiB; killed", n, rssCap/mib)
				}
				if strings.Contains(m.stderr, "panic:") || strings.Contains(m.stderr, "fatal error:") || strings.Contains(m.stderr, "goroutine ") {
					t.Fatalf("%d MiB: crashed:\n%.2000s", n, m.stderr)
				}
				wantCode, wantText := h.want(size)
				out := m.stdout
				if wantCode != 0 {
					out = m.stderr
				}
				if m.code != wantCode || !strings.Contains(out, wantText) {
					t.Errorf("%d MiB: exit %d, want %d saying %q\nstdout:\n%.1000s\nstderr:\n%.1000s", n, m.code, wantCode, wantText, m.stdout, m.stderr)
				}
				if strings.ContainsRune(m.stderr+m.stdout, 0x1b) {
					t.Errorf("%d MiB: escape sequence in the output", n)
				}
				if m.maxRSS > rssCap {
					t.Errorf("%d MiB: max RSS %d MiB over the %d MiB cap", n, m.maxRSS/mib, rssCap/mib)
				}
				if wantCode != 0 {
					now, err := os.ReadFile(filepath.Join(db, "index.bwdb"))
					if err != nil || !bytes.Equal(now, old) {
						t.Errorf("%d MiB: the failed update changed the old index", n)
					}
					if s := runDBMeasured(t, "db", "status", "--db", db); s.code != 0 || !strings.Contains(s.stdout, "records:") {
						t.Errorf("%d MiB: old index unusable after the failed update: exit %d\n%s", n, s.code, s.stderr)
					}
				}
				if n == 1 {
					first, firstSize = m, len(archive)
					continue
				}
				// Linear: eight times the input may cost at most about
				// eight times the work, with room for a shared machine
				// (CPU time, not wall time) and a fixed floor.
				scale := float64(len(archive)) / float64(firstSize)
				if limit := time.Duration(2*scale*float64(first.cpu)) + time.Second; m.cpu > limit {
					t.Errorf("%d MiB: cpu %v, over %v (2 x %.1f x the 1 MiB run's %v + 1s)", n, m.cpu, limit, scale, first.cpu)
				}
				if limit := int64(2*scale*float64(first.maxRSS)) + 32*mib; m.maxRSS > limit {
					t.Errorf("%d MiB: max RSS %d MiB, over %d MiB", n, m.maxRSS/mib, limit/mib)
				}
			}
		})
	}
}
