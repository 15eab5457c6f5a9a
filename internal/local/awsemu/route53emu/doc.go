// Package route53emu emulates the Amazon Route 53 API (REST-XML, version
// 2013-04-01) for the local stack, wire-compatible with the unchanged
// aws-sdk-go-v2 route53 client pointed at it with BaseEndpoint.
//
// It serves the hosted zone, record and DNSSEC operations the workflows
// call (CreateHostedZone, GetHostedZone, ListHostedZones,
// ListHostedZonesByName, DeleteHostedZone, ChangeResourceRecordSets,
// ListResourceRecordSets, GetChange, CreateKeySigningKey,
// ActivateKeySigningKey, DeactivateKeySigningKey, DeleteKeySigningKey,
// EnableHostedZoneDNSSEC, DisableHostedZoneDNSSEC, GetDNSSEC) and refuses the
// way Route 53 refuses: the same error codes, HTTP statuses and XML error
// shapes, so that the SDK decodes them into the same typed errors.
//
// Time comes from a clock.Clock: a change is PENDING for the propagation
// delay and INSYNC afterwards, and the Go API that the local authoritative
// servers read (Snapshot, Records, ActiveKSKs...) shows a zone as of its
// latest INSYNC change, as Route 53's name servers would serve it. Requests
// are throttled at 5 per second per account (Throttling, HTTP 400), as
// Route 53 does.
//
// Key-signing keys are backed by the KMS emulator through the KMS
// interface; the guards that depend on the parent zone
// (KeySigningKeyInParentDSRecord, HostedZonePartiallyDelegated) ask the
// Parent interface, which the local stack implements with real DNS queries
// of every parent server.
package route53emu
