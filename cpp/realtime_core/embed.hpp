// Factories for code that embeds the core (C++ services, the Cython API in
// superinstance/realtime_core.pxd): a Timer from a rate and a waiter name,
// without spelling out periods, policies and waiter ownership.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "realtime_core/timer.hpp"
#include "realtime_core/waiter.hpp"

namespace si::rt {

// A timer on CLOCK_MONOTONIC at rate_hz (exact fraction, see Period::from_rate_hz);
// waiter "auto" takes the first that works here. Throws std::invalid_argument
// for a bad rate, policy or waiter name, si::BackendUnavailable for a refused waiter.
inline std::unique_ptr<Timer> make_timer(double rate_hz, const std::string& waiter = "auto",
                                         const std::string& missed = "skip") {
  const Period period = Period::from_rate_hz(rate_hz);
  const MissedPolicy policy = parse_missed_policy(missed);
  std::string note;
  std::unique_ptr<Waiter> w = waiter == "auto" ? make_auto_waiter(note) : make_waiter(waiter);
  return std::make_unique<Timer>(period, std::nullopt, policy, std::move(w), note);
}

// A timer on a virtual clock of its own that starts at 0 (deterministic: each
// tick() jumps to the next deadline); first deadline at start_ns.
inline std::unique_ptr<Timer> make_virtual_timer(double rate_hz, std::int64_t start_ns,
                                                 const std::string& missed = "skip") {
  auto clock = std::make_shared<VirtualClock>(0);
  return std::make_unique<Timer>(Period::from_rate_hz(rate_hz), start_ns, parse_missed_policy(missed),
                                 make_virtual_waiter(clock), "virtual clock");
}

}  // namespace si::rt
