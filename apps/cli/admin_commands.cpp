// The eventcore CLI's subcommands (see admin_commands.hpp).

#include "admin_commands.hpp"

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <nlohmann/json.hpp>

#include "builtin_projections.hpp"
#include "event_lines.hpp"
#include "eventcore/projections/checkpoint_store.hpp"
#include "progress.hpp"

namespace eventcore::cli {

namespace {

using json = nlohmann::ordered_json;
std::atomic<bool> stop_requested{false};

template <class T>
T must(Result<T> result, const std::string& what) {
  if (!result) throw CommandFailure(what + ": " + result.error().message);
  return std::move(result).value();
}

void line(Context& ctx, const json& j) { ctx.out << j.dump() << '\n'; }

StreamId stream_id(const std::string& text) {
  auto id = StreamId::try_new(text);
  if (!id) throw CommandFailure("stream id '" + text + "': " + id.error().message);
  return std::move(id).value();
}

ExpectedVersion parse_expected(const std::string& text) {
  if (text == "any") return ExpectedVersion::any();
  if (text == "no-stream") return ExpectedVersion::no_stream();
  if (text == "exists") return ExpectedVersion::stream_exists();
  std::uint64_t version = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (error != std::errc{} || end != text.data() + text.size())
    throw CommandFailure("--expected-version must be any, no-stream, exists or a version number, not '" + text + "'");
  return ExpectedVersion::exact(version);
}

}  // namespace

void request_stop() noexcept { stop_requested = true; }

void migrate(Context& ctx) {
  // open() has applied every pending migration (under an advisory lock).
  line(ctx, {{"schema", ctx.store->config().schema}, {"version", PostgresStore::schema_version()}, {"status", "migrated"}});
}

void list_streams(Context& ctx, const std::string& prefix, const std::string& after, std::size_t limit) {
  auto page = must(ctx.store->list_streams(prefix, after, limit), "streams");
  for (const auto& info : page) line(ctx, {{"stream", info.stream.str()}, {"version", info.version.value}});
  if (limit > 0 && page.size() == limit)
    std::cerr << "more streams: eventcore streams --after '" << page.back().stream.str() << "'"
              << (prefix.empty() ? "" : " --prefix '" + prefix + "'") << "\n";
}

void read_stream(Context& ctx, const std::string& stream, std::uint64_t from, std::size_t limit) {
  const auto id = stream_id(stream);
  std::uint64_t printed = 0;
  StreamVersion next{from};
  for (;;) {
    const std::size_t want = limit == 0 ? 1000 : std::min<std::size_t>(1000, limit - printed);
    auto page = must(ctx.store->read_stream(id, next, want), "read " + stream + " from version " +
                                                                  std::to_string(next.value));
    for (const auto& e : page) line(ctx, event_json(e));
    printed += page.size();
    next = page.next;
    if (page.end_of_stream || (limit > 0 && printed >= limit) || page.empty()) break;
  }
  ctx.out.flush();
}

void read_all(Context& ctx, GlobalPosition after, std::size_t limit, const EventFilter& filter) {
  std::uint64_t printed = 0;
  for (;;) {
    const std::size_t want = limit == 0 ? 1000 : std::min<std::size_t>(1000, limit - printed);
    auto page = must(ctx.store->read_all(after, want, filter), "read --all after " + to_string(after));
    for (const auto& e : page.events) line(ctx, event_json(e));
    printed += page.events.size();
    after = page.next;
    if (page.events.empty() || (limit > 0 && printed >= limit)) break;
  }
  ctx.out.flush();
}

void tail(Context& ctx, const TailOptions& options) {
  std::mutex mutex;
  std::condition_variable woken;
  bool pending = true;
  auto watch = ctx.store->watch_appends([&] {
    std::lock_guard lock(mutex);
    pending = true;
    woken.notify_one();
  });
  GlobalPosition after =
      options.after ? *options.after : must(ctx.store->totals(), "tail: the head of the log").head;
  std::cerr << "following the log after " << to_string(after) << " (Ctrl-C stops)\n";
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t printed = 0;
  for (;;) {
    {
      std::unique_lock lock(mutex);
      // Wake-ups can be lost while the listener reconnects: read every 100 ms too.
      woken.wait_for(lock, std::chrono::milliseconds(pending ? 0 : 100), [&] { return pending; });
      pending = false;
    }
    for (;;) {
      auto page = ctx.store->read_all(after, 1000, options.filter);
      if (!page) {
        std::cerr << "tail: " << page.error().message << " (retrying)\n";
        break;
      }
      for (const auto& e : page->events) {
        line(ctx, event_json(e));
        if (options.count > 0 && ++printed >= options.count) {
          ctx.out.flush();
          return;
        }
      }
      ctx.out.flush();
      after = page->next;
      if (page->events.size() < 1000) break;
    }
    if (stop_requested) return;
    if (options.timeout.count() > 0 && std::chrono::steady_clock::now() - start >= options.timeout) {
      if (options.count > 0)
        throw CommandFailure("tail: " + std::to_string(printed) + " of " + std::to_string(options.count) +
                             " events within " + std::to_string(options.timeout.count()) + " ms");
      return;
    }
  }
}

void append(Context& ctx, const std::string& stream, const std::string& expected, std::istream& in) {
  StreamWrite write{stream_id(stream), parse_expected(expected), {}};
  std::string text;
  for (int number = 1; std::getline(in, text); ++number) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto event = event_from_json(text);
    if (!event) throw CommandFailure("stdin line " + std::to_string(number) + ": " + event.error().message);
    write.events.push_back(std::move(event).value());
  }
  if (write.events.empty()) throw CommandFailure("no events on stdin (one JSON object per line)");
  const auto count = write.events.size();
  auto result = must(ctx.store->append(AppendRequest{{std::move(write)}}), "append to " + stream);
  json positions = json::array();
  for (const auto& p : result.positions) positions.push_back(to_string(p));
  line(ctx, {{"stream", stream}, {"version", result.streams.at(0).version.value}, {"events", count},
             {"positions", positions}});
}

void projections(Context& ctx) {
  auto checkpoints = projections::postgres_checkpoint_store(*ctx.store);
  for (const auto& p : must(checkpoints->list(), "projections")) {
    // The lag over the whole log: a projection's filter lives in its process, not here.
    auto backlog = must(ctx.store->backlog(p.checkpoint.position), "projections: backlog of " + p.name);
    line(ctx, {{"name", p.name},
               {"position", to_string(p.checkpoint.position)},
               {"generation", p.checkpoint.generation},
               {"state", p.state},
               {"owner", p.owner},
               {"error", p.error},
               {"dead_letters", p.dead_letters},
               {"events_after", backlog.readable + backlog.held_back},
               {"lag_ms", backlog.oldest_ms},
               {"head", to_string(backlog.head)}});
  }
}

void rebuild(Context& ctx, const std::string& name, GlobalPosition from, std::chrono::milliseconds timeout) {
  const auto factories = worker::builtin_projections({});
  const auto factory = factories.find(name);
  if (factory == factories.end())
    throw CommandFailure("rebuild: unknown projection '" + name + "' (this binary rebuilds event_counts, event_copy)");
  const auto total = must(ctx.store->totals(), "rebuild: counting the log").events;

  caf::actor_system_config config;
  caf::actor_system system{config};
  auto runtime = must(projections::ProjectionRuntime::start(system, ctx.store), "rebuild: starting projections");
  if (auto added = runtime->add({.name = name}, factory->second); !added)
    throw CommandFailure("rebuild: " + added.error().message);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Only the active instance rebuilds: another process running it holds its lock.
  for (;;) {
    auto status = must(runtime->status(name), "rebuild: status of " + name);
    if (status.state == projections::ProjectionState::running ||
        status.state == projections::ProjectionState::catching_up)
      break;
    if (status.state == projections::ProjectionState::stopped_with_error)
      throw CommandFailure("rebuild: " + name + " stopped: " + status.error);
    if (std::chrono::steady_clock::now() > deadline || stop_requested)
      throw CommandFailure("rebuild: " + name + " is active in another process (state " +
                           std::string(projections::to_string(status.state)) +
                           "): stop its worker, or rebuild there");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (auto started = runtime->rebuild(name, from); !started) throw CommandFailure("rebuild: " + started.error().message);
  Progress progress(stderr, "rebuild " + name, total);
  for (;;) {
    const auto p = runtime->rebuild_progress(name);
    if (!p.error.empty()) throw CommandFailure("rebuild " + name + " abandoned: " + p.error);
    if (p.finished && !p.active) {
      progress.finish(p.events_done, p.events_per_s);
      line(ctx, {{"projection", name}, {"rebuilt", true}, {"events", p.events_done}, {"position", to_string(p.position)}});
      break;
    }
    progress.update(p.events_done, p.events_per_s);
    if (std::chrono::steady_clock::now() > deadline)
      throw CommandFailure("rebuild " + name + ": not finished within " + std::to_string(timeout.count() / 1000) +
                           " s (" + std::to_string(p.events_done) + " events done); it goes on if run again");
    if (stop_requested) throw CommandFailure("rebuild " + name + ": interrupted; the live model is unchanged");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  runtime->stop();
}

void stats(Context& ctx) {
  const auto totals = must(ctx.store->totals(), "stats");
  auto checkpoints = projections::postgres_checkpoint_store(*ctx.store);
  const auto listed = must(checkpoints->list(), "stats: projections");
  std::uint64_t dead_letters = 0;
  for (const auto& p : listed) dead_letters += p.dead_letters;
  line(ctx, {{"schema", ctx.store->config().schema},
             {"streams", totals.streams},
             {"events", totals.events},
             {"head", to_string(totals.head)},
             {"bytes", totals.bytes.value_or(0)},
             {"projections", listed.size()},
             {"dead_letters", dead_letters}});
}

}  // namespace eventcore::cli
