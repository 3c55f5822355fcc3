#include "common/cpu_features.hpp"

#include <cstdlib>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#define SI_X86 1
#include <cpuid.h>
#endif
#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

namespace si::simd {
namespace {

#if SI_X86
// XCR0 read without requiring -mxsave on this translation unit.
unsigned long long read_xcr0() {
  unsigned int eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}

void detect_x86(CpuFeatures& f) {
  f.arch = "x86_64";
  unsigned int eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return;
  f.sse42 = (ecx >> 20) & 1;
  const bool cpu_fma = (ecx >> 12) & 1;
  const bool osxsave = (ecx >> 27) & 1;
  const bool cpu_avx = (ecx >> 28) & 1;
  const bool cpu_f16c = (ecx >> 29) & 1;
  unsigned long long xcr0 = osxsave ? read_xcr0() : 0;
  const bool os_ymm = (xcr0 & 0x6) == 0x6;     // SSE and AVX state
  const bool os_zmm = (xcr0 & 0xE6) == 0xE6;   // plus opmask, ZMM hi256, hi16
  f.avx = cpu_avx && os_ymm;
  f.fma = cpu_fma && f.avx;  // AVX2 does not imply FMA: checked on its own
  f.f16c = cpu_f16c && f.avx;
  if (__get_cpuid_max(0, nullptr) < 7) return;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  f.avx2 = ((ebx >> 5) & 1) && f.avx;
  const bool zmm = os_zmm && f.avx;
  f.avx512f = ((ebx >> 16) & 1) && zmm;
  f.avx512dq = ((ebx >> 17) & 1) && f.avx512f;
  f.avx512bw = ((ebx >> 30) & 1) && f.avx512f;
  f.avx512vl = ((ebx >> 31) & 1) && f.avx512f;
  f.avx512vnni = ((ecx >> 11) & 1) && f.avx512f;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if SI_X86
  detect_x86(f);
#elif defined(__aarch64__)
  f.arch = "aarch64";
  f.neon = true;  // Advanced SIMD is mandatory in AArch64
#else
  f.arch = "unknown";
#endif
  return f;
}

Level compute_detected() {
  const CpuFeatures& f = cpu_features();
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.fma) return Level::avx512;
  if (f.avx2 && f.fma && f.f16c) return Level::avx2;
  return Level::scalar;
}

struct ActiveChoice {
  Level level;
  std::string requested;
  std::string warning;
};

ActiveChoice compute_active() {
  ActiveChoice c{detected_level(), {}, {}};
  const char* env = std::getenv("SUPERINSTANCE_SIMD");
  if (env == nullptr || *env == '\0') return c;
  c.requested = env;
  auto wanted = parse_level(c.requested);
  if (!wanted) {
    c.warning = "SUPERINSTANCE_SIMD='" + c.requested +
                "' is not one of scalar, avx2, avx512; using " + level_name(c.level);
  } else if (static_cast<int>(*wanted) > static_cast<int>(c.level)) {
    c.warning = "SUPERINSTANCE_SIMD=" + c.requested + " is not supported by this CPU; using " +
                level_name(c.level);
  } else {
    c.level = *wanted;
  }
  return c;
}

const ActiveChoice& active_choice() {
  static const ActiveChoice choice = compute_active();
  return choice;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

Level detected_level() {
  static const Level level = compute_detected();
  return level;
}

Level active_level() { return active_choice().level; }
const std::string& requested_level() { return active_choice().requested; }
const std::string& override_warning() { return active_choice().warning; }

bool level_available(Level level) {
  return static_cast<int>(level) <= static_cast<int>(detected_level());
}

std::vector<Level> available_levels() {
  std::vector<Level> out;
  for (Level l : {Level::scalar, Level::avx2, Level::avx512})
    if (level_available(l)) out.push_back(l);
  return out;
}

const char* level_name(Level level) {
  switch (level) {
    case Level::scalar: return "scalar";
    case Level::avx2: return "avx2";
    case Level::avx512: return "avx512";
  }
  return "scalar";
}

std::optional<Level> parse_level(std::string_view name) {
  if (name == "scalar") return Level::scalar;
  if (name == "avx2") return Level::avx2;
  if (name == "avx512") return Level::avx512;
  return std::nullopt;
}

}  // namespace si::simd
