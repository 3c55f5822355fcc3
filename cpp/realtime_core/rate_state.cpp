#include "realtime_core/rate_state.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "common/errors.hpp"
#include "realtime_core/timer.hpp"

namespace si::rt {
namespace {

bool process_alive(std::int32_t pid) {
  if (pid <= 0) return false;
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

std::int64_t round_ns(double v) { return std::isfinite(v) ? static_cast<std::int64_t>(std::llround(v)) : 0; }

template <class T>
void store(T& field, T value) {
  __atomic_store_n(&field, value, __ATOMIC_RELAXED);
}

// Opens the block for writing: creates it, or reuses an existing one after checking it.
int open_for_writing(const std::string& path, const std::string& name, bool& created) {
  created = true;
  int fd = ::shm_open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd >= 0) {
    if (::ftruncate(fd, SI_RATE_STATE_SIZE) != 0) {
      const int e = errno;
      ::close(fd);
      ::shm_unlink(path.c_str());
      throw IoError(e, "rate state '" + name + "': ftruncate: " + std::strerror(e), "/dev/shm" + path);
    }
    return fd;
  }
  if (errno != EEXIST) {
    const int e = errno;
    throw IoError(e, "rate state '" + name + "': shm_open: " + std::strerror(e), "/dev/shm" + path);
  }
  created = false;
  fd = ::shm_open(path.c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) {
    const int e = errno;
    throw IoError(e, "rate state '" + name + "': shm_open: " + std::strerror(e), "/dev/shm" + path);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size != static_cast<off_t>(SI_RATE_STATE_SIZE)) {
    const auto size = static_cast<long long>(st.st_size);
    ::close(fd);
    throw CorruptFile("rate state '" + name + "' exists with " + std::to_string(size) + " bytes, not the " +
                      std::to_string(SI_RATE_STATE_SIZE) + " of layout version " +
                      std::to_string(SI_RATE_STATE_VERSION) + "; remove it (RateState.unlink) if it is stale");
  }
  return fd;
}

}  // namespace

std::string rate_state_shm_name(const std::string& name) {
  if (name.empty()) throw std::invalid_argument("rate state name is empty");
  if (name.size() > SI_RATE_STATE_NAME_MAX)
    throw std::invalid_argument("rate state name is longer than " + std::to_string(SI_RATE_STATE_NAME_MAX) +
                                " characters");
  if (name.find('\0') != std::string::npos) throw std::invalid_argument("rate state name holds a NUL character");
  char path[SI_RATE_STATE_NAME_MAX + 2];
  if (si_rate_state_shm_name(name.c_str(), path) != SI_RATE_STATE_OK)
    throw std::invalid_argument("rate state name '" + name + "' is invalid: one component, no '/' inside");
  return path;
}

void throw_rate_state_error(int status, const std::string& name, int sys_errno) {
  const std::string what = "rate state '" + name + "': " + si_rate_state_strerror(status);
  switch (status) {
    case SI_RATE_STATE_EINVAL: throw std::invalid_argument(what);
    case SI_RATE_STATE_ENOENT:
      throw IoError(ENOENT, what + " (is the writer running with publish='" + name + "'?)", "/dev/shm/" + name);
    case SI_RATE_STATE_EIO: throw IoError(sys_errno, what + ": " + std::strerror(sys_errno), "/dev/shm/" + name);
    case SI_RATE_STATE_EMAGIC: throw WrongFileKind(what);
    case SI_RATE_STATE_EVERSION:
      throw UnsupportedVersion(what + " (this build reads version " + std::to_string(SI_RATE_STATE_VERSION) + ")");
    case SI_RATE_STATE_ESIZE: throw CorruptFile(what);
    default: throw Error(what);
  }
}

RateStateWriter::RateStateWriter(const std::string& name) : name_(name) {
  const std::string path = rate_state_shm_name(name);
  bool created = false;
  const int fd = open_for_writing(path, name, created);
  void* p = ::mmap(nullptr, SI_RATE_STATE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int e = errno;
  ::close(fd);
  if (p == MAP_FAILED) throw IoError(e, "rate state '" + name + "': mmap: " + std::strerror(e), "/dev/shm" + path);
  auto* b = static_cast<si_rate_state_block*>(p);
  if (!created) {
    const int rc = si_rate_state_check_header(b, SI_RATE_STATE_SIZE);
    const bool live = rc == SI_RATE_STATE_OK && __atomic_load_n(&b->state, __ATOMIC_ACQUIRE) != SI_RATE_STATE_CLOSED &&
                      process_alive(b->writer_pid);
    if (rc != SI_RATE_STATE_OK || live) {
      const std::int32_t pid = b->writer_pid;
      ::munmap(p, SI_RATE_STATE_SIZE);
      if (rc != SI_RATE_STATE_OK) throw_rate_state_error(rc, name, 0);
      throw std::invalid_argument("rate state '" + name + "' is already published by process " +
                                  std::to_string(pid) + ", which is running");
    }
  }
  // Header (line 0) first; the magic last, so that a reader never accepts a half-made block.
  __atomic_store_n(&b->magic, std::uint64_t{0}, __ATOMIC_RELAXED);
  b->version = SI_RATE_STATE_VERSION;
  b->size = SI_RATE_STATE_SIZE;
  b->writer_pid = static_cast<std::int32_t>(::getpid());
  b->created_ns = si_rate_state_now_ns();
  block_ = b;
  write_begin();
  store(b->state, static_cast<std::uint32_t>(SI_RATE_STATE_CREATED));
  store(b->updated_ns, b->created_ns);
  write_end();
  __atomic_store_n(&b->magic, static_cast<std::uint64_t>(SI_RATE_STATE_MAGIC), __ATOMIC_RELEASE);
}

RateStateWriter::~RateStateWriter() { close(); }

void RateStateWriter::write_begin() {
  const std::uint64_t s = __atomic_load_n(&block_->seq, __ATOMIC_RELAXED);
  __atomic_store_n(&block_->seq, s | 1u, __ATOMIC_RELAXED);  // odd: writing
  __atomic_thread_fence(__ATOMIC_RELEASE);
}

void RateStateWriter::write_end() {
  const std::uint64_t s = __atomic_load_n(&block_->seq, __ATOMIC_RELAXED);
  __atomic_store_n(&block_->seq, s + 1, __ATOMIC_RELEASE);  // even again, one step further
}

void RateStateWriter::announce(const Period& period, std::int64_t next_deadline_ns) {
  if (closed_) return;
  si_rate_state_block& b = *block_;
  double rate_hz = period.rate_hz();
  write_begin();
  __atomic_store(&b.rate_hz, &rate_hz, __ATOMIC_RELAXED);
  store(b.period_ns, period.rounded_ns());
  store(b.next_emission_ns, next_deadline_ns);
  store(b.updated_ns, si_rate_state_now_ns());
  write_end();
}

void RateStateWriter::publish(const Tick& tick, const TimerStats& stats, const Period& period,
                              std::int64_t next_deadline_ns) {
  if (closed_) return;
  // Percentiles before the write section, so that readers retry as little as possible.
  const auto q = stats.lateness.percentiles({50.0, 99.0});
  const std::int64_t now = si_rate_state_now_ns();
  si_rate_state_block& b = *block_;
  write_begin();
  double rate_hz = period.rate_hz();
  __atomic_store(&b.rate_hz, &rate_hz, __ATOMIC_RELAXED);
  store(b.period_ns, period.rounded_ns());
  store(b.last_emission_ns, tick.woke_ns);
  store(b.last_deadline_ns, tick.deadline_ns);
  store(b.next_emission_ns, next_deadline_ns);
  store(b.lateness_p50_ns, round_ns(q[0]));
  store(b.lateness_p99_ns, round_ns(q[1]));
  store(b.lateness_max_ns, static_cast<std::int64_t>(stats.lateness.max()));
  store(b.ticks, stats.count);
  store(b.missed, stats.missed);
  store(b.overruns, stats.overruns);
  store(b.tick_index, tick.index);
  store(b.updated_ns, now);
  store(b.state, static_cast<std::uint32_t>(SI_RATE_STATE_RUNNING));
  write_end();
}

void RateStateWriter::close() {
  if (block_ == nullptr) return;
  write_begin();
  store(block_->state, static_cast<std::uint32_t>(SI_RATE_STATE_CLOSED));
  store(block_->updated_ns, si_rate_state_now_ns());
  write_end();
  // Remove the name only if no other process has taken the block over since.
  if (block_->writer_pid == static_cast<std::int32_t>(::getpid())) ::shm_unlink(rate_state_shm_name(name_).c_str());
  ::munmap(block_, SI_RATE_STATE_SIZE);
  block_ = nullptr;
  closed_ = true;
}

RateStateReader::RateStateReader(const std::string& name) : name_(name) {
  rate_state_shm_name(name);  // the name's rules, with the reason
  const int rc = si_rate_state_open(name.c_str(), &r_);
  if (rc != SI_RATE_STATE_OK) throw_rate_state_error(rc, name, r_.sys_errno);
}

si_rate_snapshot RateStateReader::read() const {
  if (closed()) throw Closed("RateState is closed");
  si_rate_snapshot s{};
  const int rc = si_rate_state_read(&r_, &s);
  if (rc != SI_RATE_STATE_OK) throw_rate_state_error(rc, name_, 0);
  return s;
}

bool RateStateReader::writer_alive() const {
  if (closed()) throw Closed("RateState is closed");
  return process_alive(__atomic_load_n(&r_.block->writer_pid, __ATOMIC_RELAXED));
}

std::int64_t RateStateReader::created_ns() const {
  if (closed()) throw Closed("RateState is closed");
  return r_.block->created_ns;
}

bool RateStateReader::stale(std::int64_t max_age_ns) const {
  si_rate_snapshot s{};
  if (closed()) throw Closed("RateState is closed");
  if (si_rate_state_read(&r_, &s) != SI_RATE_STATE_OK) return true;  // never settles: its writer died mid-write
  if (s.state == SI_RATE_STATE_CLOSED || !process_alive(s.writer_pid)) return true;
  if (max_age_ns <= 0)
    max_age_ns = s.state == SI_RATE_STATE_RUNNING ? std::max<std::int64_t>(3 * s.period_ns, 100'000'000) : 1'000'000'000;
  return si_rate_state_now_ns() - s.updated_ns > max_age_ns;
}

void RateStateReader::close() { si_rate_state_close(&r_); }

bool unlink_rate_state(const std::string& name) {
  const std::string path = rate_state_shm_name(name);
  if (::shm_unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  const int e = errno;
  throw IoError(e, "rate state '" + name + "': shm_unlink: " + std::strerror(e), "/dev/shm" + path);
}

}  // namespace si::rt
