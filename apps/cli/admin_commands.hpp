#pragma once

// The eventcore CLI's subcommands, each on an open PostgreSQL store. Output
// goes to `out` (JSON lines), progress and hints to stderr; a failure throws
// CommandFailure with a one-line message that says what and where.

#include <chrono>
#include <iosfwd>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "eventcore/store/postgres_store.hpp"

namespace eventcore::cli {

struct CommandFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Context {
  std::shared_ptr<PostgresStore> store;
  std::ostream& out;
};

void migrate(Context& ctx);
void list_streams(Context& ctx, const std::string& prefix, const std::string& after, std::size_t limit);
// limit 0: the whole stream (or log).
void read_stream(Context& ctx, const std::string& stream, std::uint64_t from, std::size_t limit);
void read_all(Context& ctx, GlobalPosition after, std::size_t limit, const EventFilter& filter);

struct TailOptions {
  std::optional<GlobalPosition> after;  // none: from the head (only new events)
  EventFilter filter;
  std::uint64_t count = 0;              // stop after this many events (0: never)
  std::chrono::milliseconds timeout{0};  // stop after this long (0: never)
};
// Follows the log until SIGINT/SIGTERM, `count` or `timeout`.
void tail(Context& ctx, const TailOptions& options);

// Appends the events of `in` (one JSON object per line) to `stream` in one
// atomic append. `expected`: "any", "no-stream", "exists" or a version.
void append(Context& ctx, const std::string& stream, const std::string& expected, std::istream& in);

void projections(Context& ctx);
// Rebuilds one of the built-in projections (event_counts, event_copy) from
// `from`, with a progress line, and waits until it has switched over.
void rebuild(Context& ctx, const std::string& name, GlobalPosition from, std::chrono::milliseconds timeout);
void stats(Context& ctx);

// Stops tail (and a rebuild's wait): set by the SIGINT/SIGTERM handler.
void request_stop() noexcept;

}  // namespace eventcore::cli
