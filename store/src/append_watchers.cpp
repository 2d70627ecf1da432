#include "append_watchers.hpp"

#include <algorithm>

namespace eventcore::detail {

namespace {
class Registration final : public AppendWatch {
 public:
  Registration(std::shared_ptr<AppendWatchers> owner, std::uint64_t id) : owner_(std::move(owner)), id_(id) {}
  ~Registration() override { owner_->remove(id_); }

 private:
  std::shared_ptr<AppendWatchers> owner_;  // keeps the list alive as long as a watch exists
  std::uint64_t id_;
};
}  // namespace

std::unique_ptr<AppendWatch> AppendWatchers::add(std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  const auto id = ++next_id_;
  callbacks_.emplace_back(id, std::move(wake));
  count_.store(callbacks_.size(), std::memory_order_release);
  return std::make_unique<Registration>(shared_from_this(), id);
}

void AppendWatchers::remove(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  std::erase_if(callbacks_, [id](const auto& c) { return c.first == id; });
  count_.store(callbacks_.size(), std::memory_order_release);
}

void AppendWatchers::wake_all() {
  if (empty()) return;
  std::lock_guard lock(mutex_);
  for (auto& [id, wake] : callbacks_) wake();
}

}  // namespace eventcore::detail
