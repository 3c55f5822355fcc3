# cython: language_level=3
# Cython declarations of superinstance's C++ core, shared pieces (cpp/common).
#
#   # distutils: language = c++
#   from superinstance.common cimport LatencyHistogram
#
# Compile with include_dirs=[superinstance.get_include()] and link
# superinstance/lib/libsuperinstance_core.a (see docs/embedding.md). Every
# function here may be called inside `with nogil:`; C++ exceptions become
# Python exceptions (`except +`), the GIL being taken only to raise.

from libc.stdint cimport int64_t, uint64_t


cdef extern from "common/histogram.hpp" namespace "si" nogil:
    # Fixed-memory log-linear latency histogram; not synchronised: one writer
    # (or a lock of the owner's). Percentiles within 0.4 %.
    cdef cppclass LatencyHistogram:
        LatencyHistogram() except +
        void record(int64_t value_ns) except +           # ValueError if negative
        void record(int64_t value_ns, uint64_t count) except +
        void merge(const LatencyHistogram& other)
        void reset()
        uint64_t count()
        int64_t min()
        int64_t max()
        double mean()
        double percentile(double q) except +              # q in [0, 100]; NaN when empty
