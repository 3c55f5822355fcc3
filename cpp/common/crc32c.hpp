// CRC-32C (Castagnoli), the checksum of saved files. Uses the SSE4.2 crc32
// instruction when the CPU has it (crc32c_sse42.cpp), a table otherwise.
#pragma once

#include <cstddef>
#include <cstdint>

namespace si {

// Continues a running checksum: crc32c(b, n2, crc32c(a, n1)) == crc32c(a ++ b).
std::uint32_t crc32c(const void* data, std::size_t n, std::uint32_t crc = 0);

namespace detail {
std::uint32_t crc32c_table(const void* data, std::size_t n, std::uint32_t crc);
std::uint32_t crc32c_sse42(const void* data, std::size_t n, std::uint32_t crc);
}  // namespace detail

}  // namespace si
