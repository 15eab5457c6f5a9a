package vpcresolver

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestAgesRemaining(t *testing.T) {
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a1 := []dns.RR{rr("www.test. 300 IN A 192.0.2.1")}
	a1Again := []dns.RR{rr("WWW.test. 300 IN A 192.0.2.1")} // same RRset, owner in another case
	a2 := []dns.RR{rr("www.test. 300 IN A 192.0.2.2")}      // other data: another RRset
	pair := []dns.RR{rr("x.test. 100 IN A 192.0.2.1"), rr("x.test. 60 IN A 192.0.2.2")}
	t0 := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	a := newAges()
	steps := []struct {
		set  []dns.RR
		at   time.Duration // since t0
		want uint32
	}{
		{a1, 0, 300},
		{a1, 999 * time.Millisecond, 300},
		{a1, 100 * time.Second, 200},
		{a1Again, 150 * time.Second, 150},
		{a2, 150 * time.Second, 300},
		{a1, 299 * time.Second, 1},
		{a1, 300 * time.Second, 300}, // expired: a fresh copy
		{a1, 310 * time.Second, 290},
		{pair, 0, 60}, // the smallest TTL of the set
		{pair, 59 * time.Second, 1},
		{pair, 61 * time.Second, 60},
	}
	for i, st := range steps {
		if got := a.remaining(st.set, t0.Add(st.at)); got != st.want {
			t.Errorf("step %d: remaining(%s, +%v) = %d, want %d", i, st.set[0].Header().Name, st.at, got, st.want)
		}
	}
	a.flush()
	if got := a.remaining(a1, t0.Add(320*time.Second)); got != 300 {
		t.Errorf("after flush: remaining = %d, want 300", got)
	}
}
