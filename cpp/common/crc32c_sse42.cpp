// CRC-32C with the SSE4.2 crc32 instruction. Compiled with -msse4.2 only.
#include <nmmintrin.h>

#include <cstring>

#include "common/crc32c.hpp"

namespace si::detail {

std::uint32_t crc32c_sse42(const void* data, std::size_t n, std::uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t c = ~crc;
  while (n >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    c = _mm_crc32_u64(c, w);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<std::uint32_t>(c);
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}

}  // namespace si::detail
