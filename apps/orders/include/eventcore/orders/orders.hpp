#pragma once

// The orders example: an approver approves an order within their limit, and
// approving reserves stock for every line. ApproveOrder declares the order
// and approver streams; the inventory streams come from the order's lines,
// so it discovers them from state (read_more).

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <cereal/cereal.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "eventcore/actors/command.hpp"

namespace eventcore::orders {

StreamId order_stream(const std::string& order);
StreamId approver_stream(const std::string& approver);
StreamId inventory_stream(const std::string& sku);

struct Line {
  std::string sku;
  std::int64_t quantity = 0;
  std::int64_t unit_cents = 0;
  template <class Archive> void serialize(Archive& ar) { ar(CEREAL_NVP(sku), CEREAL_NVP(quantity), CEREAL_NVP(unit_cents)); }
};

struct OrderPlaced {
  static constexpr std::string_view event_type = "OrderPlaced";
  std::string order;
  std::vector<Line> lines;
  template <class Archive> void serialize(Archive& ar) { ar(CEREAL_NVP(order), CEREAL_NVP(lines)); }
};
struct OrderApproved {
  static constexpr std::string_view event_type = "OrderApproved";
  std::string order, approver;
  template <class Archive> void serialize(Archive& ar) { ar(CEREAL_NVP(order), CEREAL_NVP(approver)); }
};
struct ApproverRegistered {
  static constexpr std::string_view event_type = "ApproverRegistered";
  std::string approver;
  std::int64_t limit_cents = 0;
  template <class Archive> void serialize(Archive& ar) { ar(CEREAL_NVP(approver), CEREAL_NVP(limit_cents)); }
};
struct StockAdded {
  static constexpr std::string_view event_type = "StockAdded";
  std::string sku;
  std::int64_t quantity = 0;
  template <class Archive> void serialize(Archive& ar) { ar(CEREAL_NVP(sku), CEREAL_NVP(quantity)); }
};
struct StockReserved {
  static constexpr std::string_view event_type = "StockReserved";
  std::string sku, order;
  std::int64_t quantity = 0;
  template <class Archive> void serialize(Archive& ar) { ar(CEREAL_NVP(sku), CEREAL_NVP(order), CEREAL_NVP(quantity)); }
};

using Event = std::variant<OrderPlaced, OrderApproved, ApproverRegistered, StockAdded, StockReserved>;

// The state of one stream of the orders domain: an order, an approver or an
// inventory item (each command reads whichever kinds it declares).
struct OrdersStream {
  static constexpr std::string_view snapshot_type = "orders.OrdersStream";
  static constexpr std::uint32_t snapshot_schema = 1;
  bool placed = false;  // order
  std::vector<Line> lines;
  bool approved = false;
  std::optional<std::int64_t> approver_limit;  // approver: registered with this limit
  std::int64_t stock = 0;                      // inventory
  void apply(const Event& event);
  template <class Archive> void serialize(Archive& ar) { ar(placed, lines, approved, approver_limit, stock); }
};

struct PlaceOrder {
  using Event = orders::Event;
  using State = PerStream<OrdersStream>;
  static constexpr std::string_view command_type = "PlaceOrder";
  std::string order;
  std::vector<Line> lines;
  std::vector<StreamId> streams() const { return {order_stream(order)}; }
  Decision<Event> handle(const State& state) const;
};

struct RegisterApprover {
  using Event = orders::Event;
  using State = PerStream<OrdersStream>;
  static constexpr std::string_view command_type = "RegisterApprover";
  std::string approver;
  std::int64_t limit_cents = 0;
  std::vector<StreamId> streams() const { return {approver_stream(approver)}; }
  Decision<Event> handle(const State& state) const;
};

struct AddStock {
  using Event = orders::Event;
  using State = PerStream<OrdersStream>;
  static constexpr std::string_view command_type = "AddStock";
  std::string sku;
  std::int64_t quantity = 0;
  std::vector<StreamId> streams() const { return {inventory_stream(sku)}; }
  Decision<Event> handle(const State& state) const;
};

struct ApproveOrder {
  using Event = orders::Event;
  using State = PerStream<OrdersStream>;
  static constexpr std::string_view command_type = "ApproveOrder";
  std::string order, approver;
  std::vector<StreamId> streams() const { return {order_stream(order), approver_stream(approver)}; }
  Decision<Event> handle(const State& state) const;
};

}  // namespace eventcore::orders
