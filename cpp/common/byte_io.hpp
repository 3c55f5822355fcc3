// The byte writer and reader behind every saved state (bandit, vector index):
// little-endian scalars and arrays into a growing buffer, and a reader whose
// every read is bounds-checked and throws si::CorruptFile with the caller's
// message instead of reading past the end. The atomic file layer
// (common/atomic_file.hpp) adds the header, version and checksum around it.
//
// On little-endian machines (all supported ones) a scalar or an array is one
// memcpy; a big-endian build swaps bytes so that files stay portable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/errors.hpp"

namespace si {

namespace byte_io_detail {

#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
constexpr bool kBigEndian = true;
#else
constexpr bool kBigEndian = false;
#endif

template <class T>
void reverse_bytes(T& v) {
  auto* b = reinterpret_cast<unsigned char*>(&v);
  for (std::size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
}

template <class T>
constexpr void require_scalar() {
  static_assert(std::is_arithmetic<T>::value || std::is_enum<T>::value,
                "byte_io reads and writes arithmetic scalars (and arrays of them) only");
}

}  // namespace byte_io_detail

class ByteWriter {
 public:
  template <class T>
  void put(T v) {
    byte_io_detail::require_scalar<T>();
    if (byte_io_detail::kBigEndian) byte_io_detail::reverse_bytes(v);
    bytes(&v, sizeof v);
  }

  // n scalars, without a length.
  template <class T>
  void array(const T* p, std::size_t n) {
    byte_io_detail::require_scalar<T>();
    if (!byte_io_detail::kBigEndian) {
      bytes(p, n * sizeof(T));
      return;
    }
    for (std::size_t i = 0; i < n; ++i) put(p[i]);
  }
  template <class T>
  void array(const std::vector<T>& v) {
    array(v.data(), v.size());
  }

  // A u64 length, then the scalars.
  template <class T>
  void vec(const std::vector<T>& v) {
    put<std::uint64_t>(v.size());
    array(v);
  }

  void bytes(const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    buf_.insert(buf_.end(), b, b + n);
  }

  std::size_t size() const { return buf_.size(); }
  // For writers that append to a byte vector themselves.
  std::vector<unsigned char>& buffer() { return buf_; }
  std::vector<unsigned char> take() { return std::move(buf_); }

 private:
  std::vector<unsigned char> buf_;
};

class ByteReader {
 public:
  // `truncated` is the CorruptFile message of a read past the end.
  ByteReader(const unsigned char* data, std::size_t n, std::string truncated)
      : p_(data), n_(n), truncated_(std::move(truncated)) {}

  template <class T>
  T get() {
    byte_io_detail::require_scalar<T>();
    T v;
    std::memcpy(&v, bytes(sizeof v), sizeof v);
    if (byte_io_detail::kBigEndian) byte_io_detail::reverse_bytes(v);
    return v;
  }

  // out = the next n scalars (n is checked against what is left before any
  // allocation, so a forged count cannot allocate more than the payload holds).
  template <class T>
  void array(std::vector<T>& out, std::uint64_t n) {
    byte_io_detail::require_scalar<T>();
    if (n > remaining() / sizeof(T)) throw CorruptFile(truncated_);
    out.resize(static_cast<std::size_t>(n));
    std::memcpy(out.data(), bytes(out.size() * sizeof(T)), out.size() * sizeof(T));
    if (byte_io_detail::kBigEndian)
      for (T& v : out) byte_io_detail::reverse_bytes(v);
  }

  // The next n bytes, in place.
  const unsigned char* bytes(std::size_t n) {
    if (n > n_ - pos_) throw CorruptFile(truncated_);
    const unsigned char* p = p_ + pos_;
    pos_ += n;
    return p;
  }

  // Where the next read starts (for parsers that take a pointer and return
  // what they used; skip it with bytes(used)).
  const unsigned char* cursor() const { return p_ + pos_; }
  std::size_t remaining() const { return n_ - pos_; }
  std::size_t position() const { return pos_; }
  bool done() const { return pos_ == n_; }

 private:
  const unsigned char* p_;
  std::size_t n_;
  std::size_t pos_ = 0;
  std::string truncated_;
};

}  // namespace si
