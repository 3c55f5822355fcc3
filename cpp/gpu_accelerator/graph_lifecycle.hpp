// The state machine of a CUDA Graph wrapper, kept free of CUDA so that its
// checks are tested on machines without a GPU. The CUDA Graph class
// (graph.cu) asks it before every operation and reports each transition.
//
//   empty --begin_capture--> capturing --end_capture(ok)--> captured
//   capturing --end_capture(failed)--> the state before the capture
//   captured --instantiate--> instantiated --launch/upload--> instantiated
//   instantiated --begin_capture ... end_capture(ok)--> captured (exec kept, stale)
//   captured with an exec --update--> instantiated (exec updated in place or re-instantiated)
//   any --close--> closed (every later call raises Closed)
#pragma once

#include <cstdint>
#include <string>

namespace si::gpu {

class GraphLifecycle {
 public:
  enum class State { empty, capturing, captured, instantiated, closed };

  State state() const { return state_; }
  const char* state_name() const;
  bool has_graph() const { return has_graph_; }  // a captured graph exists
  bool has_exec() const { return has_exec_; }    // an executable graph exists
  bool exec_stale() const { return has_exec_ && state_ == State::captured; }
  std::uint64_t launches() const { return launches_; }
  std::uint64_t captures() const { return captures_; }
  std::uint64_t updates_in_place() const { return updates_in_place_; }
  std::uint64_t reinstantiations() const { return reinstantiations_; }

  // Checks (throw si::Closed or std::logic_error naming the misuse); call before the CUDA work.
  void check_begin_capture() const;
  void check_end_capture() const;
  void check_instantiate() const;
  void check_update() const;
  void check_launch(const char* what = "launch") const;

  // Transitions; call after the CUDA work succeeded (or failed, for end_capture).
  void on_begin_capture();
  void on_end_capture(bool ok);
  void on_instantiate();
  void on_update(bool in_place);
  void on_launch();
  void on_close();

 private:
  void check_open(const char* what) const;
  State state_ = State::empty;
  State before_capture_ = State::empty;
  bool has_graph_ = false, has_exec_ = false;
  std::uint64_t launches_ = 0, captures_ = 0, updates_in_place_ = 0, reinstantiations_ = 0;
};

}  // namespace si::gpu
