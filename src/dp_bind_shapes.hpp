// Input checks and output allocation shared by the CPU (bind_dp.cpp) and GPU
// (cuda_bind_dp.cpp) bindings of the dynamic-programming kernels: each helper
// checks shapes with the GIL held, allocates the result, then runs `run` (the
// CPU or the GPU kernel) with the GIL released.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

namespace si::py_bind::dp_shapes {

namespace py = pybind11;

template <class T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// cost (batch, rows, cols) -> (totals (batch,), paths (batch, cols));
// run(cost, batch, rows, cols, totals, paths).
template <class T, class Acc, class Run>
py::tuple optimal_path(const CArray<T>& cost, Run&& run) {
  if (cost.ndim() != 3) throw py::value_error("optimal path: cost must be 3-D (batch, rows, cols)");
  const auto B = static_cast<std::size_t>(cost.shape(0)), R = static_cast<std::size_t>(cost.shape(1)),
             C = static_cast<std::size_t>(cost.shape(2));
  if (R == 0) throw py::value_error("optimal path: the cost matrix has zero rows");
  if (C == 0) throw py::value_error("optimal path: the cost matrix has zero columns");
  py::array_t<Acc> total(static_cast<py::ssize_t>(B));
  py::array_t<std::int32_t> path({static_cast<py::ssize_t>(B), static_cast<py::ssize_t>(C)});
  Acc* t = total.mutable_data();
  std::int32_t* p = path.mutable_data();
  {
    py::gil_scoped_release release;
    run(cost.data(), B, R, C, t, p);
  }
  return py::make_tuple(total, path);
}

// weights (n, n) -> distances (n, n), computed in place on a copy; run(dist, n).
template <class Run>
py::array_t<std::int32_t> floyd_warshall(const CArray<std::int32_t>& w, Run&& run) {
  if (w.ndim() != 2 || w.shape(0) != w.shape(1))
    throw py::value_error("floyd_warshall: weights must be square (n, n)");
  const auto n = static_cast<std::size_t>(w.shape(0));
  py::array_t<std::int32_t> d({w.shape(0), w.shape(1)});
  std::copy(w.data(), w.data() + n * n, d.mutable_data());
  std::int32_t* p = d.mutable_data();
  {
    py::gil_scoped_release release;
    run(p, n);
  }
  return d;
}

// series (batch, n) -> (batch, n - window + 1); run(x, batch, n, window, out).
template <class T, class Run>
py::array_t<T> rolling(const CArray<T>& x, std::int64_t window, Run&& run) {
  if (x.ndim() != 2) throw py::value_error("rolling min/max: series must be 2-D (batch, n)");
  const auto B = static_cast<std::size_t>(x.shape(0)), n = static_cast<std::size_t>(x.shape(1));
  if (window < 1 || static_cast<std::size_t>(window) > n)
    throw py::value_error("rolling window must be in 1..len(series)=" + std::to_string(n) + ", got " +
                          std::to_string(window));
  py::array_t<T> out({static_cast<py::ssize_t>(B), static_cast<py::ssize_t>(n - window + 1)});
  T* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    run(x.data(), B, n, static_cast<std::size_t>(window), o);
  }
  return out;
}

// a (batch, la), b (batch, lb) -> distances (batch,); run(a, b, batch, la, lb, out).
template <class Run>
py::array_t<double> dtw(const CArray<float>& a, const CArray<float>& b, Run&& run) {
  if (a.ndim() != 2 || b.ndim() != 2) throw py::value_error("dtw: a and b must be 2-D (batch, length)");
  if (a.shape(0) != b.shape(0)) throw py::value_error("dtw: a and b must have the same batch size");
  py::array_t<double> out(a.shape(0));
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    run(a.data(), b.data(), static_cast<std::size_t>(a.shape(0)), static_cast<std::size_t>(a.shape(1)),
        static_cast<std::size_t>(b.shape(1)), o);
  }
  return out;
}

}  // namespace si::py_bind::dp_shapes
