#pragma once

// The callbacks of EventStore::watch_appends, shared by the stores that have
// wake-ups. Private to store/.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "eventcore/store/event_store.hpp"

namespace eventcore::detail {

class AppendWatchers : public std::enable_shared_from_this<AppendWatchers> {
 public:
  // Registers `wake` until the returned watch is destroyed.
  std::unique_ptr<AppendWatch> add(std::function<void()> wake);
  // Calls every callback (under the list's mutex, so that removing one waits
  // until it is no longer running). Costs one atomic load when there is none.
  void wake_all();
  bool empty() const noexcept { return count_.load(std::memory_order_acquire) == 0; }
  void remove(std::uint64_t id);

 private:
  std::mutex mutex_;
  std::vector<std::pair<std::uint64_t, std::function<void()>>> callbacks_;
  std::uint64_t next_id_ = 0;
  std::atomic<std::size_t> count_{0};
};

}  // namespace eventcore::detail
