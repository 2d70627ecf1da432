#include "eventcore/store/simulated_store.hpp"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

namespace eventcore {

struct SimulatedStore::State {
  SimulatedStoreOptions options;
  bool faults_on = true;
  mutable std::mutex mutex;
  std::vector<StoredEvent> log;  // in global order; index = sequence - 1
  std::unordered_map<StreamId, std::vector<std::size_t>> streams;
  std::unordered_set<EventId> ids;
  std::unordered_set<EventId> foreign;
  std::uint64_t transactions = 0;
  Stats stats;
  std::string first_unexplained;

  bool draw(double p) {
    if (!faults_on || p <= 0 || !options.random) return false;
    // 53 random bits as a double in [0, 1).
    return static_cast<double>(options.random() >> 11) * (1.0 / 9007199254740992.0) < p;
  }
  Timestamp now() const {
    if (options.clock) return options.clock();
    return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  }
  StreamVersion version(const StreamId& stream) const {
    auto it = streams.find(stream);
    return StreamVersion{it == streams.end() ? 0 : it->second.size()};
  }
  void observe(SimulatedStoreOp::Kind kind, std::string detail) {
    if (options.observer) options.observer(SimulatedStoreOp{kind, std::move(detail)});
  }

  // Whether a foreign write moved `stream` past `expected` (versions after it).
  bool explained(const StreamId& stream, const ExpectedVersion& expected, StreamVersion actual) const {
    std::uint64_t from = expected.kind() == ExpectedVersion::Kind::exact ? expected.version().value : 0;
    if (actual.value <= from) return false;
    const auto& indexes = streams.at(stream);
    for (std::uint64_t v = from + 1; v <= actual.value; ++v)
      if (foreign.contains(log[indexes[v - 1]].id)) return true;
    return false;
  }

  Result<AppendResult> append_locked(const AppendRequest& request, bool is_foreign) {
    if (auto status = validate_append(request, options.limits); !status) return status.error();
    for (const auto& write : request.streams) {
      const StreamVersion actual = version(write.stream);
      if (!write.expected.accepts(actual)) {
        if (!is_foreign) {
          ++stats.conflicts;
          if (!explained(write.stream, write.expected, actual)) {
            ++stats.unexplained_conflicts;
            if (first_unexplained.empty())
              first_unexplained = "stream '" + write.stream.str() + "' is at version " +
                                  std::to_string(actual.value) + ", expected " + to_string(write.expected) +
                                  ", and no foreign write moved it";
          }
        }
        return Error{ErrorCode::conflict, "stream '" + write.stream.str() + "' is at version " +
                                              std::to_string(actual.value) + ", expected " +
                                              to_string(write.expected)};
      }
      for (const auto& event : write.events)
        if (ids.contains(event.id))
          return Error{ErrorCode::duplicate_event, "event " + event.id.str() + " already exists in the store"};
    }
    const auto stamp = now();
    const std::uint64_t transaction = ++transactions;
    AppendResult result;
    result.streams.reserve(request.streams.size());
    for (const auto& write : request.streams) {
      auto& indexes = streams[write.stream];
      for (const auto& event : write.events) {
        const std::uint64_t sequence = log.size() + 1;
        indexes.push_back(log.size());
        ids.insert(event.id);
        if (is_foreign) foreign.insert(event.id);
        log.push_back(StoredEvent{event.id, write.stream, StreamVersion{indexes.size()},
                                  GlobalPosition{transaction, sequence}, event.type, event.payload, event.metadata,
                                  stamp});
        result.positions.push_back(GlobalPosition{transaction, sequence});
      }
      result.streams.push_back({write.stream, StreamVersion{indexes.size()}});
    }
    return result;
  }

  void maybe_foreign_write(const AppendRequest& request) {
    if (!options.foreign_writer || request.streams.empty() || !draw(options.faults.foreign)) return;
    const auto& target = request.streams[options.random() % request.streams.size()].stream;
    std::vector<StoredEvent> events;
    if (auto it = streams.find(target); it != streams.end())
      for (auto i : it->second) events.push_back(log[i]);
    auto event = options.foreign_writer(target, events);
    if (!event) return;
    const auto before = version(target);
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
  return out;
}
}  // namespace

SimulatedStore::SimulatedStore(SimulatedStoreOptions options) : state_(std::make_unique<State>()) {
  state_->options = std::move(options);
}
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

Result<std::vector<StoredEvent>> SimulatedStore::read_stream(const StreamId& stream, StreamVersion from,
                                                             std::size_t max_count) {
  std::lock_guard lock(state_->mutex);
  auto& st = *state_;
  if (st.draw(st.options.faults.transient_read)) {
    ++st.stats.transient_reads;
    st.observe(SimulatedStoreOp::Kind::transient_read, stream.str());
    return Error{ErrorCode::unavailable, "simulated: the connection failed while reading '" + stream.str() + "'"};
  }
  max_count = std::min(max_count, st.options.limits.max_page_size);
  std::vector<StoredEvent> events;
  auto it = st.streams.find(stream);
  if (it == st.streams.end()) return events;
  const auto& indexes = it->second;
  for (std::size_t i = from.value == 0 ? 0 : from.value - 1; i < indexes.size() && events.size() < max_count; ++i)
    events.push_back(st.log[indexes[i]]);
  return events;
}

Result<ReadAllPage> SimulatedStore::read_all(GlobalPosition after, std::size_t max_count, const EventFilter& filter) {
  std::lock_guard lock(state_->mutex);
  auto& st = *state_;
  max_count = std::min(max_count, st.options.limits.max_page_size);
  ReadAllPage page{{}, after};
  // Sequences are dense and assigned in commit order: `after.sequence` is
  // also the index of the first event after it.
  for (std::size_t i = after.sequence; i < st.log.size() && page.events.size() < max_count; ++i) {
    if (filter.matches(st.log[i])) {
      page.events.push_back(st.log[i]);
      page.next = st.log[i].position;
    }
  }
  return page;
}

Result<StreamVersion> SimulatedStore::stream_version(const StreamId& stream) {
  std::lock_guard lock(state_->mutex);
  return state_->version(stream);
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
  return state_->log;
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
