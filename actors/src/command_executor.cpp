#include "eventcore/actors/command_executor.hpp"

#include <algorithm>
#include <future>
#include <random>
#include <unordered_map>

#include <caf/all.hpp>

#include "eventcore/actors/detail/actors.hpp"
#include "eventcore/actors/detail/outcome.hpp"
#include "eventcore/actors/detail/protocol.hpp"
#include "eventcore/actors/scheduler_tuning.hpp"

namespace eventcore {

struct CommandExecutor::Builder::Parts {
  std::shared_ptr<EventStore> store;
  RetryPolicy retry;
  RuntimeConfig config;
  caf::actor_system* system = nullptr;
  RandomSource random;
  MonotonicClock clock;
  std::function<Timestamp()> wall_clock;
  std::shared_ptr<RuntimeMetrics> metrics;
};

struct CommandExecutor::Runtime {
  std::unique_ptr<caf::actor_system_config> own_config;
  std::unique_ptr<caf::actor_system> own_system;
  caf::actor_system* system = nullptr;
  detail::ContextPtr context;
  caf::actor gateway;
  std::once_flag stopped;

  void shutdown() {
    std::call_once(stopped, [this] {
      caf::anon_send_exit(gateway, caf::exit_reason::user_shutdown);
      context->directory->stop(caf::exit_reason::user_shutdown);
      for (auto& coordinator : context->all_coordinators()) caf::anon_send_exit(coordinator, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(context->registry, caf::exit_reason::user_shutdown);
      for (auto& io : context->io) caf::anon_send_exit(io, caf::exit_reason::user_shutdown);
    });
  }
  ~Runtime() {
    shutdown();
    gateway = nullptr;
    context.reset();
    own_system.reset();  // waits for every actor of the system to finish
  }
};

namespace {

using deliver_atom = caf::atom_constant<caf::atom("deliver")>;

// A command must declare at least one stream, each once.
std::optional<CommandError> invalid_streams(const CommandJob& job) {
  auto invalid = [&](std::string message, std::vector<StreamId> streams) {
    return CommandError{CommandErrorCode::invalid_command, job.name, std::move(streams), std::move(message),
                        std::nullopt, 0};
  };
  if (job.streams.empty()) return invalid("the command declares no stream: streams() must name at least one", {});
  auto twice = [&](const StreamId& stream) {
    return invalid("the command declares stream '" + stream.str() + "' more than once in streams()", {stream});
  };
  // Pairwise for the few streams most commands declare: no copy to sort.
  const auto& streams = job.streams;
  if (streams.size() <= 8) {
    for (std::size_t i = 1; i < streams.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        if (streams[i] == streams[j]) return twice(streams[i]);
    return std::nullopt;
  }
  auto sorted = streams;
  std::sort(sorted.begin(), sorted.end());
  if (auto dup = std::adjacent_find(sorted.begin(), sorted.end()); dup != sorted.end()) return twice(*dup);
  return std::nullopt;
}

// Starts a command: commands without an idempotency key go straight to the
// actor of their first stream in id order (the fast path,
// detail/protocol.hpp); keyed ones get a write coordinator.
void start_command(const detail::ContextPtr& context, CommandJobPtr job, CommandExecutor::Callback done) {
  if (auto invalid = invalid_streams(*job)) {
    detail::observe_outcome(*context, *job, *invalid, {});
    done(std::move(*invalid));
    return;
  }
  if (!job->idempotency_key) {
    // Once the runtime is stopped the directory sends nothing; the command,
    // dropped unanswered, then answers itself (~LocalCommand).
    auto command = std::make_shared<detail::LocalCommand>(std::move(job), std::move(done), context->clock(), context);
    const StreamId& stream = command->streams().front();  // alive while `command` is
    context->directory->with_actor(stream, [&](const caf::actor& actor) {
      caf::anon_send(actor, execute_atom::value, command);
    });
    return;
  }
  detail::coordinate(context, std::move(job), std::move(done));
}

// Answers (execute_atom, CommandJobPtr) requests from actors. The outcome
// comes back as a message, so that only this actor delivers its promises.
struct GatewayState {
  static inline const char* name = "eventcore.gateway";
  std::uint64_t next = 0;
  std::unordered_map<std::uint64_t, caf::response_promise> pending;
};

caf::behavior gateway_actor(caf::stateful_actor<GatewayState>* self, detail::ContextPtr context) {
  return {
      [=](execute_atom, CommandJobPtr& job) -> caf::response_promise {
        auto& st = self->state;
        const auto key = st.next++;
        auto rp = self->make_response_promise();
        st.pending.emplace(key, rp);
        start_command(context, std::move(job),
                      [gateway = caf::actor_cast<caf::actor>(self), key](const ExecuteResult& result) {
                        caf::anon_send(gateway, deliver_atom::value, key, result);
                      });
        return rp;
      },
      [=](deliver_atom, std::uint64_t key, ExecuteResult& result) {
        auto it = self->state.pending.find(key);
        if (it == self->state.pending.end()) return;
        it->second.deliver(std::move(result));
        self->state.pending.erase(it);
      },
  };
}
}  // namespace

CommandExecutor::Builder CommandExecutor::builder() {
  Builder builder;
  builder.parts_ = std::make_shared<Builder::Parts>();
  return builder;
}

using Builder = CommandExecutor::Builder;
Builder& Builder::with_store(std::shared_ptr<EventStore> store) {
  parts_->store = std::move(store);
  return *this;
}
Builder& Builder::with_retry_policy(RetryPolicy policy) {
  parts_->retry = policy;
  return *this;
}
Builder& Builder::with_config(RuntimeConfig config) {
  parts_->config = config;
  return *this;
}
Builder& Builder::with_system(caf::actor_system& system) {
  parts_->system = &system;
  return *this;
}
Builder& Builder::with_random_source(RandomSource random) {
  parts_->random = std::move(random);
  return *this;
}
Builder& Builder::with_clock(MonotonicClock clock) {
  parts_->clock = std::move(clock);
  return *this;
}
Builder& Builder::with_wall_clock(std::function<Timestamp()> clock) {
  parts_->wall_clock = std::move(clock);
  return *this;
}

Builder& Builder::with_metrics(std::shared_ptr<RuntimeMetrics> metrics) {
  parts_->metrics = std::move(metrics);
  return *this;
}

Result<CommandExecutor> Builder::build() {
  auto& p = *parts_;
  if (!p.store) return Error{ErrorCode::invalid_argument, "CommandExecutor needs a store (with_store)"};
  if (p.config.io_actors == 0) return Error{ErrorCode::invalid_argument, "RuntimeConfig::io_actors must be at least 1"};
  if (p.config.max_live_streams == 0)
    return Error{ErrorCode::invalid_argument, "RuntimeConfig::max_live_streams must be at least 1"};
  auto runtime = std::make_shared<Runtime>();
  if (p.system) {
    runtime->system = p.system;
  } else {
    runtime->own_config = std::make_unique<caf::actor_system_config>();
    configure_scheduler(*runtime->own_config, p.config.scheduler_threads);
    runtime->own_system = std::make_unique<caf::actor_system>(*runtime->own_config);
    runtime->system = runtime->own_system.get();
  }
  auto context = std::make_shared<detail::RuntimeContext>();
  context->store = p.store;
  context->system = runtime->system;
  context->config = p.config;
  context->retry = p.retry;
  context->clock = p.clock ? p.clock : MonotonicClock([] { return std::chrono::steady_clock::now(); });
  context->wall_clock = p.wall_clock ? p.wall_clock : std::function<Timestamp()>([] {
    return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  });
  context->metrics = p.metrics ? p.metrics : std::make_shared<RuntimeMetrics>();
  context->random = p.random ? p.random : seeded_random(std::random_device{}());
  IoMode io_mode = p.config.io_mode;
  if (io_mode == IoMode::automatic) io_mode = p.store->blocking() ? IoMode::detached : IoMode::cooperative;
  context->inline_store_calls = !p.store->blocking();
  context->direct_when_idle = p.config.direct_store_calls_when_idle && p.store->blocking() && io_mode == IoMode::detached;
  for (std::size_t i = 0; i < p.config.io_actors; ++i)
    context->io.push_back(detail::spawn_store_io(*runtime->system, p.store, io_mode, p.config.read_page_size));
  context->directory = std::make_unique<detail::StreamDirectory>(
      p.config.max_live_streams, [system = runtime->system, weak = std::weak_ptr(context)](const StreamId& stream) {
        return detail::spawn_stream_actor(*system, weak.lock(), stream);
      });
  context->registry = detail::spawn_stream_registry(*runtime->system, context);
  // A few coordinators, each running many commands: one per scheduler thread
  // (at least two, so that one slow handle does not hold up every command).
  detail::spawn_write_coordinators(context, std::max<std::size_t>(2, runtime->system->scheduler().num_workers()));
  runtime->gateway = runtime->system->spawn(gateway_actor, context);
  runtime->context = std::move(context);
  return CommandExecutor(std::move(runtime));
}

void CommandExecutor::submit(CommandJobPtr job, Callback done) const {
  start_command(runtime_->context, std::move(job), std::move(done));
}

ExecuteResult CommandExecutor::run(CommandJobPtr job) const {
  auto promise = std::make_shared<std::promise<ExecuteResult>>();
  auto future = promise->get_future();
  submit(std::move(job), [promise](const ExecuteResult& result) { promise->set_value(result); });
  return future.get();
}

namespace detail {
struct ExecutorAccess {
  static caf::actor gateway(const CommandExecutor& executor) { return executor.runtime_->gateway; }
  static caf::actor registry(const CommandExecutor& executor) { return executor.runtime_->context->registry; }
  static std::vector<caf::actor> coordinators(const CommandExecutor& executor) {
    return executor.runtime_->context->all_coordinators();
  }
};
std::vector<caf::actor> write_coordinators(const CommandExecutor& executor) {
  return ExecutorAccess::coordinators(executor);
}
}  // namespace detail

caf::actor gateway(const CommandExecutor& executor) { return detail::ExecutorAccess::gateway(executor); }
caf::actor stream_registry(const CommandExecutor& executor) { return detail::ExecutorAccess::registry(executor); }
const std::shared_ptr<RuntimeMetrics>& CommandExecutor::metrics() const { return runtime_->context->metrics; }
void CommandExecutor::shutdown() const { runtime_->shutdown(); }

}  // namespace eventcore
