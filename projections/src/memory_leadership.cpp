// Leadership among the holders of one object in this process (see leadership.hpp).

#include <mutex>
#include <set>
#include <string>

#include "eventcore/projections/leadership.hpp"

namespace eventcore::projections {

namespace {

struct Held {
  std::mutex mutex;
  std::set<std::string, std::less<>> names;
};

class MemoryGuard final : public LeaderGuard {
 public:
  MemoryGuard(std::shared_ptr<Held> held, std::string name) : held_(std::move(held)), name_(std::move(name)) {}
  ~MemoryGuard() override {
    std::lock_guard lock(held_->mutex);
    held_->names.erase(name_);
  }
  bool held() override { return true; }

 private:
  std::shared_ptr<Held> held_;  // outlives the Leadership if the guard does
  std::string name_;
};

class MemoryLeadership final : public Leadership {
 public:
  Result<std::unique_ptr<LeaderGuard>> try_acquire(std::string_view name) override {
    std::lock_guard lock(held_->mutex);
    if (!held_->names.emplace(name).second) return std::unique_ptr<LeaderGuard>{};
    return std::unique_ptr<LeaderGuard>(std::make_unique<MemoryGuard>(held_, std::string(name)));
  }

 private:
  std::shared_ptr<Held> held_ = std::make_shared<Held>();
};

}  // namespace

std::shared_ptr<Leadership> memory_leadership() { return std::make_shared<MemoryLeadership>(); }

}  // namespace eventcore::projections
