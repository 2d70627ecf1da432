#include "postgres_wire.hpp"

#include <nlohmann/json.hpp>

namespace eventcore::pg {

void Params::finish() {
  values_.resize(spans_.size());
  lengths_.resize(spans_.size());
  formats_.assign(spans_.size(), 1);
  for (std::size_t i = 0; i < spans_.size(); ++i) {
    values_[i] = spans_[i].null ? nullptr : buffer_.data() + spans_[i].offset;
    lengths_[i] = static_cast<int>(spans_[i].length);
  }
}

void ArrayWriter::finish() {
  auto patch = [&](std::size_t at, std::uint32_t v) {
    std::string bytes;
    put_u32(bytes, v);
    out_.replace(at, 4, bytes);
  };
  if (count_ == 0) {
    // PostgreSQL writes an empty array as zero dimensions and no bounds.
    out_.resize(start_ + 12);
    patch(start_, 0);
    return;
  }
  patch(start_ + 4, has_null_ ? 1 : 0);
  patch(start_ + 12, count_);
}

bool read_int8_array(const char* data, int length, std::vector<std::int64_t>& out) {
  out.clear();
  if (length < 12) return false;
  const std::uint32_t dims = get_u32(data);
  if (dims == 0) return true;
  if (dims != 1 || length < 20) return false;
  const std::uint32_t n = get_u32(data + 12);
  if (static_cast<std::size_t>(length) < 20 + std::size_t{n} * 12) return false;
  out.reserve(n);
  const char* p = data + 20;
  for (std::uint32_t i = 0; i < n; ++i, p += 12) {
    if (get_u32(p) != 8) return false;
    out.push_back(static_cast<std::int64_t>(get_u64(p + 4)));
  }
  return true;
}

std::string encode_extra(const std::map<std::string, std::string>& extra) {
  if (extra.empty()) return {};
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [key, value] : extra) object[key] = value;
  // Invalid UTF-8 is replaced rather than thrown on: metadata is advisory.
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool decode_extra(std::string_view json, std::map<std::string, std::string>& extra) {
  extra.clear();
  auto object = nlohmann::json::parse(json, nullptr, false);
  if (!object.is_object()) return false;
  for (const auto& [key, value] : object.items())
    extra.emplace(key, value.is_string() ? value.get<std::string>() : value.dump());
  return true;
}

Timestamp timestamp_from_pg(std::int64_t micros) {
  constexpr std::int64_t pg_epoch_unix_micros = 946'684'800LL * 1'000'000;
  return Timestamp{std::chrono::microseconds{micros + pg_epoch_unix_micros}};
}

}  // namespace eventcore::pg
