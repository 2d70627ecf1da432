#include "postgres_known_versions.hpp"

namespace eventcore::pg {

void KnownVersions::note(std::string_view stream, std::uint64_t version, std::uint64_t generation) {
  if (version == 0) return;
  std::lock_guard lock(mutex_);
  if (generation != generation_.load(std::memory_order_relaxed)) return;
  if (auto it = versions_.find(stream); it != versions_.end()) {
    if (version > it->second) it->second = version;
    return;
  }
  if (versions_.size() >= capacity_) versions_.clear();
  versions_.emplace(std::string(stream), version);
}

bool KnownVersions::reached(std::string_view stream, std::uint64_t version) const {
  if (version == 0) return true;
  std::lock_guard lock(mutex_);
  auto it = versions_.find(stream);
  return it != versions_.end() && it->second >= version;
}

void KnownVersions::forget_all() {
  std::lock_guard lock(mutex_);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  versions_.clear();
}

std::size_t KnownVersions::size() const {
  std::lock_guard lock(mutex_);
  return versions_.size();
}

}  // namespace eventcore::pg
