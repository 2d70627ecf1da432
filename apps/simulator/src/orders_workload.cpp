// The orders example under simulation: approvers with limits, stock per
// SKU, orders placed and approved (ApproveOrder declares the order and the
// approver, which it only reads, and discovers the inventory streams from
// the order's lines). A foreign writer changes approvers' limits and adds
// stock.
//
// Domain invariants, folding the log in global order: stock never negative;
// an order is approved at most once, by an approver whose limit (as of that
// moment in the log) covers its total, together with one reservation per
// line in the same transaction.

#include <map>
#include <set>

#include "eventcore/orders/orders.hpp"
#include "eventcore/sim_examples/workloads.hpp"

namespace eventcore::sim_examples {
namespace {

using namespace simulation;
using namespace orders;

std::optional<std::string> suffix(const StreamId& stream, std::string_view prefix) {
  if (!stream.starts_with(prefix)) return std::nullopt;
  return stream.str().substr(prefix.size());
}
bool ours(const StoredEvent& e) {
  return e.stream.starts_with("order-") || e.stream.starts_with("approver-") || e.stream.starts_with("inventory-");
}

class OrdersProjection final : public Projection {
 public:
  void apply(const StoredEvent& stored) override {
    if (!ours(stored)) return;
    auto event = EventCodec<orders::Event>::decode(stored);
    if (!event) return;
    std::visit(
        [&](const auto& e) {
          using T = std::decay_t<decltype(e)>;
          if constexpr (std::is_same_v<T, StockAdded>) stock_[e.sku] += e.quantity;
          if constexpr (std::is_same_v<T, StockReserved>) stock_[e.sku] -= e.quantity;
          if constexpr (std::is_same_v<T, OrderApproved>) approved_.insert(e.order);
        },
        *event);
  }
  std::string digest() const override {
    std::string out = "orders";
    for (const auto& [sku, n] : stock_) out += " " + sku + "=" + std::to_string(n);
    out += " approved";
    for (const auto& o : approved_) out += " " + o;
    return out;
  }

 private:
  std::map<std::string, std::int64_t> stock_;
  std::set<std::string> approved_;
};

class OrdersWorkload final : public Workload {
 public:
  std::string name() const override { return "orders"; }

  void setup(SimRandom& rng) override {
    approvers_ = static_cast<int>(rng.between(1, 3));
    skus_ = static_cast<int>(rng.between(1, 4));
  }

  std::optional<CommandSpec> initial_command(std::uint64_t, SimRandom& rng) override {
    if (setup_done_ < approvers_) {
      const std::string a = "ap" + std::to_string(setup_done_++);
      const auto limit = rng.between(500, 5000);
      return CommandSpec::of(RegisterApprover{a, limit}, "RegisterApprover " + a + " " + std::to_string(limit));
    }
    if (setup_done_ < approvers_ + skus_) {
      const std::string sku = "sku" + std::to_string(setup_done_++ - approvers_);
      const auto quantity = rng.between(1, 20);
      return CommandSpec::of(AddStock{sku, quantity}, "AddStock " + sku + " " + std::to_string(quantity));
    }
    return std::nullopt;
  }

  CommandSpec next_command(std::uint64_t id, SimRandom& rng) override {
    const auto roll = rng.below(10);
    auto sku = [&] { return "sku" + std::to_string(rng.below(static_cast<std::uint64_t>(skus_))); };
    if (roll < 3 || placed_.empty()) {
      const std::string order = "o" + std::to_string(id);
      std::vector<Line> lines;
      const auto n = rng.between(rng.chance(0.03) ? 0 : 1, 3);
      for (std::int64_t i = 0; i < n; ++i) lines.push_back({sku(), rng.between(1, 5), rng.between(50, 800)});
      // Distinct SKUs per order keep "one reservation per line" simple to check.
      std::map<std::string, Line> distinct;
      for (auto& l : lines) distinct.try_emplace(l.sku, l);
      lines.clear();
      for (auto& [s, l] : distinct) lines.push_back(l);
      placed_.push_back(order);
      return CommandSpec::of(PlaceOrder{order, lines}, "PlaceOrder " + order + " lines=" + std::to_string(lines.size()));
    }
    if (roll < 8) {
      const auto& order = rng.pick(placed_);
      const std::string approver = "ap" + std::to_string(rng.below(static_cast<std::uint64_t>(approvers_ + 1)));
      return CommandSpec::of(ApproveOrder{order, approver}, "ApproveOrder " + order + " by " + approver);
    }
    const std::string s = sku();
    const auto quantity = rng.chance(0.05) ? 0 : rng.between(1, 10);
    return CommandSpec::of(AddStock{s, quantity}, "AddStock " + s + " " + std::to_string(quantity));
  }

  std::optional<EventToWrite> foreign_event(const StreamId& stream, const std::vector<StoredEvent>& events,
                                            SimRandom& rng) override {
    if (events.empty()) return std::nullopt;
    if (auto approver = suffix(stream, "approver-"))
      return EventCodec<orders::Event>::encode(ApproverRegistered{*approver, rng.between(100, 5000)});
    if (auto sku = suffix(stream, "inventory-"))
      return EventCodec<orders::Event>::encode(StockAdded{*sku, rng.between(1, 5)});
    return std::nullopt;
  }

  std::unique_ptr<Projection> make_projection() const override { return std::make_unique<OrdersProjection>(); }

  void check(const RunView& run, Checker& check) const override {
    std::map<std::string, std::int64_t> stock, limits;
    std::map<std::string, std::vector<Line>> orders;
    std::set<std::string> approved;
    // Reservations per (transaction, order): filled in a first pass.
    std::map<std::pair<std::uint64_t, std::string>, std::map<std::string, std::int64_t>> reserved;
    for (const auto& stored : run.log) {
      if (!ours(stored)) continue;
      auto event = EventCodec<orders::Event>::decode(stored);
      if (event)
        if (auto* r = std::get_if<StockReserved>(&*event)) reserved[{stored.position.transaction, r->order}][r->sku] += r->quantity;
    }
    for (const auto& stored : run.log) {
      if (!ours(stored)) continue;
      auto event = EventCodec<orders::Event>::decode(stored);
      if (!event) {
        check.fail("events decode", to_string(event.error()));
        continue;
      }
      std::visit(
          [&](const auto& e) {
            using T = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<T, ApproverRegistered>) limits[e.approver] = e.limit_cents;
            if constexpr (std::is_same_v<T, OrderPlaced>) orders[e.order] = e.lines;
            if constexpr (std::is_same_v<T, StockAdded>) stock[e.sku] += e.quantity;
            if constexpr (std::is_same_v<T, StockReserved>) {
              stock[e.sku] -= e.quantity;
              if (stock[e.sku] < 0)
                check.fail("stock never negative", e.sku + " went to " + std::to_string(stock[e.sku]) + " at " +
                                                       to_string(stored.position));
            }
            if constexpr (std::is_same_v<T, OrderApproved>) {
              if (!approved.insert(e.order).second)
                check.fail("an order is approved once", "order " + e.order + " approved again at " + to_string(stored.position));
              std::int64_t total = 0;
              std::map<std::string, std::int64_t> want;
              for (const auto& line : orders[e.order]) {
                total += line.quantity * line.unit_cents;
                want[line.sku] += line.quantity;
              }
              if (total > limits[e.approver])
                check.fail("approvals within the approver's limit",
                           "order " + e.order + " (" + std::to_string(total) + " cents) approved by " + e.approver +
                               " whose limit was " + std::to_string(limits[e.approver]) + " at " + to_string(stored.position));
              if (reserved[{stored.position.transaction, e.order}] != want)
                check.fail("approval reserves every line", "order " + e.order + " approved at " +
                                                               to_string(stored.position) + " without its reservations");
            }
          },
          *event);
    }
  }

 private:
  int approvers_ = 1, skus_ = 1, setup_done_ = 0;
  std::vector<std::string> placed_;
};

}  // namespace

std::unique_ptr<Workload> make_orders_workload() { return std::make_unique<OrdersWorkload>(); }

}  // namespace eventcore::sim_examples
