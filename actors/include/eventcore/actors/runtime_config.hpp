#pragma once

#include <chrono>
#include <cstddef>

namespace eventcore {

// Where the runtime runs blocking store calls.
enum class IoMode {
  // detached for a store whose calls may block (EventStore::blocking()),
  // cooperative for one that never does (MemoryStore). The default.
  automatic,
  // Detached actors, each on a thread of its own: a slow store never stalls
  // the cooperative scheduler's workers. Production with PostgreSQL.
  detached,
  // Ordinary actors on the scheduler: no thread hand-off per store call.
  // Only for a store that never blocks (in memory); also what the
  // deterministic test scheduler needs (a detached actor gets its own thread
  // even there).
  cooperative,
};

struct RuntimeConfig {
  // Stream actors kept alive at most. Past it, each new actor asks the least
  // recently used one (of its shard of the stream directory) to passivate,
  // which it does once idle: an actor in use is never passivated, so the
  // bound can be exceeded while more streams than this are in use at once.
  std::size_t max_live_streams = 10'000;
  // Idle stream actors are passivated after between one and two sweeps of
  // this interval; zero disables the sweep (the bound above still applies).
  std::chrono::milliseconds idle_sweep_interval{60'000};
  // Rounds of dynamic stream discovery (read_more) allowed per attempt.
  std::size_t max_discovery_rounds = 10;
  // A command still running after this fails with timeout and releases its
  // streams; zero means no limit.
  std::chrono::milliseconds command_timeout{30'000};
  IoMode io_mode = IoMode::automatic;
  // Store I/O actors (one store call at a time each; appends queued while a
  // call runs go to the store together as one append_batch). Fewer actors
  // make larger group commits: on 2 cores 2 ran 16 clients' commands 1.6-1.8x
  // faster than 4, and 1 about as fast as 2 (docs/PERFORMANCE.md, "PostgreSQL
  // write path"); 2 keeps appends going while one actor loads a long stream.
  // A database with many cores may want more.
  std::size_t io_actors = 2;
  // With no append or stream load in flight, a blocking store's append (and
  // a stream actor's load of its stream) is made on the scheduler thread of
  // the actor that needs it (one at a time) instead of through an I/O actor:
  // two thread crossings fewer for a lone command, and for a stream's first
  // command. While one runs, the others go to the I/O actors as before
  // (group commit). The price: that thread waits for the database
  // meanwhile, so a command stuck in the store (a row lock held by another
  // process, a long stream without snapshots) answers its timeout only when
  // the store call returns; the connection's own bounds (tcp_user_timeout,
  // keepalives) still end a call to a dead server.
  bool direct_store_calls_when_idle = true;
  // Page size when a stream actor loads its stream.
  std::size_t read_page_size = 1'000;
  // A stream actor saves a snapshot of each state that opts in (a State with
  // snapshot_type and snapshot_schema: command.hpp) once this many events
  // were folded since the last one, after the command that got it there was
  // answered; a stream is then loaded from its newest snapshot plus the
  // events after it. Zero: never save (snapshots already saved are still used).
  std::uint64_t snapshot_every = 100;
  // How long the store keeps a command's idempotency record (what it wrote,
  // under its key): a command repeated with the same key within this time is
  // answered from the record, never run twice. Older records are removed by
  // a sweep every tenth of this (at least every second, at most every ten
  // minutes); zero keeps them forever.
  std::chrono::seconds idempotency_retention{std::chrono::hours(24)};
  // Worker threads of the cooperative scheduler when the executor starts its
  // own actor system (ignored with Builder::with_system, see
  // scheduler_tuning.hpp); 0: one per hardware thread, at least 2.
  std::size_t scheduler_threads = 0;
};

}  // namespace eventcore
