// Package dnsquery sends single DNS queries to one server address the way a
// careful resolver does: EDNS0 with a 1232-byte buffer and the DO bit, TCP
// when the UDP answer is truncated, bounded timeouts and retries.
package dnsquery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// Policy numbers, each with the reason it has this value.
const (
	// EDNSBufferSize is the DNS Flag Day 2020 value: it avoids IP fragmentation.
	EDNSBufferSize = 1232
	// DefaultTimeout bounds one attempt; authoritative servers answer in tens of ms.
	DefaultTimeout = 2 * time.Second
	// DefaultAttempts is how many UDP tries a query gets before it is "unknown".
	DefaultAttempts = 3
)

// Client queries single servers. The zero value is usable.
type Client struct {
	Timeout  time.Duration // per attempt; DefaultTimeout when zero
	Attempts int           // UDP attempts; DefaultAttempts when zero
	// NoDO clears the DO bit (for tests of servers that must not send RRSIGs).
	NoDO bool
}

// ErrNoAnswer is returned when every attempt timed out or failed at the
// transport level: the server's state is unknown, never "absent".
var ErrNoAnswer = errors.New("no answer")

// NewQuery builds the query message this package sends: RD clear, EDNS0 1232, DO.
func NewQuery(name string, qtype uint16, do bool) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = false
	m.SetEdns0(EDNSBufferSize, do)
	return m
}

// Exchange sends name/qtype to addr and returns the answer. Truncated UDP
// answers are retried over TCP. Transport failures after all attempts return
// an error wrapping ErrNoAnswer.
func (c *Client) Exchange(ctx context.Context, addr netip.AddrPort, name string, qtype uint16) (*dns.Msg, error) {
	return c.ExchangeMsg(ctx, addr, NewQuery(name, qtype, !c.NoDO))
}

// ExchangeMsg sends a prepared message; see Exchange.
func (c *Client) ExchangeMsg(ctx context.Context, addr netip.AddrPort, q *dns.Msg) (*dns.Msg, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	attempts := c.Attempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	target := addr.String()
	var lastErr error
	for i := 0; i < attempts; i++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("dnsquery: %s %s @%s: %w", q.Question[0].Name, dns.TypeToString[q.Question[0].Qtype], target, err)
		}
		q.Id = dns.Id()
		resp, err := exchange(ctx, "udp", target, q, timeout)
		if err == nil && resp.Truncated {
			resp, err = exchange(ctx, "tcp", target, q, timeout)
		}
		if err == nil {
			return resp, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("dnsquery: %s %s @%s: %w: %v", q.Question[0].Name, dns.TypeToString[q.Question[0].Qtype], target, ErrNoAnswer, lastErr)
}

func exchange(ctx context.Context, network, addr string, q *dns.Msg, timeout time.Duration) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cl := &dns.Client{Net: network, UDPSize: EDNSBufferSize, Timeout: timeout, Dialer: &net.Dialer{Timeout: timeout}}
	resp, _, err := cl.ExchangeContext(ctx, q, addr)
	if err != nil {
		return nil, err
	}
	if resp.Id != q.Id || len(resp.Question) != 1 || !sameQuestion(resp.Question[0], q.Question[0]) {
		return nil, fmt.Errorf("answer does not match the question")
	}
	return resp, nil
}

func sameQuestion(a, b dns.Question) bool {
	return a.Qtype == b.Qtype && a.Qclass == b.Qclass && dns.CanonicalName(a.Name) == dns.CanonicalName(b.Name)
}
