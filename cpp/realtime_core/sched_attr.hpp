// struct sched_attr of sched_setattr(2) / sched_getattr(2), first version
// (SCHED_ATTR_SIZE_VER0), declared here because not every libc ships it and
// <linux/sched/types.h> clashes with <sched.h>.
#pragma once

#include <cstdint>

namespace si::rt {

struct SchedAttr {
  std::uint32_t size;
  std::uint32_t sched_policy;
  std::uint64_t sched_flags;
  std::int32_t sched_nice;
  std::uint32_t sched_priority;
  std::uint64_t sched_runtime;  // SCHED_DEADLINE runtime; the custom slice of a fair task (Linux >= 6.12)
  std::uint64_t sched_deadline;
  std::uint64_t sched_period;
};

}  // namespace si::rt
