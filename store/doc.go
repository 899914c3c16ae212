// Package store holds OrgScope's domain types (organizations, users, feature
// flags, machine and registered clients, the issuer's signing keys and
// grants) and the [Store] interface that every backend implements.
//
// Every method that reads or writes tenant data takes the organization code
// explicitly, and backends key every such query by it: a user, flag override
// or audit event of another organization is reported as [ErrNotFound], never
// returned. The package imports nothing else of OrgScope's; backends live in
// store/sqlite and store/postgres, and store/storetest is the one conformance
// suite both of them run.
package store
