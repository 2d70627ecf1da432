#include "eventcore/orders/orders.hpp"

namespace eventcore::orders {

StreamId order_stream(const std::string& order) { return StreamId::try_new("order-" + order).value(); }
StreamId approver_stream(const std::string& approver) { return StreamId::try_new("approver-" + approver).value(); }
StreamId inventory_stream(const std::string& sku) { return StreamId::try_new("inventory-" + sku).value(); }

void OrdersState::stream_read(const StreamId& stream) {
  constexpr std::string_view prefix = "inventory-";
  if (stream.starts_with(prefix)) stock.try_emplace(stream.str().substr(prefix.size()), 0);
}

void OrdersState::apply(const StreamId& stream, const Event& event) {
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, OrderPlaced>) orders[e.order].lines = e.lines;
        if constexpr (std::is_same_v<T, OrderApproved>) orders[e.order].approved = true;
        if constexpr (std::is_same_v<T, ApproverRegistered>) approver_limits[e.approver] = e.limit_cents;
        // Stock is known (possibly zero) for every inventory stream read.
        if constexpr (std::is_same_v<T, StockAdded>) stock[e.sku] += e.quantity;
        if constexpr (std::is_same_v<T, StockReserved>) stock[e.sku] -= e.quantity;
      },
      event);
  (void)stream;
}

Decision<Event> PlaceOrder::handle(const State& state) const {
  if (state.orders.contains(order)) return reject("order " + order + " already exists");
  if (lines.empty()) return reject("order " + order + " has no lines");
  for (const auto& line : lines)
    if (line.quantity <= 0) return reject("order " + order + ": quantity of " + line.sku + " must be positive");
  return {{order_stream(order), OrderPlaced{order, lines}}};
}

Decision<Event> RegisterApprover::handle(const State& state) const {
  if (state.approver_limits.contains(approver)) return reject("approver " + approver + " is already registered");
  return {{approver_stream(approver), ApproverRegistered{approver, limit_cents}}};
}

Decision<Event> AddStock::handle(const State&) const {
  if (quantity <= 0) return reject("stock added must be positive");
  return {{inventory_stream(sku), StockAdded{sku, quantity}}};
}

Decision<Event> ApproveOrder::handle(const State& state) const {
  auto it = state.orders.find(order);
  if (it == state.orders.end()) return reject("order " + order + " does not exist");
  if (it->second.approved) return reject("order " + order + " is already approved");
  auto limit = state.approver_limits.find(approver);
  if (limit == state.approver_limits.end()) return reject("approver " + approver + " is not registered");
  std::int64_t total = 0;
  for (const auto& line : it->second.lines) total += line.quantity * line.unit_cents;
  if (total > limit->second)
    return reject("order " + order + " totals " + std::to_string(total) + " cents, above approver " + approver +
                  "'s limit of " + std::to_string(limit->second));
  // Inventory streams come from the order's lines: ask for the ones not read yet.
  std::vector<StreamId> unread;
  for (const auto& line : it->second.lines)
    if (!state.stock.contains(line.sku)) unread.push_back(inventory_stream(line.sku));
  if (!unread.empty()) return read_more(std::move(unread));
  std::vector<Emit<Event>> out{{order_stream(order), OrderApproved{order, approver}}};
  for (const auto& line : it->second.lines) {
    if (state.stock.at(line.sku) < line.quantity)
      return reject("not enough " + line.sku + " in stock for order " + order + ": " +
                    std::to_string(state.stock.at(line.sku)) + " left, " + std::to_string(line.quantity) + " needed");
    out.push_back({inventory_stream(line.sku), StockReserved{line.sku, order, line.quantity}});
  }
  return out;
}

}  // namespace eventcore::orders
