// Small deterministic random number generators shared by the components, so
// that a seed gives the same stream on every machine (no std:: distribution,
// whose output is implementation-defined).
//   splitmix64       Steele, Lea & Flood 2014: a 64-bit mixing function, used as
//                    a stateless hash (HNSW levels) and to seed other generators.
//   Xoshiro256ss     Blackman & Vigna's xoshiro256** (2018): the bandit's
//                    generator; its four words are part of the saved state.
#pragma once

#include <cmath>
#include <cstdint>

namespace si {

constexpr std::uint64_t kSplitmix64Gamma = 0x9E3779B97F4A7C15ULL;

// splitmix64's output for the state x (the state is x + gamma): a stateless hash.
constexpr std::uint64_t splitmix64(std::uint64_t x) {
  std::uint64_t z = x + kSplitmix64Gamma;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// The next output of the splitmix64 generator whose state is `state` (advanced).
inline std::uint64_t splitmix64_next(std::uint64_t& state) {
  const std::uint64_t out = splitmix64(state);
  state += kSplitmix64Gamma;
  return out;
}

class Xoshiro256ss {
 public:
  // The state of the authors' recommended seeding: four splitmix64 outputs.
  void seed(std::uint64_t seed) {
    for (auto& w : s) w = splitmix64_next(seed);
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s[1] * 5, 7) * 9;
    const std::uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // Standard normal by Box-Muller (one of the pair; two uniforms per draw).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

  std::uint64_t s[4] = {0, 0, 0, 0};  // public: saved and restored with a state

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
};

}  // namespace si
