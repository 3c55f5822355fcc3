// The one guard that makes "closed means closed" hold for every closable
// object the bindings expose.
//
//   closable_class<Index>(m, "VectorIndex", "Index", "doc")
//       .def_init(py::init(...))
//       .def("search", ...)                       // raises ClosedError after close
//       .def_property_readonly("size", ...)       // so does every property
//       .def_any_state("close", ...)              // valid in any state
//       .def_property_readonly_any_state("closed", ...);
//
// T must have `bool closed() const`. Every def / def_property* of a
// closable_class checks it before calling the bound function, so a method added
// later is guarded without anyone remembering to; the few members that stay
// valid after close (close itself, closed, __exit__, __repr__) opt out by name
// with the *_any_state variants. The message names the public class:
// "Index is closed".
#pragma once

#include <functional>
#include <string>
#include <type_traits>
#include <utility>

#include <pybind11/pybind11.h>

#include "common/errors.hpp"

namespace si::py_bind {

template <class T>
void ensure_open(const T& self, const char* public_name) {
  if (self.closed()) throw si::Closed(std::string(public_name) + " is closed");
}

namespace closable_detail {

// The call signature of a bound callable, with `self` first.
template <class F>
struct signature {
  using type = pybind11::detail::function_signature_t<F>;
};
template <class R, class C, class... A>
struct signature<R (C::*)(A...)> {
  using type = R(C&, A...);
};
template <class R, class C, class... A>
struct signature<R (C::*)(A...) const> {
  using type = R(const C&, A...);
};

template <class Sig>
struct Guard;
template <class R, class Self, class... Args>
struct Guard<R(Self, Args...)> {
  template <class F>
  static auto wrap(F f, const char* public_name) {
    return [f = std::move(f), public_name](Self self, Args... args) -> R {
      ensure_open(self, public_name);
      return std::invoke(f, std::forward<Self>(self), std::forward<Args>(args)...);
    };
  }
};

}  // namespace closable_detail

// `f` with the open check in front; `self` is its first parameter.
template <class F>
auto guarded(F f, const char* public_name) {
  using Sig = typename closable_detail::signature<std::decay_t<F>>::type;
  return closable_detail::Guard<Sig>::wrap(std::move(f), public_name);
}

template <class T, class... Options>
class closable_class : public pybind11::class_<T, Options...> {
  using Base = pybind11::class_<T, Options...>;

 public:
  // public_name: the name users see (the facade's class), used in the message.
  template <class... Extra>
  closable_class(pybind11::handle scope, const char* name, const char* public_name, const Extra&... extra)
      : Base(scope, name, extra...), public_name_(public_name) {}

  template <class F, class... Extra>
  closable_class& def(const char* name, F&& f, const Extra&... extra) {
    Base::def(name, guarded(std::forward<F>(f), public_name_), extra...);
    return *this;
  }
  template <class G, class... Extra>
  closable_class& def_property_readonly(const char* name, G&& getter, const Extra&... extra) {
    Base::def_property_readonly(name, pybind11::cpp_function(guarded(std::forward<G>(getter), public_name_)),
                                extra...);
    return *this;
  }
  template <class G, class S, class... Extra>
  closable_class& def_property(const char* name, G&& getter, S&& setter, const Extra&... extra) {
    Base::def_property(name, pybind11::cpp_function(guarded(std::forward<G>(getter), public_name_)),
                       pybind11::cpp_function(guarded(std::forward<S>(setter), public_name_)), extra...);
    return *this;
  }

  // Constructors (py::init(...)) and static methods: no instance to check.
  template <class Init, class... Extra>
  closable_class& def_init(Init&& init, const Extra&... extra) {
    Base::def(std::forward<Init>(init), extra...);
    return *this;
  }
  template <class F, class... Extra>
  closable_class& def_static(const char* name, F&& f, const Extra&... extra) {
    Base::def_static(name, std::forward<F>(f), extra...);
    return *this;
  }
  // Members that stay valid after close: close, closed, __exit__, __repr__.
  template <class F, class... Extra>
  closable_class& def_any_state(const char* name, F&& f, const Extra&... extra) {
    Base::def(name, std::forward<F>(f), extra...);
    return *this;
  }
  template <class G, class... Extra>
  closable_class& def_property_readonly_any_state(const char* name, G&& getter, const Extra&... extra) {
    Base::def_property_readonly(name, std::forward<G>(getter), extra...);
    return *this;
  }

 private:
  const char* public_name_;
};

}  // namespace si::py_bind
