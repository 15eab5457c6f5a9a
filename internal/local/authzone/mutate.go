package authzone

import (
	"fmt"
	"slices"
	"time"

	"github.com/miekg/dns"
)

// Options returns the options of the last Sign.
func (z *Zone) Options() SignOptions {
	z.mu.RLock()
	defer z.mu.RUnlock()
	o := z.opts
	o.Keys = slices.Clone(o.Keys)
	o.Publish = slices.Clone(o.Publish)
	return o
}

// Keys returns the keys the zone was last signed with.
func (z *Zone) Keys() []*Key { return z.Options().Keys }

// DS returns the DS records, with the given digest type, of the keys that
// sign the zone's DNSKEY RRset: what the parent publishes. The TTL is the
// zone's DNSKEY TTL.
func (z *Zone) DS(digest uint8) []*dns.DS {
	z.mu.RLock()
	defer z.mu.RUnlock()
	var out []*dns.DS
	for _, k := range z.opts.signers(dns.TypeDNSKEY) {
		ds := k.DS(digest)
		if ds == nil {
			continue
		}
		ds.Hdr.Name = z.origin
		if keys := z.nodes[z.origin].sets[dns.TypeDNSKEY]; len(keys) > 0 {
			ds.Hdr.Ttl = keys[0].Header().Ttl
		}
		out = append(out, ds)
	}
	return out
}

// Resign signs the zone again with the options of the last Sign, after its
// content changed. Denials set by Deny are kept.
func (z *Zone) Resign() error {
	z.mu.RLock()
	opts, signed := z.opts, z.signed
	z.mu.RUnlock()
	if !signed {
		return fmt.Errorf("authzone: resign %s: zone was never signed", z.origin)
	}
	return z.Sign(opts)
}

// IncrementSerial adds one to the SOA serial and, in a signed zone, signs
// the SOA again.
func (z *Zone) IncrementSerial() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	apex := z.nodes[z.origin]
	apex.sets[dns.TypeSOA][0].(*dns.SOA).Serial++
	if !z.signed {
		return nil
	}
	return z.signSet(apex, dns.TypeSOA, nil, z.opts.Inception, z.opts.Expiration)
}

// ResignRRset replaces the signatures over the RRset of the given type at
// name with ones made by keys (none: the zone's own signing keys) valid
// from inception to expiration. With times in the past or the future, or a
// key missing from the DNSKEY RRset, it makes a bogus RRset. name may be an
// NSEC3 owner name.
func (z *Zone) ResignRRset(name string, covered uint16, inception, expiration time.Time, keys ...*Key) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	n := z.owner(name)
	if n == nil || len(n.sets[covered]) == 0 {
		return fmt.Errorf("authzone: %s: no %s RRset at %s", z.origin, dns.TypeToString[covered], name)
	}
	if len(keys) == 0 {
		keys = z.opts.signers(covered)
	}
	if len(keys) == 0 {
		return fmt.Errorf("authzone: %s: no key to sign %s %s with", z.origin, name, dns.TypeToString[covered])
	}
	return z.signSet(n, covered, keys, inception, expiration)
}

// RemoveRRSIGs removes the signatures over the RRset of the given type at
// name, only those made by the keys with the given tags when any are
// given. It returns how many it removed.
func (z *Zone) RemoveRRSIGs(name string, covered uint16, keyTags ...uint16) int {
	z.mu.Lock()
	defer z.mu.Unlock()
	n := z.owner(name)
	if n == nil {
		return 0
	}
	before := len(n.sigs[covered])
	n.sigs[covered] = slices.DeleteFunc(n.sigs[covered], func(s *dns.RRSIG) bool {
		return len(keyTags) == 0 || slices.Contains(keyTags, s.KeyTag)
	})
	return before - len(n.sigs[covered])
}

// SetNSECBitmap sets the type bitmap of the NSEC record at name, or in an
// NSEC3 zone of the NSEC3 record matching name, to types and signs the
// record again with the zone's keys, so that a validator sees a valid
// record that lies.
func (z *Zone) SetNSECBitmap(name string, types ...uint16) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.setBitmap(dns.CanonicalName(name), func([]uint16) []uint16 { return slices.Clone(types) })
}

// setBitmap rewrites the bitmap of the denial record for name and signs it.
// Call with mu held for writing.
func (z *Zone) setBitmap(name string, edit func([]uint16) []uint16) error {
	if !z.signed {
		return fmt.Errorf("authzone: %s: zone is not signed", z.origin)
	}
	n, t := z.nodes[name], uint16(dns.TypeNSEC)
	if z.opts.Denial == DenialNSEC3 {
		n, t = z.nsec3[z.hashedOwner(z.hash(name))], dns.TypeNSEC3
	}
	if n == nil || len(n.sets[t]) == 0 {
		return fmt.Errorf("authzone: %s: no %s for %s", z.origin, dns.TypeToString[t], name)
	}
	switch rr := n.sets[t][0].(type) {
	case *dns.NSEC:
		rr.TypeBitMap = sortedUnique(edit(rr.TypeBitMap))
	case *dns.NSEC3:
		rr.TypeBitMap = sortedUnique(edit(rr.TypeBitMap))
	}
	return z.signSet(n, t, nil, z.opts.Inception, z.opts.Expiration)
}

func sortedUnique(types []uint16) []uint16 {
	slices.Sort(types)
	return slices.Compact(types)
}

// Deny makes the zone answer NODATA for qtype at name although the RRset
// exists, with a validly signed NSEC or NSEC3 bitmap that leaves qtype out:
// the lie a stale or broken signer tells. It lasts across Resign.
func (z *Zone) Deny(name string, qtype uint16) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	name = dns.CanonicalName(name)
	if z.denied == nil {
		z.denied = map[string]map[uint16]bool{}
	}
	if z.denied[name] == nil {
		z.denied[name] = map[uint16]bool{}
	}
	z.denied[name][qtype] = true
	if !z.signed {
		return nil
	}
	return z.applyDenied(name)
}

// applyDenied removes the denied types of name from its denial record.
// Call with mu held for writing.
func (z *Zone) applyDenied(name string) error {
	return z.setBitmap(name, func(types []uint16) []uint16 {
		return slices.DeleteFunc(slices.Clone(types), func(t uint16) bool { return z.denied[name][t] })
	})
}

// DropRecords returns an answer hook that removes the records of the given
// types, and the RRSIGs over them, from every section of a response.
func DropRecords(types ...uint16) AnswerHook {
	return func(_, resp *dns.Msg) {
		drop := func(rr dns.RR) bool {
			t := rr.Header().Rrtype
			if s, ok := rr.(*dns.RRSIG); ok {
				t = s.TypeCovered
			}
			return slices.Contains(types, t)
		}
		resp.Answer = slices.DeleteFunc(resp.Answer, drop)
		resp.Ns = slices.DeleteFunc(resp.Ns, drop)
		resp.Extra = slices.DeleteFunc(resp.Extra, drop)
	}
}

// DropDenial returns an answer hook that removes every NSEC and NSEC3
// record (and its RRSIGs): negative and wildcard answers without proof.
func DropDenial() AnswerHook { return DropRecords(denialTypes...) }

// ForName returns a hook that runs h only for questions about name.
func ForName(name string, h AnswerHook) AnswerHook {
	name = dns.CanonicalName(name)
	return func(req, resp *dns.Msg) {
		if len(req.Question) == 1 && dns.CanonicalName(req.Question[0].Name) == name {
			h(req, resp)
		}
	}
}

// UnrelatedDenial returns an answer hook that replaces the NSEC or NSEC3
// records of a response by one validly signed record of the zone's chain
// that neither matches nor covers the question name: a proof that proves
// nothing about it.
func (z *Zone) UnrelatedDenial() AnswerHook {
	return func(req, resp *dns.Msg) {
		if len(req.Question) != 1 || !slices.ContainsFunc(resp.Ns, isDenial) {
			return
		}
		qname := dns.CanonicalName(req.Question[0].Name)
		present := map[string]bool{}
		for _, rr := range resp.Ns {
			if isDenial(rr) {
				present[dns.CanonicalName(rr.Header().Name)] = true
			}
		}
		resp.Ns = slices.DeleteFunc(resp.Ns, isDenial)
		z.mu.RLock()
		defer z.mu.RUnlock()
		do := false
		if opt := req.IsEdns0(); opt != nil {
			do = opt.Do()
		}
		a := &answerer{z: z, resp: resp, do: do, added: map[string]bool{}}
		if z.opts.Denial == DenialNSEC {
			for i, owner := range z.nsecNames {
				next := z.nsecNames[(i+1)%len(z.nsecNames)]
				if present[owner] || owner == qname || nsecCovers(owner, next, qname) {
					continue
				}
				a.add(&resp.Ns, z.nodes[owner], "", dns.TypeNSEC)
				return
			}
			return
		}
		for _, h := range z.nsec3Hashes {
			owner := z.hashedOwner(h)
			rr := z.nsec3[owner].sets[dns.TypeNSEC3][0].(*dns.NSEC3)
			if present[owner] || rr.Match(qname) || rr.Cover(qname) {
				continue
			}
			a.add(&resp.Ns, z.nsec3[owner], "", dns.TypeNSEC3)
			return
		}
	}
}

// nsecCovers reports whether the NSEC from owner to next covers name
// (canonically after owner and before next, or after the last owner).
func nsecCovers(owner, next, name string) bool {
	if canonicalCompare(owner, next) < 0 {
		return canonicalCompare(owner, name) < 0 && canonicalCompare(name, next) < 0
	}
	return canonicalCompare(owner, name) < 0 || canonicalCompare(name, next) < 0
}
