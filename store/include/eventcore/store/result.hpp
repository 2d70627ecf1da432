#pragma once

#include <cassert>
#include <utility>
#include <variant>

#include "eventcore/store/error.hpp"

namespace eventcore {

// A value or an Error. Errors are values in this library: nothing throws
// across the store interface or an actor boundary.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : data_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const noexcept { return data_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(data_); }
  const T& value() const& { assert(ok()); return std::get<0>(data_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& { assert(!ok()); return std::get<1>(data_); }
  Error&& error() && { assert(!ok()); return std::get<1>(std::move(data_)); }

 private:
  std::variant<T, Error> data_;
};

// Success or an Error, for operations that return nothing.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), failed_(true) {}

  bool ok() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return ok(); }
  const Error& error() const& { assert(failed_); return error_; }

 private:
  Error error_{ErrorCode::failed, {}};
  bool failed_ = false;
};

}  // namespace eventcore
