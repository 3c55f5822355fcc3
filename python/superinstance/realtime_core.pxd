# cython: language_level=3
# Cython declarations of superinstance's real-time core (cpp/realtime_core):
# timers and the shared rate state reader, callable inside `with nogil:`.
#
#   # distutils: language = c++
#   from libcpp.memory cimport unique_ptr
#   from superinstance.realtime_core cimport Timer, Tick, make_timer
#   cdef unique_ptr[Timer] t = make_timer(1000.0, b"auto", b"skip")
#   cdef Tick tick
#   with nogil:
#       tick = t.get().tick()
#
# See docs/embedding.md for building an extension against the installed package.

from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libcpp cimport bool
from libcpp.memory cimport unique_ptr
from libcpp.string cimport string


cdef extern from "realtime_core/timer.hpp" namespace "si::rt" nogil:
    cdef cppclass Tick:
        uint64_t index          # grid index k
        int64_t deadline_ns     # absolute CLOCK_MONOTONIC deadline
        int64_t woke_ns         # when the wait returned
        int64_t lateness_ns     # woke - deadline
        uint64_t missed         # deadlines dropped before the next tick (skip)

    cdef cppclass Timer:
        # Waits (no GIL needed) for the next deadline. Raises ClosedError-like
        # RuntimeError once closed (si::Closed derives from std::runtime_error).
        Tick tick() except +
        void publish(const string& name) except +   # write the shared rate state block on every tick
        void close()
        bool closed()
        int64_t next_deadline() except +
        uint64_t next_index() except +
        int64_t now_ns() except +


cdef extern from "realtime_core/embed.hpp" namespace "si::rt" nogil:
    # rate_hz within [1e-6, 1e6]; waiter "auto", "clock_nanosleep", "timerfd",
    # "io_uring" or "hybrid"; missed "skip", "burst" or "delay".
    unique_ptr[Timer] make_timer(double rate_hz, const string& waiter, const string& missed) except +
    # A deterministic timer on a virtual clock of its own (tests, benchmarks).
    unique_ptr[Timer] make_virtual_timer(double rate_hz, int64_t start_ns, const string& missed) except +


cdef extern from "realtime_core/rate_state.h" nogil:
    # The header-only reader of the shared rate state (layout: docs/realtime_core.md).
    ctypedef struct si_rate_snapshot:
        uint64_t seq
        double rate_hz
        int64_t period_ns
        int64_t last_emission_ns
        int64_t last_deadline_ns
        int64_t next_emission_ns
        int64_t lateness_p50_ns
        int64_t lateness_p99_ns
        int64_t lateness_max_ns
        uint64_t ticks
        uint64_t missed
        uint64_t overruns
        uint64_t tick_index
        int64_t updated_ns
        uint32_t state
        int32_t writer_pid

    ctypedef struct si_rate_state_reader:
        pass

    enum:
        SI_RATE_STATE_OK
        SI_RATE_STATE_EINVAL
        SI_RATE_STATE_ENOENT
        SI_RATE_STATE_EIO
        SI_RATE_STATE_EMAGIC
        SI_RATE_STATE_EVERSION
        SI_RATE_STATE_ESIZE
        SI_RATE_STATE_EBUSY

    # Each returns SI_RATE_STATE_OK or an error status (si_rate_state_strerror).
    int si_rate_state_open(const char* name, si_rate_state_reader* reader)
    int si_rate_state_read(const si_rate_state_reader* reader, si_rate_snapshot* out)
    void si_rate_state_close(si_rate_state_reader* reader)
    const char* si_rate_state_strerror(int status)
    int64_t si_rate_state_now_ns()
