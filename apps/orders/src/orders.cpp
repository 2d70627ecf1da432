#include "eventcore/orders/orders.hpp"

namespace eventcore::orders {

StreamId order_stream(const std::string& order) { return StreamId::try_new("order-" + order).value(); }
StreamId approver_stream(const std::string& approver) { return StreamId::try_new("approver-" + approver).value(); }
StreamId inventory_stream(const std::string& sku) { return StreamId::try_new("inventory-" + sku).value(); }

void OrdersStream::apply(const Event& event) {
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, OrderPlaced>) {
          placed = true;
          lines = e.lines;
        }
        if constexpr (std::is_same_v<T, OrderApproved>) approved = true;
        if constexpr (std::is_same_v<T, ApproverRegistered>) approver_limit = e.limit_cents;
        if constexpr (std::is_same_v<T, StockAdded>) stock += e.quantity;
        if constexpr (std::is_same_v<T, StockReserved>) stock -= e.quantity;
      },
      event);
}

Decision<Event> PlaceOrder::handle(const State& state) const {
  if (state[order_stream(order)].placed) return reject("order " + order + " already exists", "order_exists");
  if (lines.empty()) return reject("order " + order + " has no lines", "invalid_order");
  for (const auto& line : lines)
    if (line.quantity <= 0) return reject("order " + order + ": quantity of " + line.sku + " must be positive", "invalid_order");
  return {{order_stream(order), OrderPlaced{order, lines}}};
}

Decision<Event> RegisterApprover::handle(const State& state) const {
  if (state[approver_stream(approver)].approver_limit) return reject("approver " + approver + " is already registered", "approver_exists");
  return {{approver_stream(approver), ApproverRegistered{approver, limit_cents}}};
}

Decision<Event> AddStock::handle(const State&) const {
  if (quantity <= 0) return reject("stock added must be positive", "invalid_quantity");
  return {{inventory_stream(sku), StockAdded{sku, quantity}}};
}

Decision<Event> ApproveOrder::handle(const State& state) const {
  const auto& placed = state[order_stream(order)];
  if (!placed.placed) return reject("order " + order + " does not exist", "order_not_found");
  if (placed.approved) return reject("order " + order + " is already approved", "already_approved");
  const auto& limit = state[approver_stream(approver)].approver_limit;
  if (!limit) return reject("approver " + approver + " is not registered", "approver_not_found");
  std::int64_t total = 0;
  for (const auto& line : placed.lines) total += line.quantity * line.unit_cents;
  if (total > *limit)
    return reject("order " + order + " totals " + std::to_string(total) + " cents, above approver " + approver +
                  "'s limit of " + std::to_string(*limit),
                  "over_limit");
  // Inventory streams come from the order's lines: ask for the ones not read yet.
  std::vector<StreamId> unread;
  for (const auto& line : placed.lines)
    if (!state.contains(inventory_stream(line.sku))) unread.push_back(inventory_stream(line.sku));
  if (!unread.empty()) return read_more(std::move(unread));
  std::vector<Emit<Event>> out{{order_stream(order), OrderApproved{order, approver}}};
  for (const auto& line : placed.lines) {
    const std::int64_t stock = state[inventory_stream(line.sku)].stock;
    if (stock < line.quantity)
      return reject("not enough " + line.sku + " in stock for order " + order + ": " + std::to_string(stock) +
                    " left, " + std::to_string(line.quantity) + " needed",
                    "insufficient_stock");
    out.push_back({inventory_stream(line.sku), StockReserved{line.sku, order, line.quantity}});
  }
  return out;
}

}  // namespace eventcore::orders
