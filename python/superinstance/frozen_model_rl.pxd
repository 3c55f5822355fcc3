# cython: language_level=3
# Cython declarations of superinstance's contextual bandit (cpp/frozen_model_rl),
# callable inside `with nogil:`. Every public method takes the bandit's own
# mutex: threads may share one Bandit.
#
#   # distutils: language = c++
#   from superinstance.frozen_model_rl cimport Algo, Bandit, Config, Decision
#
# Kept to what an embedding needs (select, update, scores); the full class is
# in include/frozen_model_rl/bandit.hpp.

from libc.stdint cimport uint32_t, uint64_t
from libcpp cimport bool


cdef extern from "frozen_model_rl/bandit.hpp" namespace "si::bandit" nogil:
    cdef enum class Algo(uint32_t):
        LinUCB
        HybridLinUCB
        LinTS
        EpsGreedy
        DLinUCB
        SWLinUCB

    cdef cppclass Config:
        Algo algo
        uint32_t n_arms
        uint32_t dim
        double alpha          # UCB width; LinTS posterior scale
        double lam            # ridge regularisation
        double epsilon        # EpsGreedy
        double gamma          # DLinUCB
        uint64_t window       # SWLinUCB
        uint64_t seed
        uint64_t max_pending
        uint64_t ttl

    cdef cppclass Decision:
        uint64_t id
        uint32_t arm
        double score
        double propensity

    cdef cppclass Bandit:
        Bandit(Config config) except +     # ValueError for a bad config
        uint32_t n_arms()
        uint32_t dim()
        # x: dim() finite values. track: keep the decision pending for update().
        Decision select(const double* x) except +
        Decision select(const double* x, bool track) except +
        void scores(const double* x, double* out) except +     # out: n_arms() values
        void update(uint64_t id, double reward) except +        # KeyError-like for an unknown id
        void update_arm(uint32_t arm, const double* x, double reward) except +
