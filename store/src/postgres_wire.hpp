#pragma once

// PostgreSQL's binary wire formats for the few types the store exchanges, so
// that parameters are sent and results read without text escaping or parsing.

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "eventcore/store/event.hpp"

namespace eventcore::pg {

// Type oids of built-in types (fixed since PostgreSQL 9.x).
inline constexpr unsigned int oid_bytea = 17;
inline constexpr unsigned int oid_int8 = 20;
inline constexpr unsigned int oid_int4 = 23;
inline constexpr unsigned int oid_text = 25;
inline constexpr unsigned int oid_uuid = 2950;
inline constexpr unsigned int oid_jsonb = 3802;

inline void put_u32(std::string& out, std::uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 4);
}
inline void put_u64(std::string& out, std::uint64_t v) {
  put_u32(out, static_cast<std::uint32_t>(v >> 32));
  put_u32(out, static_cast<std::uint32_t>(v));
}
inline std::uint32_t get_u32(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
         std::uint32_t{b[3]};
}
inline std::uint64_t get_u64(const char* p) {
  return (std::uint64_t{get_u32(p)} << 32) | get_u32(p + 4);
}

// Binary-format parameters for PQexecPrepared. Values live in one buffer that
// is reused between calls; pointers are taken only once every value is added.
class Params {
 public:
  void clear() {
    buffer_.clear();
    spans_.clear();
  }
  // The next parameter's bytes are what is appended to buffer() until the
  // matching end(); begin()/end() bracket one parameter.
  std::string& begin() {
    spans_.push_back({buffer_.size(), 0, false});
    return buffer_;
  }
  void end() { spans_.back().length = buffer_.size() - spans_.back().offset; }
  void add_null() { spans_.push_back({buffer_.size(), 0, true}); }
  void add_bytes(std::string_view bytes) {
    begin().append(bytes);
    end();
  }
  void add_int8(std::int64_t v) {
    put_u64(begin(), static_cast<std::uint64_t>(v));
    end();
  }
  void add_int4(std::int32_t v) {
    put_u32(begin(), static_cast<std::uint32_t>(v));
    end();
  }

  int count() const { return static_cast<int>(spans_.size()); }
  // Fills the arrays PQexecPrepared takes; valid until the next change.
  void finish();
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  struct Span {
    std::size_t offset;
    std::size_t length;
    bool null;
  };
  std::string buffer_;
  std::vector<Span> spans_;
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// Writes a one-dimensional binary array: header(), then one element per
// element()/null_element() call, then finish() patches the counts in.
class ArrayWriter {
 public:
  ArrayWriter(std::string& out, unsigned int element_oid) : out_(out), start_(out.size()) {
    put_u32(out_, 1);  // dimensions (rewritten to 0 when empty)
    put_u32(out_, 0);  // has nulls
    put_u32(out_, element_oid);
    put_u32(out_, 0);  // length
    put_u32(out_, 1);  // lower bound
  }
  void element(std::string_view bytes) {
    put_u32(out_, static_cast<std::uint32_t>(bytes.size()));
    out_.append(bytes);
    ++count_;
  }
  void element(const void* data, std::size_t size) {
    element(std::string_view(static_cast<const char*>(data), size));
  }
  void element_int8(std::int64_t v) {
    put_u32(out_, 8);
    put_u64(out_, static_cast<std::uint64_t>(v));
    ++count_;
  }
  void element_int4(std::int32_t v) {
    put_u32(out_, 4);
    put_u32(out_, static_cast<std::uint32_t>(v));
    ++count_;
  }
  void null_element() {
    put_u32(out_, 0xffffffffu);
    has_null_ = true;
    ++count_;
  }
  void finish();

 private:
  std::string& out_;
  std::size_t start_;
  std::uint32_t count_ = 0;
  bool has_null_ = false;
};

// Reads a one-dimensional binary int8 array into `out`; false when malformed.
bool read_int8_array(const char* data, int length, std::vector<std::int64_t>& out);

// The metadata key/values as the text of a JSON object ("" when empty), and back.
std::string encode_extra(const std::map<std::string, std::string>& extra);
bool decode_extra(std::string_view json, std::map<std::string, std::string>& extra);

// Microseconds since 2000-01-01 (PostgreSQL's timestamp epoch) as a Timestamp.
Timestamp timestamp_from_pg(std::int64_t micros);

}  // namespace eventcore::pg
