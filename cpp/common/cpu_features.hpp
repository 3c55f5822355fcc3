// Run-time CPU feature detection and the SIMD level that kernels dispatch on.
//
// Detection runs once (cpuid + xgetbv on x86-64, getauxval on arm64). The
// active level is the best level the CPU and the OS support, lowered by the
// environment variable SUPERINSTANCE_SIMD=scalar|avx2|avx512 when it is set.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace si::simd {

struct CpuFeatures {
  std::string arch;  // "x86_64", "aarch64", ...
  bool sse42 = false;
  bool avx = false;  // AVX usable: CPU bit and OS saves YMM state
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;  // AVX-512 usable: CPU bits and OS saves ZMM state
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512vnni = false;
  bool neon = false;
};

// Kernel families provide one implementation per level. Ordered: a higher
// level runs on a CPU only when every lower one does.
enum class Level : int { scalar = 0, avx2 = 1, avx512 = 2 };

const CpuFeatures& cpu_features();

// Best level this CPU and OS support (ignores the override).
Level detected_level();

// Level in use: detected_level() capped by SUPERINSTANCE_SIMD, decided once.
Level active_level();

// The override as read from the environment ("" when unset), and a warning
// when it could not be honoured (unknown name, or above what the CPU has).
const std::string& requested_level();
const std::string& override_warning();

// Levels that can run here, scalar first.
std::vector<Level> available_levels();
bool level_available(Level level);

const char* level_name(Level level);
std::optional<Level> parse_level(std::string_view name);

}  // namespace si::simd
