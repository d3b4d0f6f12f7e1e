package session

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/buildwall/buildwall/internal/sandbox"
)

// TestMain doubles the test binary as the sandbox init (what the hidden
// `buildwall __sandbox-init` does) and as the client the tests run inside the
// sandbox, so the suite needs no external tool.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "__sandbox-init":
			os.Exit(sandbox.Init())
		case "__helper":
			os.Exit(helper(os.Args[2:]))
		}
	}
	os.Exit(m.Run())
}

// helper is the client inside the sandbox. Exit codes: 0 success, 3
// connection or lookup refused, 4 other failure, 2 usage.
//
//	get URL [SNI [HOST]]   HTTP(S) GET (TLS with the given SNI, HTTP with the given Host header)
//	tcp ADDR               connect, send "ping\n", print the first line
//	udp ADDR               send one datagram
//	dig SERVER NAME [tcp]  ask SERVER:53 for NAME's A record, print rcode and answers
//	resolve NAME           resolve through /etc/resolv.conf
//	send ADDR MS P...      raw TCP: wait MS, then write each quoted payload and read a reply
//	drip ADDR P            raw TCP: write quoted payload P one byte per segment
//	tfo ADDR P             raw TCP: send quoted payload P in the SYN (MSG_FASTOPEN)
//	sleep                  sleep for an hour
func helper(args []string) int {
	if len(args) == 0 {
		return 2
	}
	switch args[0] {
	case "get":
		return helperGet(args[1:])
	case "send":
		return helperSend(args[1:])
	case "drip":
		return helperDrip(args[1:])
	case "tfo":
		return helperTFO(args[1:])
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
			return 3
		}
		fmt.Print(line)
		return 0
	case "udp":
		c, err := net.Dial("udp", args[1])
		if err != nil {
			fmt.Println("dial error:", err)
			return 3
		}
		_, err = c.Write([]byte("exfil"))
		time.Sleep(300 * time.Millisecond) // keep the socket for attribution
		c.Close()
		if err != nil {
			fmt.Println("write error:", err)
			return 3
		}
		fmt.Println("sent")
		return 0
	case "dig":
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(args[2]), dns.TypeA)
		cl := &dns.Client{Timeout: 5 * time.Second}
		if len(args) > 3 {
			cl.Net = args[3]
		}
		r, _, err := cl.Exchange(m, net.JoinHostPort(args[1], "53"))
		if err != nil {
			fmt.Println("dns error:", err)
			return 4
		}
		fmt.Print(dns.RcodeToString[r.Rcode])
		for _, a := range r.Answer {
			if a, ok := a.(*dns.A); ok {
				fmt.Print(" ", a.A)
			}
		}
		fmt.Println()
		if r.Rcode != dns.RcodeSuccess {
			return 3
		}
		return 0
	case "resolve":
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		addrs, err := net.DefaultResolver.LookupHost(ctx, args[1])
		if err != nil {
			fmt.Println("lookup error:", err)
			return 3
		}
		fmt.Println(strings.Join(addrs, " "))
		return 0
	case "sleep":
		fmt.Println("sleeping")
		time.Sleep(time.Hour)
		return 0
	}
	return 2
}

func helperGet(args []string) int {
	url := args[0]
	var sni, host string
	if len(args) > 1 {
		sni = args[1]
	}
	if len(args) > 2 {
		host = args[2]
	}
	tr := &http.Transport{
		// The fake servers' certificates are self-signed: the test is about
		// which name the client asks for, not about trust.
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, ServerName: sni},
		DisableKeepAlives: true,
	}
	cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 2
	}
	if host != "" {
		req.Host = host
	}
	resp, err := cl.Do(req)
	if err != nil {
		fmt.Println("get error:", err)
		return 3
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%d %s\n", resp.StatusCode, body)
	if resp.StatusCode != 200 {
		return 4
	}
	return 0
}
