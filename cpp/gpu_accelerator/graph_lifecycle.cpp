#include "gpu_accelerator/graph_lifecycle.hpp"

#include <stdexcept>

#include "common/errors.hpp"

namespace si::gpu {

const char* GraphLifecycle::state_name() const {
  switch (state_) {
    case State::empty: return "empty";
    case State::capturing: return "capturing";
    case State::captured: return "captured";
    case State::instantiated: return "instantiated";
    case State::closed: return "closed";
  }
  return "?";
}

void GraphLifecycle::check_open(const char* what) const {
  if (state_ == State::closed)
    throw Closed(std::string("Graph.") + what + ": the graph is closed");
  if (state_ == State::capturing)
    throw std::logic_error(std::string("Graph.") + what +
                           ": a capture is in progress (leave the capture block first)");
}

void GraphLifecycle::check_begin_capture() const {
  if (state_ == State::capturing)
    throw std::logic_error("Graph.capture: a capture is already in progress on this graph");
  check_open("capture");
}

void GraphLifecycle::check_end_capture() const {
  if (state_ == State::closed) throw Closed("Graph.capture: the graph is closed");
  if (state_ != State::capturing)
    throw std::logic_error("Graph.end_capture: no capture is in progress");
}

void GraphLifecycle::check_instantiate() const {
  check_open("instantiate");
  if (!has_graph_) throw std::logic_error("Graph.instantiate: nothing captured yet");
}

void GraphLifecycle::check_update() const {
  check_open("update");
  if (!has_exec_)
    throw std::logic_error("Graph.update: the graph was never instantiated (call instantiate())");
  if (state_ != State::captured)
    throw std::logic_error(
        "Graph.update: nothing new to apply (capture the new launches first, then update())");
}

void GraphLifecycle::check_launch(const char* what) const {
  check_open(what);
  if (!has_exec_)
    throw std::logic_error(std::string("Graph.") + what +
                           ": the graph is not instantiated (call instantiate() after capture)");
  if (state_ == State::captured)
    throw std::logic_error(std::string("Graph.") + what +
                           ": the graph was captured again since it was instantiated; call "
                           "update() (or instantiate()) before launching");
}

void GraphLifecycle::on_begin_capture() {
  before_capture_ = state_;
  state_ = State::capturing;
}

void GraphLifecycle::on_end_capture(bool ok) {
  if (ok) {
    state_ = State::captured;
    has_graph_ = true;
    ++captures_;
  } else {
    state_ = before_capture_;
  }
}

void GraphLifecycle::on_instantiate() {
  has_exec_ = true;
  state_ = State::instantiated;
}

void GraphLifecycle::on_update(bool in_place) {
  ++(in_place ? updates_in_place_ : reinstantiations_);
  state_ = State::instantiated;
}

void GraphLifecycle::on_launch() { ++launches_; }

void GraphLifecycle::on_close() {
  state_ = State::closed;
  has_graph_ = has_exec_ = false;
}

}  // namespace si::gpu
