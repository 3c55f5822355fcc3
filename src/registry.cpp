// The registry behind SI_REGISTER_BINDINGS. Compiled into each extension
// module separately, so _core and _cuda each run only their own bindings.
#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "bindings.hpp"

namespace si::py_bind {
namespace {

std::vector<std::pair<const char*, BindFunction>>& registry() {
  static std::vector<std::pair<const char*, BindFunction>> r;  // built before main, read once
  return r;
}

}  // namespace

bool register_bindings(const char* name, BindFunction fn) {
  registry().emplace_back(name, fn);
  return true;
}

void run_registered_bindings(pybind11::module_& m) {
  auto r = registry();
  std::sort(r.begin(), r.end(), [](const auto& a, const auto& b) { return std::strcmp(a.first, b.first) < 0; });
  for (const auto& [name, fn] : r) fn(m);
}

}  // namespace si::py_bind

