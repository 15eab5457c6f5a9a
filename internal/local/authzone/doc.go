// Package authzone holds one DNS zone, signs it offline (RFC 4035 section 2,
// RFC 5155 section 7.1) and answers queries for it the way an authoritative
// server does (RFC 1034 section 4.3.2, RFC 4035 section 3.1, RFC 5155
// section 7.2). It opens no sockets: package authserver serves zones on
// loopback.
//
// Every signing time is passed in by the caller; nothing here reads the
// clock. A signed zone can be broken in precise ways for tests: see
// ResignRRset, RemoveRRSIGs, SetNSECBitmap, Deny and SetAnswerHook.
package authzone
