// Package dnssec holds the DNSSEC core: trust anchors, DS/DNSKEY/key-tag
// helpers, RRset signature verification and a validating iterative resolver.
package dnssec
