# cython: language_level=3
# Cython declarations of superinstance's vector index (cpp/vector_navigator),
# callable inside `with nogil:`. Searches share a reader lock: many threads may
# search one Index at once; add/remove take it exclusively.
#
#   # distutils: language = c++
#   from superinstance.vector_navigator cimport Index, Metric, Kind, Payload, SearchOptions

from libc.stdint cimport int64_t, uint32_t, uint64_t
from libcpp cimport bool
from libcpp.vector cimport vector


cdef extern from "vector_navigator/index.hpp" namespace "si::vn" nogil:
    cdef enum class Metric(uint32_t):
        cosine
        ip
        l2

    cdef enum class Kind(uint32_t):
        flat
        hnsw

    cdef enum class DType(uint32_t):
        f32
        f16
        i8

    cdef uint64_t kNoId   # pads ids when fewer than k vectors pass the filter

    cdef cppclass HnswParams:
        size_t M
        size_t ef_construction
        size_t ef_search
        uint64_t seed

    cdef cppclass Payload:         # optional per-vector data for add(); null pointers: none
        const float* vad
        const double* timestamps
        const int64_t* labels

    cdef cppclass SearchOptions:
        size_t k
        int threads
        size_t ef                   # HNSW: 0 = the index's ef_search
        bool exact                  # HNSW: force the exact scan

    cdef cppclass Index:
        Index(size_t dim, Metric metric, Kind kind) except +
        Index(size_t dim, Metric metric, Kind kind, HnswParams hp) except +
        # n x dim row-major vectors; ids NULL assigns ids (into *assigned when not NULL).
        # Checks everything first (ValueError: NaN, zero vector for cosine, ...): nothing stored on error.
        void add(const float* vectors, size_t n, const uint64_t* ids, const Payload& payload, int threads,
                 vector[uint64_t]* assigned) except +
        void remove(const uint64_t* ids, size_t n) except +
        # out_ids / out_scores: nq x k, best first. ValueError unless 1 <= k <= size().
        void search(const float* queries, size_t nq, const SearchOptions& opt, uint64_t* out_ids,
                    float* out_scores) except +
        void check_k(size_t k) except +
        size_t size() except +
        size_t dim()
        bool contains(uint64_t id) except +
        void close()
        bool closed()
