#include "eventcore/store/memory_store.hpp"

#include "append_watchers.hpp"
#include "event_id_set.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <tuple>
#include <unordered_map>

namespace eventcore {

namespace {
// A stream's category: its id up to the first '-' (all of it without one).
std::string_view category_of(std::string_view stream) { return stream.substr(0, stream.find('-')); }

// Takes the store's lock for writing, spinning a while before it sleeps: an
// append holds it for about a microsecond, and a writer that goes to sleep
// on it (a futex wait: pthread_rwlock has no adaptive mode) pays a context
// switch and a wake-up, several microseconds, and leaves its core idle
// meanwhile. 1,000 pauses (a few to some tens of microseconds) cover the
// holder's critical section; past that the holder is likely descheduled
// and sleeping is right. Measured in docs/PERFORMANCE.md ("The in-memory
// store's lock: spin, then sleep").
void lock_spinning(std::unique_lock<std::shared_mutex>& lock) {
  for (int spins = 0; spins < 1000; ++spins) {
    if (lock.try_lock()) return;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }
  lock.lock();
}

// The maps' keys hash as string views, so that a key's hash can be taken
// before the store's lock and handed to the lookup under it (Hashed).
struct Hashed {
  std::string_view key;
  std::size_t hash;
};
std::string_view key_of(const StreamId& id) { return id.str(); }
std::string_view key_of(std::string_view s) { return s; }
std::string_view key_of(const Hashed& h) { return h.key; }
Hashed hashed(std::string_view key) { return {key, std::hash<std::string_view>{}(key)}; }

struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(const Hashed& h) const noexcept { return h.hash; }
  template <class K>
  std::size_t operator()(const K& k) const noexcept {
    return std::hash<std::string_view>{}(key_of(k));
  }
};
struct KeyEqual {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const noexcept {
    return key_of(a) == key_of(b);
  }
};

// What an append works out for one of its streams before the lock, and
// finds under it.
struct StagedStream {
  Hashed stream;
  Hashed category;
  std::vector<std::size_t>* indexes = nullptr;  // the stream's log indexes; null: a new stream
  std::uint64_t version = 0;                    // the stream's version after the append
};
}  // namespace

struct MemoryStore::State {
  mutable std::shared_mutex mutex;
  // In global order; index = sequence - 1. Each event is allocated (and its
  // memory first touched) by its writer before the lock; under it, only the
  // pointer moves in. A deque of the events themselves allocated a block per
  // event (StoredEvent is over 256 bytes) under the lock.
  std::deque<std::unique_ptr<const StoredEvent>> log;
  std::unordered_map<StreamId, std::vector<std::size_t>, KeyHash, KeyEqual> streams;  // log indexes per stream
  // Log indexes per category (a stream id up to its first '-'): a read_all
  // whose prefix names one walks only its category's events.
  std::unordered_map<std::string, std::vector<std::size_t>, KeyHash, KeyEqual> categories;
  EventIdSet ids;
  std::uint64_t appends = 0;
  std::map<std::tuple<StreamId, std::string, std::uint32_t>, Snapshot, std::less<>> snapshots;
  std::unordered_map<std::string, CommandRecord> records;  // by idempotency key
  std::shared_ptr<detail::AppendWatchers> watchers = std::make_shared<detail::AppendWatchers>();
};

MemoryStore::MemoryStore(StoreLimits limits, std::function<Timestamp()> clock)
    : state_(std::make_unique<State>()), limits_(limits), clock_(std::move(clock)) {
  if (!clock_)
    clock_ = [] { return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now()); };
}
MemoryStore::~MemoryStore() = default;

Result<AppendResult> MemoryStore::append(const AppendRequest& request) {
  if (auto status = validate_append(request, limits_); !status) return status.error();
  // Everything that needs no lock happens before it: the id set's cache
  // misses start, the maps' keys are hashed, and the stored copies of the
  // events (their allocations) are made. The lock then covers checks,
  // numbering and moves only; the result is built after it.
  for (const auto& write : request.streams)
    for (const auto& event : write.events) state_->ids.prefetch(event.id);
  const Timestamp now = clock_();
  thread_local std::vector<std::unique_ptr<StoredEvent>> staged;  // its capacity is reused
  thread_local std::vector<StagedStream> streams;
  struct Unstage {
    ~Unstage() {  // on every return: the copies are moved out or not wanted
      staged.clear();
      streams.clear();
    }
  } unstage;
  staged.clear();  // in case a wake-up of an append on this thread appended again
  streams.clear();
  for (const auto& write : request.streams) {
    streams.push_back({hashed(write.stream.str()), hashed(category_of(write.stream.str()))});
    for (const auto& event : write.events)
      staged.push_back(std::make_unique<StoredEvent>(event.id, write.stream, StreamVersion{}, GlobalPosition{},
                                                     event.type, event.payload, event.metadata, now));
  }

  std::unique_lock lock(state_->mutex, std::defer_lock);
  lock_spinning(lock);
  // Check everything first: the append either passes every check or writes nothing.
  for (std::size_t s = 0; s < request.streams.size(); ++s) {
    const auto& write = request.streams[s];
    auto it = state_->streams.find(streams[s].stream);
    if (it != state_->streams.end()) streams[s].indexes = &it->second;
    StreamVersion actual{it == state_->streams.end() ? 0 : it->second.size()};
    if (!write.expected.accepts(actual))
      return Error{ErrorCode::conflict, "stream '" + write.stream.str() + "' is at version " +
                                            std::to_string(actual.value) + ", expected " +
                                            to_string(write.expected)};
    for (const auto& event : write.events)
      if (state_->ids.contains(event.id))
        return Error{ErrorCode::duplicate_event,
                     "event " + event.id.str() + " already exists in the store"};
  }
  if (request.record && state_->records.contains(request.record->key))
    return Error{ErrorCode::duplicate_key,
                 "idempotency key '" + request.record->key + "' already has a command record"};

  const std::uint64_t transaction = ++state_->appends;
  const std::uint64_t first_sequence = state_->log.size() + 1;
  auto next = staged.begin();
  for (std::size_t s = 0; s < request.streams.size(); ++s) {
    auto& stream = streams[s];
    // Node-based maps: a stream inserted here leaves the others' pointers valid.
    auto& indexes = stream.indexes ? *stream.indexes : state_->streams[request.streams[s].stream];
    auto category = state_->categories.find(stream.category);
    if (category == state_->categories.end())
      category = state_->categories.emplace(std::string(stream.category.key), std::vector<std::size_t>{}).first;
    for (std::size_t e = 0; e < request.streams[s].events.size(); ++e, ++next) {
      StoredEvent& event = **next;
      category->second.push_back(state_->log.size());
      indexes.push_back(state_->log.size());
      state_->ids.insert(event.id);
      event.version = StreamVersion{indexes.size()};
      event.position = GlobalPosition{transaction, state_->log.size() + 1};
      state_->log.push_back(std::move(*next));
    }
    stream.version = indexes.size();
  }
  if (request.record) {
    CommandRecord& record = state_->records[request.record->key];
    record = *request.record;
    record.recorded_at = now;
  }
  lock.unlock();

  // Sequences are dense within an append: its events hold the ones from first_sequence on.
  AppendResult result;
  result.streams.reserve(request.streams.size());
  result.positions.reserve(staged.size());
  for (std::size_t i = 0; i < staged.size(); ++i)
    result.positions.push_back(GlobalPosition{transaction, first_sequence + i});
  for (std::size_t s = 0; s < request.streams.size(); ++s)
    result.streams.push_back({request.streams[s].stream, StreamVersion{streams[s].version}});
  // After the write is visible, outside the store's lock, and after the
  // per-thread staging is read: a wake-up may append on this thread.
  state_->watchers->wake_all();
  return result;
}

std::unique_ptr<AppendWatch> MemoryStore::watch_appends(std::function<void()> wake) {
  return state_->watchers->add(std::move(wake));
}

Result<ReadBacklog> MemoryStore::backlog(GlobalPosition after, const EventFilter& filter) {
  // Everything committed is readable at once: nothing is ever held back.
  ReadBacklog backlog;
  const auto now = std::chrono::system_clock::now();
  std::shared_lock lock(state_->mutex);
  if (!state_->log.empty()) backlog.head = state_->log.back()->position;
  for (std::size_t i = after.sequence; i < state_->log.size(); ++i) {
    const auto& event = *state_->log[i];
    if (!filter.matches(event)) continue;
    if (backlog.readable++ == 0)
      backlog.oldest_ms = std::max(0.0, std::chrono::duration<double, std::milli>(now - event.recorded_at).count());
  }
  return backlog;
}

Result<StreamPage> MemoryStore::read_stream(const StreamId& stream, StreamVersion from, std::size_t max_count,
                                            StreamVersion to) {
  max_count = std::min(max_count, limits_.max_page_size);
  from.value = std::max<std::uint64_t>(from.value, 1);
  StreamPage page{{}, from, false};
  std::shared_lock lock(state_->mutex);
  auto it = state_->streams.find(stream);
  const std::uint64_t last = std::min<std::uint64_t>(to.value, it == state_->streams.end() ? 0 : it->second.size());
  for (std::uint64_t v = from.value; v <= last && page.events.size() < max_count; ++v)
    page.events.push_back(*state_->log[it->second[v - 1]]);
  if (!page.events.empty()) page.next = page.events.back().version.next();
  page.end_of_stream = page.next.value > last;
  return page;
}

Result<ReadAllPage> MemoryStore::read_all(GlobalPosition after, std::size_t max_count,
                                          const EventFilter& filter) {
  max_count = std::min(max_count, limits_.max_page_size);
  ReadAllPage page{{}, after};
  std::shared_lock lock(state_->mutex);
  auto take = [&](std::size_t i) {
    const auto& event = *state_->log[i];
    if (!filter.matches(event)) return;
    page.events.push_back(event);
    page.next = event.position;
  };
  // Sequences are dense and assigned in commit order, so `after.sequence` is
  // also the index of the first event after it.
  if (filter.stream_prefix.find('-') != std::string::npos) {
    auto it = state_->categories.find(category_of(filter.stream_prefix));
    if (it == state_->categories.end()) return page;
    const auto& indexes = it->second;
    for (auto i = std::lower_bound(indexes.begin(), indexes.end(), after.sequence);
         i != indexes.end() && page.events.size() < max_count; ++i)
      take(*i);
    return page;
  }
  for (std::size_t i = after.sequence; i < state_->log.size() && page.events.size() < max_count; ++i) take(i);
  return page;
}

Result<std::vector<StreamInfo>> MemoryStore::list_streams(std::string_view prefix, std::string_view after,
                                                         std::size_t max_count) {
  max_count = std::min(max_count, limits_.max_page_size);
  std::vector<StreamInfo> out;
  std::shared_lock lock(state_->mutex);
  for (const auto& [stream, indexes] : state_->streams) {
    const std::string_view id = stream.str();
    if (id.starts_with(prefix) && id > after) out.push_back({stream, StreamVersion{indexes.size()}});
  }
  lock.unlock();
  const auto by_id = [](const StreamInfo& a, const StreamInfo& b) { return a.stream.str() < b.stream.str(); };
  const auto keep = std::min(out.size(), max_count);
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(keep), out.end(), by_id);
  out.erase(out.begin() + static_cast<std::ptrdiff_t>(keep), out.end());
  return out;
}

Result<StoreTotals> MemoryStore::totals() {
  std::shared_lock lock(state_->mutex);
  StoreTotals totals;
  totals.streams = state_->streams.size();
  totals.events = state_->log.size();
  if (!state_->log.empty()) totals.head = state_->log.back()->position;
  return totals;
}

Result<StreamVersion> MemoryStore::stream_version(const StreamId& stream) {
  std::shared_lock lock(state_->mutex);
  auto it = state_->streams.find(stream);
  return StreamVersion{it == state_->streams.end() ? 0 : it->second.size()};
}

Result<std::optional<Snapshot>> MemoryStore::load_snapshot(const StreamId& stream, std::string_view type,
                                                           std::uint32_t schema) {
  std::shared_lock lock(state_->mutex);
  auto it = state_->snapshots.find(std::make_tuple(stream, std::string(type), schema));
  if (it == state_->snapshots.end()) return std::optional<Snapshot>{};
  return std::optional<Snapshot>{it->second};
}

Status MemoryStore::save_snapshot(const Snapshot& snapshot) {
  if (auto status = validate_snapshot(snapshot, limits_); !status) return status;
  std::unique_lock lock(state_->mutex);
  auto [it, inserted] =
      state_->snapshots.try_emplace(std::make_tuple(snapshot.stream, snapshot.type, snapshot.schema), snapshot);
  if (!inserted && it->second.version < snapshot.version) it->second = snapshot;
  return {};
}

Result<std::optional<CommandRecord>> MemoryStore::load_command_record(std::string_view key) {
  std::shared_lock lock(state_->mutex);
  auto it = state_->records.find(std::string(key));
  if (it == state_->records.end()) return std::optional<CommandRecord>{};
  return std::optional<CommandRecord>{it->second};
}

Result<std::uint64_t> MemoryStore::expire_command_records(std::chrono::seconds older_than) {
  const Timestamp cutoff = clock_() - older_than;
  std::unique_lock lock(state_->mutex);
  return static_cast<std::uint64_t>(
      std::erase_if(state_->records, [&](const auto& entry) { return entry.second.recorded_at <= cutoff; }));
}

}  // namespace eventcore
