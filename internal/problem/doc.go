// Package problem writes RFC 9457 "problem details" responses
// (application/problem+json), the error body OrgScope sends on every HTTP
// endpoint that is not an OAuth endpoint.
package problem
