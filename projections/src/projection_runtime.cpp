// The facade: spawns the waker and one actor per projection, and answers
// the user's questions by asking the actors.

#include <unistd.h>

#include <caf/all.hpp>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

#include "actors.hpp"
#include "eventcore/store/postgres_store.hpp"

namespace eventcore::projections {

using namespace detail;

std::string_view to_string(ProjectionState state) noexcept {
  switch (state) {
    case ProjectionState::starting: return "starting";
    case ProjectionState::standby: return "standby";
    case ProjectionState::catching_up: return "catching_up";
    case ProjectionState::running: return "running";
    case ProjectionState::stopped_with_error: return "stopped_with_error";
    case ProjectionState::stopped: return "stopped";
  }
  return "unknown";
}

namespace {
class SystemClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point wall_now() override { return std::chrono::system_clock::now(); }
  void sleep_for(std::chrono::nanoseconds d) override { std::this_thread::sleep_for(d); }
};

bool valid_name(const std::string& name) {
  static const std::regex pattern("^[a-z0-9_]{1,60}$");
  return std::regex_match(name, pattern);
}

std::string default_owner() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(::getpid());
}
}  // namespace

std::shared_ptr<Clock> Clock::system() {
  static auto clock = std::make_shared<SystemClock>();
  return clock;
}

struct ProjectionRuntime::Impl : std::enable_shared_from_this<ProjectionRuntime::Impl> {
  struct Entry {
    ProjectionOptions options;
    ProjectionFactory memory_factory;
    PostgresProjectionFactory pg_factory;
    caf::actor actor;
    std::shared_ptr<InstanceSlot> slot = std::make_shared<InstanceSlot>();
    std::shared_ptr<LiveCell> live = std::make_shared<LiveCell>();
    std::shared_ptr<ProgressCell> progress = std::make_shared<ProgressCell>();
    caf::actor rebuild;
    std::uint64_t restarts = 0;
  };

  caf::actor_system& system;
  Backend backend;
  ProjectionRuntimeConfig config;
  caf::actor waker;
  std::unique_ptr<AppendWatch> watch;
  mutable std::mutex mutex;
  std::map<std::string, Entry> entries;
  bool stopped = false;

  Impl(caf::actor_system& sys, Backend b, ProjectionRuntimeConfig c) : system(sys), backend(std::move(b)), config(std::move(c)) {}

  ActorTimings timings() const { return {config.standby_interval, config.retry_interval, config.cooperative}; }

  EngineConfig engine_config(const ProjectionOptions& options) const {
    EngineConfig ec;
    ec.options = options;
    ec.owner = config.owner;
    ec.clock = config.clock;
    ec.read_ahead = !config.cooperative;
    return ec;
  }

  // Spawns the entry's actor (a new engine each time), supervised: if it
  // ends while the runtime runs, it is spawned again. Caller holds `mutex`.
  void spawn_entry(const std::string& name, Entry& entry) {
    auto engine = std::make_unique<Engine>(engine_config(entry.options), backend, entry.memory_factory,
                                           entry.pg_factory, entry.slot, entry.live);
    entry.actor = spawn_projection_actor(system, std::move(engine), timings());
    entry.actor->attach_functor([weak = weak_from_this(), name](const caf::error&) {
      if (auto self = weak.lock()) self->restart(name);
    });
    caf::anon_send(waker, subscribe_atom::value, entry.actor);
  }

  void restart(const std::string& name) {
    std::lock_guard lock(mutex);
    if (stopped) return;  // the runtime is stopping it
    auto it = entries.find(name);
    if (it == entries.end()) return;
    ++it->second.restarts;
    spawn_entry(name, it->second);
  }

  Status add(ProjectionOptions options, ProjectionFactory memory, PostgresProjectionFactory pg) {
    if (!valid_name(options.name))
      return Error{ErrorCode::invalid_argument,
                   "projection name '" + options.name + "' must be 1 to 60 bytes of [a-z0-9_]"};
    if (options.page_size == 0) return Error{ErrorCode::invalid_argument, "page_size must be at least 1"};
    if (pg && !backend.postgres)
      return Error{ErrorCode::invalid_argument, "projection '" + options.name +
                                                    "' is a PostgresProjection: it needs a PostgresStore (its "
                                                    "tables live in the store's database)"};
    std::lock_guard lock(mutex);
    if (stopped) return Error{ErrorCode::invalid_argument, "the projection runtime is stopped"};
    if (entries.count(options.name))
      return Error{ErrorCode::invalid_argument, "projection '" + options.name + "' is already running"};
    Entry entry;
    entry.options = options;
    entry.memory_factory = std::move(memory);
    entry.pg_factory = std::move(pg);
    auto& added = entries.emplace(options.name, std::move(entry)).first->second;
    spawn_entry(options.name, added);
    return {};
  }

  // Stops one actor and waits (bounded) until it has; a cooperative
  // runtime's caller runs the exit on its own scheduler.
  void stop_actor(const caf::actor& actor) {
    if (!actor) return;
    if (config.cooperative) {
      caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
      return;
    }
    caf::scoped_actor self{system};
    self->monitor(actor);
    self->send_exit(actor, caf::exit_reason::user_shutdown);
    self->receive([](const caf::down_msg&) {}, caf::after(std::chrono::seconds(10)) >> [] {});
  }
};

ProjectionRuntime::ProjectionRuntime(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

ProjectionRuntime::~ProjectionRuntime() { stop(); }

Result<std::unique_ptr<ProjectionRuntime>> ProjectionRuntime::start(caf::actor_system& system,
                                                                  std::shared_ptr<EventStore> store,
                                                                  ProjectionRuntimeConfig config) {
  if (!store) return Error{ErrorCode::invalid_argument, "the projection runtime needs a store"};
  if (config.poll_interval.count() <= 0 || config.standby_interval.count() <= 0 ||
      config.retry_interval.count() <= 0)
    return Error{ErrorCode::invalid_argument, "poll, standby and retry intervals must be positive"};
  if (!config.clock) config.clock = Clock::system();
  if (config.owner.empty()) config.owner = default_owner();
  Backend backend;
  backend.store = store;
  if (const auto* postgres = dynamic_cast<const PostgresStore*>(store.get())) {
    auto settings = pg::make_connection_settings(postgres->config(), "eventcore-projection");
    if (!settings) return std::move(settings).error();
    backend.postgres = std::make_shared<const pg::ConnectionSettings>(std::move(settings).value());
    backend.schema = postgres->config().schema;
    if (!config.checkpoints) config.checkpoints = postgres_checkpoint_store(*postgres);
    if (!config.leadership) config.leadership = postgres_leadership(*postgres);
  }
  if (!config.checkpoints) config.checkpoints = memory_checkpoint_store();
  if (!config.leadership) config.leadership = memory_leadership();
  backend.checkpoints = config.checkpoints;
  backend.leadership = config.leadership;
  auto impl = std::make_shared<Impl>(system, std::move(backend), config);
  auto pending = std::make_shared<std::atomic<bool>>(false);
  impl->waker = spawn_waker(system, config.poll_interval, pending, config.cooperative);
  // Called by the store, possibly once per append: one message until the waker has taken it.
  impl->watch = store->watch_appends([waker = impl->waker, pending] {
    if (!pending->exchange(true)) caf::anon_send(waker, wake_atom::value);
  });
  return std::unique_ptr<ProjectionRuntime>(new ProjectionRuntime(std::move(impl)));
}

Status ProjectionRuntime::add(ProjectionOptions options, ProjectionFactory factory) {
  if (!factory) return Error{ErrorCode::invalid_argument, "a projection needs a factory"};
  return impl_->add(std::move(options), std::move(factory), nullptr);
}

Status ProjectionRuntime::add(ProjectionOptions options, PostgresProjectionFactory factory) {
  if (!factory) return Error{ErrorCode::invalid_argument, "a projection needs a factory"};
  return impl_->add(std::move(options), nullptr, std::move(factory));
}

std::shared_ptr<Projection> ProjectionRuntime::instance(const std::string& name) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->entries.find(name);
  return it == impl_->entries.end() ? nullptr : it->second.slot->get();
}

Result<ProjectionStatus> ProjectionRuntime::status(const std::string& name, std::chrono::milliseconds timeout) {
  caf::actor actor;
  std::uint64_t restarts = 0;
  {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->entries.find(name);
    if (it == impl_->entries.end()) return Error{ErrorCode::invalid_argument, "no projection '" + name + "'"};
    actor = it->second.actor;
    restarts = it->second.restarts;
  }
  std::optional<ProjectionStatus> result;
  std::string failure;
  caf::scoped_actor self{impl_->system};
  self->request(actor, timeout, status_atom::value)
      .receive([&](const ProjectionStatus& s) { result = s; },
               [&](const caf::error& e) { failure = impl_->system.render(e); });
  if (!result) return Error{ErrorCode::timeout, "status of projection '" + name + "': " + failure};
  result->restarts = restarts;
  return *result;
}

Status ProjectionRuntime::rebuild(const std::string& name, GlobalPosition from) {
  caf::actor live;
  ProjectionOptions options;
  ProjectionFactory memory;
  PostgresProjectionFactory pg;
  std::shared_ptr<ProgressCell> progress;
  {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->entries.find(name);
    if (it == impl_->entries.end()) return Error{ErrorCode::invalid_argument, "no projection '" + name + "'"};
    std::lock_guard plock(it->second.progress->mutex);
    if (it->second.progress->progress.active)
      return Error{ErrorCode::invalid_argument, "projection '" + name + "' is already being rebuilt"};
    live = it->second.actor;
    options = it->second.options;
    memory = it->second.memory_factory;
    pg = it->second.pg_factory;
    progress = it->second.progress;
  }
  int generation = 0;
  std::optional<ProjectionState> state;
  {
    caf::scoped_actor self{impl_->system};
    self->request(live, std::chrono::seconds(10), generation_atom::value)
        .receive([&](int g) { generation = g; }, [](const caf::error&) {});
    auto s = status(name);
    if (s) state = s->state;
  }
  if (!state || *state == ProjectionState::standby || *state == ProjectionState::starting)
    return Error{ErrorCode::invalid_argument,
                 "projection '" + name + "' is not active in this process (standby or not started): rebuild it where it runs"};
  auto ec = impl_->engine_config(options);
  ec.rebuild = true;
  ec.rebuild_generation = generation + 1;
  ec.rebuild_from = from;
  {
    std::lock_guard plock(progress->mutex);
    progress->progress = RebuildProgress{};
    progress->progress.active = true;
    progress->progress.position = from;
  }
  auto engine = std::make_unique<Engine>(ec, impl_->backend, memory, pg, nullptr, nullptr);
  auto actor = spawn_rebuild_actor(impl_->system, std::move(engine), live, progress, impl_->timings(),
                                   impl_->config.clock);
  std::lock_guard lock(impl_->mutex);
  impl_->entries[name].rebuild = actor;
  return {};
}

RebuildProgress ProjectionRuntime::rebuild_progress(const std::string& name) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->entries.find(name);
  if (it == impl_->entries.end()) return {};
  std::lock_guard plock(it->second.progress->mutex);
  return it->second.progress->progress;
}

Status ProjectionRuntime::wait_until_caught_up(const std::string& name, GlobalPosition target,
                                               std::chrono::milliseconds timeout) {
  std::shared_ptr<LiveCell> live;
  EventFilter filter;
  {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->entries.find(name);
    if (it == impl_->entries.end()) return Error{ErrorCode::invalid_argument, "no projection '" + name + "'"};
    live = it->second.live;
    filter = it->second.options.filter;
  }
  auto& store = *impl_->backend.store;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Whether nothing it wants lies in (position, target]: the first wanted
  // event after its position is beyond the target, or there is none and the
  // target itself is readable (then every event before it is, and final).
  auto nothing_wanted_before_target = [&](GlobalPosition position) {
    auto next = store.read_all(position, 1, filter);
    if (!next) return false;
    if (!next->events.empty()) return target < next->events.front().position;
    if (target.sequence == 0) return true;
    auto at = store.read_all(GlobalPosition{target.transaction, target.sequence - 1}, 1);
    return at && !at->events.empty() && !(at->events.front().position < target);
  };
  std::unique_lock lock(live->mutex);
  for (;;) {
    const GlobalPosition position = live->position;
    const ProjectionState state = live->state;
    const std::uint64_t steps = live->steps;
    if (state == ProjectionState::stopped_with_error)
      return Error{ErrorCode::failed, "projection '" + name + "' stopped: " + live->error};
    if (!(position < target)) return {};
    if (state == ProjectionState::running) {
      lock.unlock();
      const bool done = nothing_wanted_before_target(position);
      lock.lock();
      if (done && live->position == position) return {};
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline)
      return Error{ErrorCode::timeout, "projection '" + name + "' did not reach " + to_string(target) + " within " +
                                           std::to_string(timeout.count()) + " ms: it is at " +
                                           to_string(live->position) + " (" + std::string(to_string(live->state)) +
                                           (live->error.empty() ? "" : ", " + live->error) + ")"};
    // Until its next step; re-checked at least every 50 ms, since a target
    // held back by another transaction becomes readable without a step.
    live->changed.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(50)),
                             [&] { return live->steps != steps; });
  }
}

void ProjectionRuntime::stop() {
  std::vector<caf::actor> actors;
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) return;
    impl_->stopped = true;
    impl_->watch.reset();  // no wake-up from the store after this
    for (auto& [name, entry] : impl_->entries) {
      if (entry.rebuild) actors.push_back(entry.rebuild);
      actors.push_back(entry.actor);
    }
    actors.push_back(impl_->waker);
  }
  for (auto& a : actors) impl_->stop_actor(a);
}

}  // namespace eventcore::projections
