/* A reader of the shared rate state written in C against the header-only
 * reader (superinstance/include/realtime_core/rate_state.h).
 *   rate_state_reader NAME            one snapshot as JSON
 *   rate_state_reader NAME bench N    plus the cost of N reads, ns per read
 *   rate_state_reader NAME check START PERIOD SECONDS
 *       reads in a tight loop and checks every snapshot's invariants (see
 *       rate_state_check.py); prints {"reads": .., "changes": ..} or exits 40
 * Exit status: 0, or 10 + the reader's status (2 absent, 4 magic, 5 version, ...). */
#include "realtime_core/rate_state.h" /* first: it asks for POSIX 2008 under -std=c11 */

#include <stdio.h>
#include <stdlib.h>

static int consistent(const si_rate_snapshot* s, int64_t start, int64_t period) {
  if (s->seq & 1u) return 0;
  if (s->ticks == 0) return 1;
  return s->last_deadline_ns == start + (int64_t)s->tick_index * period &&
         s->next_emission_ns == start + (int64_t)(s->ticks + s->missed) * period &&
         s->last_deadline_ns < s->next_emission_ns;
}

static int check(const si_rate_state_reader* r, int64_t start, int64_t period, double seconds) {
  si_rate_snapshot s, prev;
  long long reads = 0, changes = 0;
  const int64_t end = si_rate_state_now_ns() + (int64_t)(seconds * 1e9);
  memset(&prev, 0, sizeof prev);
  while (si_rate_state_now_ns() < end) {
    int i;
    for (i = 0; i < 1000; ++i, ++reads) {
      if (si_rate_state_read(r, &s) != SI_RATE_STATE_OK) return 41;
      if (!consistent(&s, start, period) || s.seq < prev.seq || s.ticks < prev.ticks) {
        printf("{\"error\": \"inconsistent\", \"ticks\": %llu, \"tick_index\": %llu}\n",
               (unsigned long long)s.ticks, (unsigned long long)s.tick_index);
        return 40;
      }
      if (s.seq != prev.seq) ++changes;
      prev = s;
    }
  }
  printf("{\"reads\": %lld, \"changes\": %lld, \"ticks\": %llu}\n", reads, changes, (unsigned long long)prev.ticks);
  return 0;
}

int main(int argc, char** argv) {
  si_rate_state_reader r;
  si_rate_snapshot s;
  double ns_per_read = 0;
  int rc;
  if (argc < 2) return 2;
  rc = si_rate_state_open(argv[1], &r);
  if (rc != SI_RATE_STATE_OK) {
    fprintf(stderr, "%s\n", si_rate_state_strerror(rc));
    return 10 + rc;
  }
  if (argc >= 6 && strcmp(argv[2], "check") == 0)
    return check(&r, atoll(argv[3]), atoll(argv[4]), atof(argv[5]));
  if (argc >= 4) {
    long n = atol(argv[3]), i;
    uint64_t sink = 0;
    int64_t t0 = si_rate_state_now_ns(), t1;
    for (i = 0; i < n; ++i) {
      if (si_rate_state_read(&r, &s) != SI_RATE_STATE_OK) return 30;
      sink += s.ticks;
    }
    t1 = si_rate_state_now_ns();
    ns_per_read = (double)(t1 - t0) / (double)n;
    if (sink == 42) puts("");
  }
  rc = si_rate_state_read(&r, &s);
  if (rc != SI_RATE_STATE_OK) {
    fprintf(stderr, "%s\n", si_rate_state_strerror(rc));
    return 10 + rc;
  }
  /* si_rate_state_read refuses a null snapshot rather than crashing. */
  if (si_rate_state_read(&r, NULL) != SI_RATE_STATE_EINVAL) return 31;
  printf("{\"rate_hz\": %.17g, \"period_ns\": %lld, \"last_emission_ns\": %lld, \"last_deadline_ns\": %lld, "
         "\"next_emission_ns\": %lld, \"lateness_p50_ns\": %lld, \"lateness_p99_ns\": %lld, "
         "\"lateness_max_ns\": %lld, \"ticks\": %llu, \"missed\": %llu, \"overruns\": %llu, \"tick_index\": %llu, "
         "\"updated_ns\": %lld, \"state\": %u, \"writer_pid\": %d, \"sequence\": %llu, \"ns_per_read\": %.3f}\n",
         s.rate_hz, (long long)s.period_ns, (long long)s.last_emission_ns, (long long)s.last_deadline_ns,
         (long long)s.next_emission_ns, (long long)s.lateness_p50_ns, (long long)s.lateness_p99_ns,
         (long long)s.lateness_max_ns, (unsigned long long)s.ticks, (unsigned long long)s.missed,
         (unsigned long long)s.overruns, (unsigned long long)s.tick_index, (long long)s.updated_ns, s.state,
         s.writer_pid, (unsigned long long)s.seq, ns_per_read);
  si_rate_state_close(&r);
  return 0;
}
