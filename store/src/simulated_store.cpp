#include "eventcore/store/simulated_store.hpp"

#include "eventcore/store/memory_store.hpp"

#include <mutex>
#include <unordered_set>

namespace eventcore {

struct SimulatedStore::State {
  SimulatedStoreOptions options;
  MemoryStore inner;  // the semantics; this class only adds faults and bookkeeping
  bool faults_on = true;
  mutable std::mutex mutex;  // makes check-then-fault sequences atomic
  std::unordered_set<EventId> foreign;
  Stats stats;
  std::string first_unexplained;

  explicit State(SimulatedStoreOptions opts)
      : options(std::move(opts)), inner(options.limits, options.clock) {}

  bool draw(double p) {
    if (!faults_on || p <= 0 || !options.random) return false;
    // 53 random bits as a double in [0, 1).
    return static_cast<double>(options.random() >> 11) * (1.0 / 9007199254740992.0) < p;
  }
  void observe(SimulatedStoreOp::Kind kind, std::string detail) {
    if (options.observer) options.observer(SimulatedStoreOp{kind, std::move(detail)});
  }
  std::vector<StoredEvent> events_of(const StreamId& stream, StreamVersion from = {1}) {
    std::vector<StoredEvent> events;
    for (;;) {
      auto page = inner.read_stream(stream, from, options.limits.max_page_size);
      if (!page) return events;
      events.insert(events.end(), page->begin(), page->end());
      if (page->end_of_stream) return events;
      from = page->next;
    }
  }

  // Whether a foreign write moved `stream` past `expected` (versions after it).
  bool explained(const StreamId& stream, const ExpectedVersion& expected) {
    std::uint64_t from = expected.kind() == ExpectedVersion::Kind::exact ? expected.version().value : 0;
    for (const auto& event : events_of(stream, StreamVersion{from + 1}))
      if (foreign.contains(event.id)) return true;
    return false;
  }

  Result<AppendResult> append_locked(const AppendRequest& request, bool is_foreign) {
    auto result = inner.append(request);
    if (result) {
      if (is_foreign)
        for (const auto& write : request.streams)
          for (const auto& event : write.events) foreign.insert(event.id);
      return result;
    }
    if (!is_foreign && result.error().code == ErrorCode::conflict) {
      ++stats.conflicts;
      for (const auto& write : request.streams) {
        const StreamVersion actual = inner.stream_version(write.stream).value();
        if (write.expected.accepts(actual) || explained(write.stream, write.expected)) continue;
        ++stats.unexplained_conflicts;
        if (first_unexplained.empty())
          first_unexplained = "stream '" + write.stream.str() + "' is at version " + std::to_string(actual.value) +
                              ", expected " + to_string(write.expected) + ", and no foreign write moved it";
        break;
      }
    }
    return result;
  }

  void maybe_foreign_write(const AppendRequest& request) {
    if (!options.foreign_writer || request.streams.empty() || !draw(options.faults.foreign)) return;
    const auto& target = request.streams[options.random() % request.streams.size()].stream;
    auto event = options.foreign_writer(target, events_of(target));
    if (!event) return;
    const auto before = inner.stream_version(target).value();
    AppendRequest foreign_request{{StreamWrite{target, ExpectedVersion::exact(before), {std::move(*event)}}}};
    if (append_locked(foreign_request, true).ok()) {
      ++stats.foreign_writes;
      observe(SimulatedStoreOp::Kind::foreign_write, target.str() + "@" + std::to_string(before.value + 1));
    }
  }
};

namespace {
std::string describe(const AppendRequest& request) {
  std::string out;
  for (const auto& write : request.streams) {
    if (!out.empty()) out += ' ';
    out += write.stream.str() + ":" + to_string(write.expected) + "+" + std::to_string(write.events.size());
  }
  if (request.record) out += " key:" + request.record->key;
  return out;
}
}  // namespace

SimulatedStore::SimulatedStore(SimulatedStoreOptions options)
    : state_(std::make_unique<State>(std::move(options))) {}
SimulatedStore::~SimulatedStore() = default;

Result<AppendResult> SimulatedStore::append(const AppendRequest& request) {
  std::lock_guard lock(state_->mutex);
  auto& st = *state_;
  if (auto status = validate_append(request, st.options.limits); !status) return status.error();
  st.maybe_foreign_write(request);
  if (st.draw(st.options.faults.transient_append)) {
    ++st.stats.transient_appends;
    st.observe(SimulatedStoreOp::Kind::transient_append, describe(request));
    return Error{ErrorCode::unavailable, "simulated: the connection failed before the append reached the store"};
  }
  auto result = st.append_locked(request, false);
  if (!result) {
    st.observe(SimulatedStoreOp::Kind::append_failed, describe(request) + " -> " + to_string(result.error()));
    return result;
  }
  ++st.stats.appends;
  std::string detail = describe(request) + " -> tx " +
                       std::to_string(result->positions.empty() ? 0 : result->positions.front().transaction);
  if (st.draw(st.options.faults.ambiguous)) {
    ++st.stats.ambiguous;
    st.observe(SimulatedStoreOp::Kind::ambiguous_append, detail);
    return Error{ErrorCode::unavailable, "simulated: the connection was lost after the append committed"};
  }
  st.observe(SimulatedStoreOp::Kind::append, detail);
  return result;
}

Result<StreamPage> SimulatedStore::read_stream(const StreamId& stream, StreamVersion from, std::size_t max_count,
                                               StreamVersion to) {
  std::lock_guard lock(state_->mutex);
  auto& st = *state_;
  if (st.draw(st.options.faults.transient_read)) {
    ++st.stats.transient_reads;
    st.observe(SimulatedStoreOp::Kind::transient_read, stream.str());
    return Error{ErrorCode::unavailable, "simulated: the connection failed while reading '" + stream.str() + "'"};
  }
  return st.inner.read_stream(stream, from, max_count, to);
}

Result<ReadAllPage> SimulatedStore::read_all(GlobalPosition after, std::size_t max_count, const EventFilter& filter) {
  std::lock_guard lock(state_->mutex);
  return state_->inner.read_all(after, max_count, filter);
}

Result<StreamVersion> SimulatedStore::stream_version(const StreamId& stream) {
  std::lock_guard lock(state_->mutex);
  return state_->inner.stream_version(stream);
}

Result<std::vector<StreamInfo>> SimulatedStore::list_streams(std::string_view prefix, std::string_view after,
                                                            std::size_t max_count) {
  std::lock_guard lock(state_->mutex);
  return state_->inner.list_streams(prefix, after, max_count);
}

Result<StoreTotals> SimulatedStore::totals() {
  std::lock_guard lock(state_->mutex);
  return state_->inner.totals();
}

Result<std::optional<Snapshot>> SimulatedStore::load_snapshot(const StreamId& stream, std::string_view type,
                                                              std::uint32_t schema) {
  std::lock_guard lock(state_->mutex);
  auto& st = *state_;
  if (st.draw(st.options.faults.transient_read)) {
    ++st.stats.transient_reads;
    st.observe(SimulatedStoreOp::Kind::transient_read, "snapshot of " + stream.str());
    return Error{ErrorCode::unavailable, "simulated: the connection failed while loading a snapshot of '" + stream.str() + "'"};
  }
  return st.inner.load_snapshot(stream, type, schema);
}

Status SimulatedStore::save_snapshot(const Snapshot& snapshot) {
  std::lock_guard lock(state_->mutex);
  return state_->inner.save_snapshot(snapshot);
}

Result<std::optional<CommandRecord>> SimulatedStore::load_command_record(std::string_view key) {
  std::lock_guard lock(state_->mutex);
  auto& st = *state_;
  if (st.draw(st.options.faults.transient_read)) {
    ++st.stats.transient_reads;
    st.observe(SimulatedStoreOp::Kind::transient_read, "command record " + std::string(key));
    return Error{ErrorCode::unavailable, "simulated: the connection failed while loading the command record of '" +
                                             std::string(key) + "'"};
  }
  return st.inner.load_command_record(key);
}

Result<std::uint64_t> SimulatedStore::expire_command_records(std::chrono::seconds older_than) {
  std::lock_guard lock(state_->mutex);
  return state_->inner.expire_command_records(older_than);
}

void SimulatedStore::set_faults_enabled(bool on) {
  std::lock_guard lock(state_->mutex);
  state_->faults_on = on;
}

Result<AppendResult> SimulatedStore::foreign_append(const AppendRequest& request) {
  std::lock_guard lock(state_->mutex);
  auto result = state_->append_locked(request, true);
  if (result) ++state_->stats.foreign_writes;
  return result;
}

std::vector<StoredEvent> SimulatedStore::log() const {
  std::lock_guard lock(state_->mutex);
  std::vector<StoredEvent> events;
  GlobalPosition after{};
  for (;;) {
    auto page = state_->inner.read_all(after, state_->options.limits.max_page_size);
    if (!page || page->events.empty()) return events;
    after = page->next;
    events.insert(events.end(), page->events.begin(), page->events.end());
  }
}

bool SimulatedStore::is_foreign(const EventId& id) const {
  std::lock_guard lock(state_->mutex);
  return state_->foreign.contains(id);
}

SimulatedStore::Stats SimulatedStore::stats() const {
  std::lock_guard lock(state_->mutex);
  return state_->stats;
}

std::string SimulatedStore::first_unexplained_conflict() const {
  std::lock_guard lock(state_->mutex);
  return state_->first_unexplained;
}

}  // namespace eventcore

namespace eventcore {

std::unique_ptr<AppendWatch> SimulatedStore::watch_appends(std::function<void()> wake) {
  std::lock_guard lock(state_->mutex);
  // The inner store wakes inside an append, which holds state_->mutex.
  return state_->inner.watch_appends([st = state_.get(), wake = std::move(wake)] {
    if (st->draw(st->options.faults.lost_wakeup)) {
      ++st->stats.lost_wakeups;
      st->observe(SimulatedStoreOp::Kind::lost_wakeup, "a wake-up after an append");
      return;
    }
    wake();
  });
}

Result<ReadBacklog> SimulatedStore::backlog(GlobalPosition after, const EventFilter& filter) {
  std::lock_guard lock(state_->mutex);
  return state_->inner.backlog(after, filter);
}

}  // namespace eventcore
