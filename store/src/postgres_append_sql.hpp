#pragma once

// The SQL of PostgresStore's appends (the statements prepared on every
// pooled connection), and how their version checks work.
//
// Versions are checked on the events' own primary key (stream_id,
// stream_version), under transaction-scoped advisory locks (migration 8;
// docs/VERSION_CHECKS.md). For each stream it names, in stream-id order, an
// append takes pg_advisory_xact_lock(eventcore_stream_key(id)) (the shared
// form for a read-only participant, which checks a version and writes
// nothing), reads the stream's version as its highest stream_version (one
// backward probe of the key) and checks it. Events are written at the
// versions that follow. Nothing else is written per append: a `streams` row
// only when a stream is created.
//
// Writers of one stream exclude each other and read-only participants by
// the lock; the key refuses a second event at one version whatever a writer
// locked. A statement reads with the snapshot it started with, so a version
// read in the statement that waited for the lock can miss the commit it
// waited for: then the key refuses the event (events_pkey), and the append
// runs again in a transaction that takes the locks first
// (lock_streams_statement), so that the statement's snapshot follows them.
// Appends with a read-only participant take that form from the start: their
// check writes nothing the key could refuse.
//
// The "known" forms skip reading the version: they take the expected one
// (check kinds 0 and 1 only, every stream written). The store uses them when
// it has seen each stream reach its expected version
// (postgres_known_versions.hpp), so a stream is at that version or beyond,
// and beyond means the key refuses the events. A known form refused by the
// key is retried in the locked transaction with the form that reads the
// version, which says which version the stream is at. The read cost 9-12%
// of the server's throughput of single-event appends, and the multi-stream
// form read once per event row (bench/append_variants.sh,
// docs/PERFORMANCE.md "Known versions").
//
// The one-stream known forms take no lock either. Their only read is the
// version they write after, which the key checks at commit, so a read-only
// participant that checked the stream earlier is simply ordered first (no
// write skew); and they insert into one stream in ascending versions, so
// they wait for no key whose holder waits for them (no deadlock). Forms for
// several streams keep the locks: their rows go in the request's order, and
// two lock-free ones could wait on each other's keys
// (docs/VERSION_CHECKS.md, "One stream at a known version takes no lock").

#include <string>

namespace eventcore::pg {

// The name a statement is prepared under, by its form.
//   One stream, every event written: $1 stream, $2 $3 the range its version
//   must be in, then one event ($4 id, $5 type, $6 payload, $7 correlation
//   id, $8 causation id, $9 user id, $10 metadata) or, `several`, arrays of
//   those columns; $11 notify channel (notify forms only).
// A row per event out: position, stream version, transaction id. A failed
// check raises SQLSTATE EC409, DETAIL '0 <actual version>'.
// `creates`: the form for a check that lets the append create the stream
// (no stream, any): it writes the stream's `streams` row.
const char* append_stream_statement(bool several, bool creates, bool known);
std::string append_stream_sql(bool several, bool creates, bool notify, bool known);

// Any streams, sorted by id: $1 ids, $2 check kinds, $3 expected versions,
// $4 event counts, then per event in the request's order (positions are
// drawn in it): $5 id, $6 its stream's index in $1 (1-based), $7 its offset
// in that stream (1..k), $8 type, $9 payload, $10 correlation id, $11
// causation id, $12 user id, $13 metadata; $14 notify channel or NULL;
// `recorded`: $15 idempotency key and $16 command record, inserted once the
// locks are held (one order for every keyed append: no deadlock).
// Check kinds: 0 exact N > 0, 1 no stream (or exact 0), 2 stream exists, 3 any.
// A failed check raises SQLSTATE EC409, DETAIL '<index in $1, 0-based>
// <actual version>'.
// Out, when every stream gets events: a row per event, as above. When some
// stream is `read_only` (its version checked, nothing written): one row,
// the transaction id, the new versions (in the order of $1) and the
// positions (in the request's order).
// `known` is ignored when `read_only`.
const char* append_streams_statement(bool read_only, bool creates, bool recorded, bool known);
std::string append_streams_sql(bool read_only, bool creates, bool recorded, bool known);

// The "values" form of a known append: every stream written at a version
// the store knows it has reached (check kind 0, so no stream is created), no
// command record, at most values_max_events events. A row of scalar
// parameters per event, where the forms above walk arrays: $1 .. $S the
// stream ids in lock order, then per event in the request's order its id,
// stream id, version, type, payload, correlation id, causation id, user id
// and metadata (9 parameters), then the notify channel or NULL. A row per
// event out, as above. Prepared for every shape, `streams` 2 .. `events`,
// `events` 2 .. values_max_events. `streams` 0: the events of one stream,
// which takes no lock (see "The one-stream known forms" above), so there
// are no ids before the rows; prepared for `events` 2 ..
// values_one_max_events (a single event has its own form above).
inline constexpr int values_max_events = 4;
inline constexpr int values_one_max_events = 16;
std::string append_values_statement(int streams, int events);
std::string append_values_sql(int streams, int events);

// A stream's version, as a scalar subquery on the stream id expression `id`:
// its highest event's (0 for none), one backward probe of the events' key.
// Every read of a version goes through it (appends, stream_version,
// list_streams).
std::string version_of(const std::string& id);

// The locks of an append, alone: $1 stream ids (in the order to lock them),
// $2 event counts (0: read-only, the shared lock).
inline constexpr const char* lock_streams_statement = "eventcore_lock_streams";
std::string lock_streams_sql();

}  // namespace eventcore::pg
