// The writer of the shared rate state (layout and C reader: rate_state.h).
//
// A RateStateWriter owns one named POSIX shared-memory block. The timer or
// scheduler task it is attached to calls publish() after every tick, from the
// one thread that completes ticks; readers in any process see consistent
// snapshots through the seqlock. Closing marks the block closed and unlinks
// the name (readers that have it mapped keep reading the last snapshot).
#pragma once

#include <cstdint>
#include <string>

#include "realtime_core/rate_state.h"

namespace si {
class LatencyHistogram;
}

namespace si::rt {

struct Period;
struct Tick;
struct TimerStats;

// Throws std::invalid_argument naming the rule a name breaks.
std::string rate_state_shm_name(const std::string& name);
// Throws the library's error for a reader status (IoError for ENOENT/EIO,
// WrongFileKind, UnsupportedVersion, CorruptFile, Error for EBUSY).
[[noreturn]] void throw_rate_state_error(int status, const std::string& name, int sys_errno);

class RateStateWriter {
 public:
  // Creates the block, or takes over one of the same layout whose writer is
  // gone or closed it. Refuses (with the reason) a block of another layout,
  // or one whose writer process still runs and has not closed it.
  explicit RateStateWriter(const std::string& name);
  ~RateStateWriter();
  RateStateWriter(const RateStateWriter&) = delete;
  RateStateWriter& operator=(const RateStateWriter&) = delete;

  // The schedule before the first tick: rate, period and first deadline.
  void announce(const Period& period, std::int64_t next_deadline_ns);
  // One seqlock write of the whole payload (one writer thread at a time).
  void publish(const Tick& tick, const TimerStats& stats, const Period& period, std::int64_t next_deadline_ns);
  // Marks the block closed and removes its name (if still ours). Idempotent.
  void close();
  const std::string& name() const { return name_; }

 private:
  void write_begin();
  void write_end();

  std::string name_;
  si_rate_state_block* block_ = nullptr;
  bool closed_ = false;
};

// A read-only mapping of a block (the C reader of rate_state.h, with errors
// as exceptions). read() is wait-free for the writer and lock-free here.
class RateStateReader {
 public:
  // Throws IoError(ENOENT) when no block has this name, WrongFileKind,
  // UnsupportedVersion or CorruptFile for a block of another layout.
  explicit RateStateReader(const std::string& name);
  ~RateStateReader() { close(); }
  RateStateReader(const RateStateReader&) = delete;
  RateStateReader& operator=(const RateStateReader&) = delete;

  // One consistent snapshot; throws si::Error if the block never settles
  // (its writer died in the middle of a write).
  si_rate_snapshot read() const;
  // Whether nobody writes the block any more: closed by its writer, writer
  // process gone, or no write for max_age_ns (<= 0: max(3 periods, 100 ms),
  // or 1 s before the first tick).
  bool stale(std::int64_t max_age_ns = 0) const;
  bool writer_alive() const;
  std::int64_t created_ns() const;
  void close();
  bool closed() const { return r_.block == nullptr; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  si_rate_state_reader r_{};
};

// Removes the name of a block (a stale one, say); false if there was none.
bool unlink_rate_state(const std::string& name);

}  // namespace si::rt
