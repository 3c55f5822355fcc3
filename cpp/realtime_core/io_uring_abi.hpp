// The few io_uring kernel ABI definitions the raw io_uring backend needs.
//
// Declared here instead of taken from <linux/io_uring.h> so that the library
// builds against old kernel headers (manylinux images ship 3.10/4.18 headers,
// which predate io_uring); the ABI is stable and the sizes are checked below.
// Whether the running kernel supports it is decided at run time (setup and a
// self-test), never at build time.
#pragma once

#include <cstdint>

namespace si::rt::uring {

struct SqringOffsets {
  std::uint32_t head, tail, ring_mask, ring_entries, flags, dropped, array, resv1;
  std::uint64_t user_addr;
};
struct CqringOffsets {
  std::uint32_t head, tail, ring_mask, ring_entries, overflow, cqes, flags, resv1;
  std::uint64_t user_addr;
};
struct Params {
  std::uint32_t sq_entries, cq_entries, flags, sq_thread_cpu, sq_thread_idle, features, wq_fd, resv[3];
  SqringOffsets sq_off;
  CqringOffsets cq_off;
};
struct Sqe {
  std::uint8_t opcode;
  std::uint8_t flags;
  std::uint16_t ioprio;
  std::int32_t fd;
  std::uint64_t off;
  std::uint64_t addr;
  std::uint32_t len;
  std::uint32_t op_flags;  // timeout_flags for IORING_OP_TIMEOUT
  std::uint64_t user_data;
  std::uint16_t buf_index;
  std::uint16_t personality;
  std::int32_t splice_fd_in;
  std::uint64_t addr3;
  std::uint64_t pad2;
};
struct Cqe {
  std::uint64_t user_data;
  std::int32_t res;
  std::uint32_t flags;
};
struct KernelTimespec {
  std::int64_t tv_sec;
  long long tv_nsec;
};

static_assert(sizeof(Params) == 120, "io_uring_params is 120 bytes");
static_assert(sizeof(Sqe) == 64, "io_uring_sqe is 64 bytes");
static_assert(sizeof(Cqe) == 16, "io_uring_cqe is 16 bytes");
static_assert(sizeof(KernelTimespec) == 16, "__kernel_timespec is 16 bytes");

constexpr std::uint64_t kOffSqRing = 0;
constexpr std::uint64_t kOffCqRing = 0x8000000ULL;
constexpr std::uint64_t kOffSqes = 0x10000000ULL;
constexpr unsigned kEnterGetEvents = 1u << 0;
constexpr std::uint32_t kFeatSingleMmap = 1u << 0;
constexpr std::uint8_t kOpTimeout = 11;
constexpr std::uint32_t kTimeoutAbs = 1u << 0;

// System call numbers: the same on every architecture (added in Linux 5.1).
constexpr long kSysSetup = 425;
constexpr long kSysEnter = 426;

}  // namespace si::rt::uring
