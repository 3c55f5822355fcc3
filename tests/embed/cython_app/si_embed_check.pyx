# distutils: language = c++
# cython: language_level=3, boundscheck=False, wraparound=False
"""A Cython extension built against the installed superinstance package
(tests/embed/test_cython_api.py): every call into the core happens inside
`with nogil:`, from as many Python threads as the test starts."""

from libc.stdint cimport int64_t, uint32_t, uint64_t
from libcpp cimport bool
from libcpp.memory cimport unique_ptr
from libcpp.vector cimport vector

from superinstance.common cimport LatencyHistogram
from superinstance.frozen_model_rl cimport Algo, Bandit, Config, Decision
from superinstance.realtime_core cimport (SI_RATE_STATE_OK, Tick, Timer, make_timer, make_virtual_timer,
                                          si_rate_snapshot, si_rate_state_close, si_rate_state_open,
                                          si_rate_state_read, si_rate_state_reader)
from superinstance.vector_navigator cimport Index, Kind, Metric, Payload, SearchOptions


cdef extern from "cxx_loops.hpp" namespace "si_embed_check" nogil:
    int64_t now_ns()
    double cxx_search_loop(const Index& index, const float* query, const SearchOptions& opt, uint64_t* ids,
                           float* scores, long iters) except +
    double cxx_tick_loop(Timer& timer, long iters) except +
    double cxx_select_loop(Bandit& bandit, const double* x, long iters) except +
    void enter()
    void leave()
    int reset_max "si_embed_check::max_in_flight().store"(int)
    int max_in_flight_now "si_embed_check::max_in_flight().load"()


def max_in_flight(reset=False):
    if reset:
        reset_max(0)
    return max_in_flight_now()


# ---------------------------------------------------------------- index
cdef class CIndex:
    cdef unique_ptr[Index] index

    def __init__(self, float[:, ::1] vectors):
        self.index.reset(new Index(vectors.shape[1], Metric.cosine, Kind.flat))
        cdef Payload payload
        with nogil:
            self.index.get().add(&vectors[0, 0], vectors.shape[0], NULL, payload, 1, NULL)

    def search(self, float[:, ::1] queries, int k, uint64_t[:, ::1] out_ids):
        """Searches row by row without the GIL (callable from many threads at once)."""
        cdef SearchOptions opt
        opt.k = k
        cdef vector[float] scores = vector[float](k)
        cdef Py_ssize_t i
        with nogil:
            enter()
            for i in range(queries.shape[0]):
                self.index.get().search(&queries[i, 0], 1, opt, &out_ids[i, 0], scores.data())
            leave()

    def search_bad_k(self, float[:, ::1] queries, int k):
        cdef SearchOptions opt
        opt.k = k
        cdef vector[uint64_t] ids = vector[uint64_t](k)
        cdef vector[float] scores = vector[float](k)
        with nogil:
            self.index.get().search(&queries[0, 0], 1, opt, ids.data(), scores.data())

    def time_search(self, float[:, ::1] queries, int k, long iters, bint cython):
        """ns per single-query search: the loop in Cython (cython=True) or in C++."""
        cdef SearchOptions opt
        opt.k = k
        cdef vector[uint64_t] ids = vector[uint64_t](k)
        cdef vector[float] scores = vector[float](k)
        cdef long i
        cdef int64_t t0
        cdef double ns
        with nogil:
            if cython:
                t0 = now_ns()
                for i in range(iters):
                    self.index.get().search(&queries[0, 0], 1, opt, ids.data(), scores.data())
                ns = <double>(now_ns() - t0) / iters
            else:
                ns = cxx_search_loop(self.index.get()[0], &queries[0, 0], opt, ids.data(), scores.data(), iters)
        return ns

    def searches_per_thread(self, float[:, ::1] queries, int k, long iters):
        """Searches done in `iters` rounds over the queries, for throughput across threads."""
        cdef SearchOptions opt
        opt.k = k
        cdef vector[uint64_t] ids = vector[uint64_t](k)
        cdef vector[float] scores = vector[float](k)
        cdef long r
        cdef Py_ssize_t i
        with nogil:
            enter()
            for r in range(iters):
                for i in range(queries.shape[0]):
                    self.index.get().search(&queries[i, 0], 1, opt, ids.data(), scores.data())
            leave()
        return iters * queries.shape[0]


# ---------------------------------------------------------------- timer
cdef class CTimer:
    cdef unique_ptr[Timer] timer

    def __init__(self, double rate_hz, int64_t start_ns=-1, str waiter="auto"):
        if start_ns >= 0:
            self.timer = make_virtual_timer(rate_hz, start_ns, b"skip")
        else:
            self.timer = make_timer(rate_hz, waiter.encode(), b"skip")

    def ticks(self, int n):
        """n ticks waited for without the GIL; [(index, deadline_ns, woke_ns), ...]."""
        cdef vector[Tick] got
        cdef int i
        with nogil:
            enter()
            for i in range(n):
                got.push_back(self.timer.get().tick())
            leave()
        return [(t.index, t.deadline_ns, t.woke_ns) for t in got]

    def publish(self, str name):
        self.timer.get().publish(name.encode())

    def close(self):
        with nogil:
            self.timer.get().close()

    def time_tick(self, long iters, bint cython):
        cdef long i
        cdef int64_t t0
        cdef double ns
        with nogil:
            if cython:
                t0 = now_ns()
                for i in range(iters):
                    self.timer.get().tick()
                ns = <double>(now_ns() - t0) / iters
            else:
                ns = cxx_tick_loop(self.timer.get()[0], iters)
        return ns


# ---------------------------------------------------------------- bandit
cdef class CBandit:
    cdef unique_ptr[Bandit] bandit

    def __init__(self, int n_arms, int dim, double alpha):
        cdef Config cfg
        cfg.algo = Algo.LinUCB
        cfg.n_arms = n_arms
        cfg.dim = dim
        cfg.alpha = alpha
        self.bandit.reset(new Bandit(cfg))

    def run(self, double[:, ::1] contexts, double[:, ::1] rewards):
        """select + update with the chosen arm's reward for every row, without the GIL; the arms."""
        cdef vector[uint32_t] arms
        cdef Decision d
        cdef Py_ssize_t r
        with nogil:
            enter()
            for r in range(contexts.shape[0]):
                d = self.bandit.get().select(&contexts[r, 0])
                self.bandit.get().update(d.id, rewards[r, d.arm])
                arms.push_back(d.arm)
            leave()
        return list(arms)

    def update(self, uint64_t decision_id, double reward):
        with nogil:
            self.bandit.get().update(decision_id, reward)

    def time_select(self, double[::1] x, long iters, bint cython):
        cdef long i
        cdef int64_t t0
        cdef double ns
        with nogil:
            if cython:
                t0 = now_ns()
                for i in range(iters):
                    self.bandit.get().select(&x[0], False)
                ns = <double>(now_ns() - t0) / iters
            else:
                ns = cxx_select_loop(self.bandit.get()[0], &x[0], iters)
        return ns


# ---------------------------------------------------------------- histogram, rate state
def histogram_summary(int64_t[::1] values):
    """Records every value without the GIL; (count, p50, p99, max)."""
    cdef LatencyHistogram h
    cdef Py_ssize_t i
    with nogil:
        enter()
        for i in range(values.shape[0]):
            h.record(values[i])
        leave()
    return h.count(), h.percentile(50), h.percentile(99), h.max()


def histogram_record_negative():
    cdef LatencyHistogram h
    with nogil:
        h.record(-1)


def read_rate_state(str name):
    cdef si_rate_state_reader r
    cdef si_rate_snapshot s
    cdef bytes b = name.encode()
    cdef const char* c_name = b
    cdef int rc
    with nogil:
        rc = si_rate_state_open(c_name, &r)
        if rc == SI_RATE_STATE_OK:
            rc = si_rate_state_read(&r, &s)
            si_rate_state_close(&r)
    if rc != SI_RATE_STATE_OK:
        return rc
    return {"ticks": s.ticks, "tick_index": s.tick_index, "next_emission_ns": s.next_emission_ns,
            "rate_hz": s.rate_hz, "lateness_p99_ns": s.lateness_p99_ns}
