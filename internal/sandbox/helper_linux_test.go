package sandbox

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMain doubles the test binary as the sandbox init (what the hidden
// buildwall sub-command does) and as a small client that tests run inside
// the sandbox, so no external tool is needed.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "__sandbox-init":
			os.Exit(Init())
		case "__helper":
			os.Exit(helper(os.Args[2:]))
		}
	}
	os.Exit(m.Run())
}

// helper is a client run inside the sandbox:
//
//	tcp ADDR      connect, send "ping\n", print the first line received
//	udp ADDR      send one datagram, print "sent" or the error
//	raw           try to open raw and packet sockets, print the errors
//	status        print the Seccomp and NoNewPrivs lines of /proc/self/status
//	sleep         sleep forever (a process left behind)
func helper(args []string) int {
	switch args[0] {
	case "tcp":
		c, err := net.DialTimeout("tcp", args[1], 5*time.Second)
		if err != nil {
			fmt.Println("dial error:", err)
			return 3
		}
		defer c.Close()
		fmt.Fprintln(c, "ping")
		c.SetDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			fmt.Println("read error:", err)
			return 4
		}
		fmt.Print(line)
		return 0
	case "udp":
		c, err := net.Dial("udp", args[1])
		if err != nil {
			fmt.Println("dial error:", err)
			return 3
		}
		defer c.Close()
		_, err = c.Write([]byte("x"))
		// Keep the socket open for a moment, like a real client waiting
		// for an answer, so that attribution can find its owner.
		time.Sleep(300 * time.Millisecond)
		if err != nil {
			fmt.Println("write error:", err)
			return 4
		}
		fmt.Println("sent")
		return 0
	case "raw":
		var out []string
		for _, s := range []struct {
			name           string
			dom, typ, prot int
		}{
			{"raw", unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_UDP},
			{"packet", unix.AF_PACKET, unix.SOCK_RAW, 0x0300},
		} {
			fd, err := unix.Socket(s.dom, s.typ, s.prot)
			if err == nil {
				unix.Close(fd)
				out = append(out, s.name+":open")
			} else {
				out = append(out, s.name+":"+err.Error())
			}
		}
		fmt.Println(strings.Join(out, " "))
		return 0
	case "status":
		// The seccomp and no_new_privs state the command runs with.
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			fmt.Println(err)
			return 3
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "Seccomp:") || strings.HasPrefix(l, "NoNewPrivs:") {
				fmt.Println(strings.Join(strings.Fields(l), " "))
			}
		}
		return 0
	case "sleep":
		time.Sleep(time.Hour)
		return 0
	}
	return 2
}
