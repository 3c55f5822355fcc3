/* superinstance shared rate state: layout and a header-only reader (C99 or C++).
 *
 * A timer or scheduler task created with publish="name" writes, on every tick,
 * one POSIX shared-memory block /name (on Linux the file /dev/shm/name). Any
 * process on the machine can map it read-only and read consistent snapshots
 * with a seqlock: no lock, no system call, the writer is never slowed down.
 *
 * Layout version 1: 192 bytes, little-endian, every field naturally aligned,
 * line 0 (bytes 0..63) written once, lines 1-2 (64..191) on every tick.
 *
 *   off size type  field
 *     0   8  u64   magic             0x3130455441524953 ("SIRATE01" in memory)
 *     8   4  u32   version           1
 *    12   4  u32   size              192 (bytes of the block)
 *    16   4  i32   writer_pid        process that writes the block
 *    20   4  u32   reserved0
 *    24   8  i64   created_ns        CLOCK_MONOTONIC when the writer took the block
 *    64   8  u64   seq               seqlock: odd while the writer writes
 *    72   8  f64   rate_hz           the timer's rate (1e9 / period_ns, exact period)
 *    80   8  i64   period_ns         the period rounded to whole ns
 *    88   8  i64   last_emission_ns  when the last tick was delivered (its wake-up)
 *    96   8  i64   last_deadline_ns  that tick's deadline
 *   104   8  i64   next_emission_ns  the next deadline
 *   112   8  i64   lateness_p50_ns   lateness percentiles of every tick so far
 *   120   8  i64   lateness_p99_ns
 *   128   8  i64   lateness_max_ns
 *   136   8  u64   ticks             ticks delivered
 *   144   8  u64   missed            grid deadlines dropped (policy skip)
 *   152   8  u64   overruns          ticks delivered at or after the next deadline
 *   160   8  u64   tick_index        grid index of the last tick
 *   168   8  i64   updated_ns        CLOCK_MONOTONIC (real) of the last write: the heartbeat
 *   176   4  u32   state             0 created, 1 running, 2 closed by its writer
 *   180  12  -     reserved
 *
 * Reading (any language): load seq (acquire); if odd, retry; copy bytes
 * 72..183; acquire fence; load seq again; equal means the copy is one
 * consistent snapshot. A reader also checks magic, version and size once when
 * it maps the block, and refuses any other layout. Staleness: a snapshot whose
 * updated_ns is older than a few periods, a state of 2, or a writer_pid that no
 * longer exists means nobody writes the block any more.
 *
 * Times are CLOCK_MONOTONIC ns, comparable between processes of one boot
 * (one time namespace). On glibc older than 2.34, link with -lrt (shm_open).
 * Needs POSIX 2008 (shm_open, O_CLOEXEC, clock_gettime): in strict ISO C
 * (-std=c11) include this header first, or define _POSIX_C_SOURCE=200809L.
 */
#ifndef SUPERINSTANCE_RATE_STATE_H
#define SUPERINSTANCE_RATE_STATE_H

#if !defined(_POSIX_C_SOURCE) && !defined(_XOPEN_SOURCE) && !defined(_GNU_SOURCE) && !defined(_DEFAULT_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SI_RATE_STATE_MAGIC 0x3130455441524953ULL /* "SIRATE01" */
#define SI_RATE_STATE_VERSION 1u
#define SI_RATE_STATE_SIZE 192u
#define SI_RATE_STATE_NAME_MAX 250

enum si_rate_state_status {
  SI_RATE_STATE_OK = 0,
  SI_RATE_STATE_EINVAL = 1,      /* null pointer or malformed name */
  SI_RATE_STATE_ENOENT = 2,      /* no block of that name */
  SI_RATE_STATE_EIO = 3,         /* open/fstat/mmap failed (errno kept in the reader) */
  SI_RATE_STATE_EMAGIC = 4,      /* not a rate state block (or not initialised yet) */
  SI_RATE_STATE_EVERSION = 5,    /* another layout version */
  SI_RATE_STATE_ESIZE = 6,       /* the block's size does not match its version */
  SI_RATE_STATE_EBUSY = 7        /* seq stayed odd: the writer died mid-write or is stopped */
};

enum si_rate_state_state { SI_RATE_STATE_CREATED = 0, SI_RATE_STATE_RUNNING = 1, SI_RATE_STATE_CLOSED = 2 };

/* The block as it lies in memory. */
typedef struct si_rate_state_block {
  uint64_t magic;
  uint32_t version;
  uint32_t size;
  int32_t writer_pid;
  uint32_t reserved0;
  int64_t created_ns;
  uint8_t pad0[32];
  /* line 1 */
  uint64_t seq;
  double rate_hz;
  int64_t period_ns;
  int64_t last_emission_ns;
  int64_t last_deadline_ns;
  int64_t next_emission_ns;
  int64_t lateness_p50_ns;
  int64_t lateness_p99_ns;
  /* line 2 */
  int64_t lateness_max_ns;
  uint64_t ticks;
  uint64_t missed;
  uint64_t overruns;
  uint64_t tick_index;
  int64_t updated_ns;
  uint32_t state;
  uint8_t pad1[12];
} __attribute__((aligned(64))) si_rate_state_block;

/* One consistent snapshot (the payload of lines 1-2, plus the writer's pid). */
typedef struct si_rate_snapshot {
  uint64_t seq;
  double rate_hz;
  int64_t period_ns;
  int64_t last_emission_ns;
  int64_t last_deadline_ns;
  int64_t next_emission_ns;
  int64_t lateness_p50_ns;
  int64_t lateness_p99_ns;
  int64_t lateness_max_ns;
  uint64_t ticks;
  uint64_t missed;
  uint64_t overruns;
  uint64_t tick_index;
  int64_t updated_ns;
  uint32_t state;
  int32_t writer_pid;
} si_rate_snapshot;

typedef struct si_rate_state_reader {
  const si_rate_state_block* block;
  size_t mapped;
  int sys_errno; /* errno of a failed system call (SI_RATE_STATE_EIO / ENOENT) */
} si_rate_state_reader;

#if defined(__cplusplus) && __cplusplus >= 201103L
static_assert(sizeof(si_rate_state_block) == SI_RATE_STATE_SIZE, "rate state layout");
static_assert(offsetof(si_rate_state_block, seq) == 64, "rate state layout");
static_assert(offsetof(si_rate_state_block, state) == 176, "rate state layout");
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(sizeof(si_rate_state_block) == SI_RATE_STATE_SIZE, "rate state layout");
_Static_assert(offsetof(si_rate_state_block, seq) == 64, "rate state layout");
_Static_assert(offsetof(si_rate_state_block, state) == 176, "rate state layout");
#endif

static inline const char* si_rate_state_strerror(int status) {
  switch (status) {
    case SI_RATE_STATE_OK: return "ok";
    case SI_RATE_STATE_EINVAL: return "invalid argument (null pointer, or a name that is empty, too long or holds '/')";
    case SI_RATE_STATE_ENOENT: return "no rate state block of that name";
    case SI_RATE_STATE_EIO: return "cannot open or map the rate state block";
    case SI_RATE_STATE_EMAGIC: return "not a superinstance rate state block (bad magic, or not initialised yet)";
    case SI_RATE_STATE_EVERSION: return "rate state block of another layout version";
    case SI_RATE_STATE_ESIZE: return "rate state block of the wrong size for its version";
    case SI_RATE_STATE_EBUSY: return "rate state block is being written and never settled (writer died mid-write?)";
    default: return "unknown status";
  }
}

/* "/name" for shm_open from "name" or "/name"; 0 on success. */
static inline int si_rate_state_shm_name(const char* name, char out[SI_RATE_STATE_NAME_MAX + 2]) {
  size_t n;
  if (name == NULL) return SI_RATE_STATE_EINVAL;
  if (name[0] == '/') ++name;
  n = strlen(name);
  if (n == 0 || n > SI_RATE_STATE_NAME_MAX || strchr(name, '/') != NULL) return SI_RATE_STATE_EINVAL;
  out[0] = '/';
  memcpy(out + 1, name, n + 1);
  return SI_RATE_STATE_OK;
}

/* Checks magic, version and size of a mapped header. */
static inline int si_rate_state_check_header(const si_rate_state_block* b, size_t mapped) {
  if (mapped < 16) return SI_RATE_STATE_EMAGIC;
  if (__atomic_load_n(&b->magic, __ATOMIC_ACQUIRE) != SI_RATE_STATE_MAGIC) return SI_RATE_STATE_EMAGIC;
  if (b->version != SI_RATE_STATE_VERSION) return SI_RATE_STATE_EVERSION;
  if (b->size != SI_RATE_STATE_SIZE || mapped != SI_RATE_STATE_SIZE) return SI_RATE_STATE_ESIZE;
  return SI_RATE_STATE_OK;
}

/* Maps the block read-only and checks its layout. On failure r->block is NULL. */
static inline int si_rate_state_open(const char* name, si_rate_state_reader* r) {
  char path[SI_RATE_STATE_NAME_MAX + 2];
  struct stat st;
  void* p;
  int fd, rc;
  if (r == NULL) return SI_RATE_STATE_EINVAL;
  r->block = NULL;
  r->mapped = 0;
  r->sys_errno = 0;
  rc = si_rate_state_shm_name(name, path);
  if (rc != SI_RATE_STATE_OK) return rc;
  fd = shm_open(path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) {
    r->sys_errno = errno;
    return errno == ENOENT ? SI_RATE_STATE_ENOENT : SI_RATE_STATE_EIO;
  }
  if (fstat(fd, &st) != 0) {
    r->sys_errno = errno;
    close(fd);
    return SI_RATE_STATE_EIO;
  }
  if (st.st_size < 16) { /* created but not sized yet, or not ours */
    close(fd);
    return SI_RATE_STATE_EMAGIC;
  }
  p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  r->sys_errno = p == MAP_FAILED ? errno : 0;
  close(fd);
  if (p == MAP_FAILED) return SI_RATE_STATE_EIO;
  rc = si_rate_state_check_header((const si_rate_state_block*)p, (size_t)st.st_size);
  if (rc != SI_RATE_STATE_OK) {
    munmap(p, (size_t)st.st_size);
    return rc;
  }
  r->block = (const si_rate_state_block*)p;
  r->mapped = (size_t)st.st_size;
  return SI_RATE_STATE_OK;
}

static inline void si_rate_state_close(si_rate_state_reader* r) {
  if (r == NULL || r->block == NULL) return;
  munmap((void*)r->block, r->mapped);
  r->block = NULL;
  r->mapped = 0;
}

#define SI_RATE_LOAD(field) __atomic_load_n(&b->field, __ATOMIC_RELAXED)

/* One consistent snapshot of a mapped block (seqlock read: retries while the
 * writer writes; gives up with SI_RATE_STATE_EBUSY after max_tries attempts,
 * 0 meaning 1,000,000). Never blocks in the kernel. */
static inline int si_rate_state_read_block(const si_rate_state_block* b, si_rate_snapshot* out, unsigned max_tries) {
  unsigned tries;
  if (b == NULL || out == NULL) return SI_RATE_STATE_EINVAL;
  if (max_tries == 0) max_tries = 1000000u;
  for (tries = 0; tries < max_tries; ++tries) {
    uint64_t s1 = __atomic_load_n(&b->seq, __ATOMIC_ACQUIRE), s2;
    if (s1 & 1u) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
      continue;
    }
    __atomic_load(&b->rate_hz, &out->rate_hz, __ATOMIC_RELAXED);
    out->period_ns = SI_RATE_LOAD(period_ns);
    out->last_emission_ns = SI_RATE_LOAD(last_emission_ns);
    out->last_deadline_ns = SI_RATE_LOAD(last_deadline_ns);
    out->next_emission_ns = SI_RATE_LOAD(next_emission_ns);
    out->lateness_p50_ns = SI_RATE_LOAD(lateness_p50_ns);
    out->lateness_p99_ns = SI_RATE_LOAD(lateness_p99_ns);
    out->lateness_max_ns = SI_RATE_LOAD(lateness_max_ns);
    out->ticks = SI_RATE_LOAD(ticks);
    out->missed = SI_RATE_LOAD(missed);
    out->overruns = SI_RATE_LOAD(overruns);
    out->tick_index = SI_RATE_LOAD(tick_index);
    out->updated_ns = SI_RATE_LOAD(updated_ns);
    out->state = SI_RATE_LOAD(state);
    out->writer_pid = SI_RATE_LOAD(writer_pid);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    s2 = __atomic_load_n(&b->seq, __ATOMIC_RELAXED);
    if (s1 == s2) {
      out->seq = s1;
      return SI_RATE_STATE_OK;
    }
  }
  return SI_RATE_STATE_EBUSY;
}

#undef SI_RATE_LOAD

static inline int si_rate_state_read(const si_rate_state_reader* r, si_rate_snapshot* out) {
  if (r == NULL || r->block == NULL) return SI_RATE_STATE_EINVAL;
  return si_rate_state_read_block(r->block, out, 0);
}

/* CLOCK_MONOTONIC now, in ns: compare with updated_ns for a snapshot's age. */
static inline int64_t si_rate_state_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#ifdef __cplusplus
}
#endif

#endif /* SUPERINSTANCE_RATE_STATE_H */
