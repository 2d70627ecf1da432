// CheckpointStore in memory (see checkpoint_store.hpp).

#include <map>
#include <mutex>

#include "eventcore/projections/checkpoint_store.hpp"

namespace eventcore::projections {

namespace {

std::string describe(const std::optional<Checkpoint>& c) { return c ? to_string(*c) : "none"; }

class MemoryCheckpointStore final : public CheckpointStore {
 public:
  Result<std::optional<Checkpoint>> load(std::string_view name) override {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(name);
    if (it == entries_.end()) return std::optional<Checkpoint>{};
    return it->second.checkpoint;
  }
  Status save(std::string_view name, const Checkpoint& checkpoint) override {
    std::lock_guard lock(mutex_);
    entry(name).checkpoint = checkpoint;
    return {};
  }
  Status compare_and_set(std::string_view name, const std::optional<Checkpoint>& expected,
                         const Checkpoint& next) override {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(name);
    const std::optional<Checkpoint> current = it == entries_.end() ? std::nullopt : it->second.checkpoint;
    if (current != expected)
      return Error{ErrorCode::conflict, "the checkpoint of '" + std::string(name) + "' is at " + describe(current) +
                                            ", expected " + describe(expected)};
    entry(name).checkpoint = next;
    return {};
  }
  Status remove(std::string_view name) override {
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(name); it != entries_.end()) it->second.checkpoint.reset();
    return {};
  }
  Status report(std::string_view name, std::string_view state, std::string_view error,
                std::string_view owner) override {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(name);
    if (it == entries_.end() || !it->second.checkpoint) return {};  // nothing to report on yet
    it->second.state = state;
    it->second.error = error;
    it->second.owner = owner;
    return {};
  }
  Status dead_letter(std::string_view name, const StoredEvent&, std::string_view, int) override {
    std::lock_guard lock(mutex_);
    ++entry(name).dead_letters;
    return {};
  }
  Result<std::uint64_t> dead_letter_count(std::string_view name) override {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(name);
    return it == entries_.end() ? 0 : it->second.dead_letters;
  }
  Result<std::vector<ProjectionRecord>> list() override {
    std::lock_guard lock(mutex_);
    std::vector<ProjectionRecord> out;
    for (const auto& [name, e] : entries_)
      if (e.checkpoint) out.push_back({name, *e.checkpoint, e.state, e.error, e.owner, e.dead_letters});
    return out;
  }

 private:
  struct Entry {
    std::optional<Checkpoint> checkpoint;
    std::string state = "starting", error, owner;
    std::uint64_t dead_letters = 0;
  };
  Entry& entry(std::string_view name) {
    auto it = entries_.find(name);
    if (it == entries_.end()) it = entries_.emplace(std::string(name), Entry{}).first;
    return it->second;
  }
  std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> entries_;
};

}  // namespace

std::shared_ptr<CheckpointStore> memory_checkpoint_store() { return std::make_shared<MemoryCheckpointStore>(); }

}  // namespace eventcore::projections
