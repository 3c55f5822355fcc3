#include "common/crc32c.hpp"

#include <array>
#include <cstring>

#include "common/cpu_features.hpp"

namespace si {
namespace detail {
namespace {

constexpr std::uint32_t kPoly = 0x82F63B78u;  // reflected Castagnoli polynomial

std::array<std::array<std::uint32_t, 256>, 8> make_tables() {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (kPoly & (0u - (c & 1u)));
    t[0][i] = c;
  }
  for (std::uint32_t i = 0; i < 256; ++i)
    for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  return t;
}

}  // namespace

// Slicing-by-8 (little-endian hosts only, see the static_assert in atomic_file.cpp).
std::uint32_t crc32c_table(const void* data, std::size_t n, std::uint32_t crc) {
  static const auto t = make_tables();
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    w ^= crc;
    crc = t[7][w & 0xFF] ^ t[6][(w >> 8) & 0xFF] ^ t[5][(w >> 16) & 0xFF] ^
          t[4][(w >> 24) & 0xFF] ^ t[3][(w >> 32) & 0xFF] ^ t[2][(w >> 40) & 0xFF] ^
          t[1][(w >> 48) & 0xFF] ^ t[0][w >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xFF];
  return ~crc;
}

}  // namespace detail

std::uint32_t crc32c(const void* data, std::size_t n, std::uint32_t crc) {
#if defined(SUPERINSTANCE_X86_KERNELS)
  static const bool hw = simd::cpu_features().sse42;
  if (hw) return detail::crc32c_sse42(data, n, crc);
#endif
  return detail::crc32c_table(data, n, crc);
}

}  // namespace si
