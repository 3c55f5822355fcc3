// common/byte_io.hpp and common/rng.hpp: the layout the saved formats rely on
// (little-endian scalars, length-prefixed vectors), bounds-checked reads, and
// the generators' published reference outputs.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "common/byte_io.hpp"
#include "common/errors.hpp"
#include "common/rng.hpp"

TEST(ByteIo, LittleEndianLayoutAndRoundTrip) {
  si::ByteWriter w;
  w.put<std::uint32_t>(0x01020304u);
  w.put<std::uint8_t>(7);
  w.put<double>(1.5);
  w.vec(std::vector<double>{-2.0, 0.25});
  const std::int64_t raw[2] = {-1, 5};
  w.array(raw, 2);
  const std::vector<unsigned char> b = w.take();
  ASSERT_EQ(b.size(), 4u + 1 + 8 + 8 + 16 + 16);
  EXPECT_EQ(b[0], 0x04);  // least significant byte first
  EXPECT_EQ(b[3], 0x01);
  EXPECT_EQ(b[4], 7);
  EXPECT_EQ(b[13], 2);  // the vector's u64 length
  for (int i = 14; i < 21; ++i) EXPECT_EQ(b[i], 0);

  si::ByteReader r(b.data(), b.size(), "test: truncated");
  EXPECT_EQ(r.get<std::uint32_t>(), 0x01020304u);
  EXPECT_EQ(r.get<std::uint8_t>(), 7);
  EXPECT_EQ(r.get<double>(), 1.5);
  std::vector<double> v;
  r.array(v, r.get<std::uint64_t>());
  EXPECT_EQ(v, (std::vector<double>{-2.0, 0.25}));
  std::vector<std::int64_t> ints;
  r.array(ints, 2);
  EXPECT_EQ(ints, (std::vector<std::int64_t>{-1, 5}));
  EXPECT_TRUE(r.done());
}

TEST(ByteIo, ReadsPastTheEndThrowTheCallersMessage) {
  const unsigned char bytes[5] = {1, 2, 3, 4, 5};
  si::ByteReader r(bytes, 5, "thing: truncated");
  EXPECT_EQ(r.get<std::uint32_t>(), 0x04030201u);
  try {
    r.get<std::uint32_t>();
    FAIL() << "read past the end";
  } catch (const si::CorruptFile& e) {
    EXPECT_STREQ(e.what(), "thing: truncated");
  }
  EXPECT_EQ(r.remaining(), 1u);  // a refused read consumes nothing
  std::vector<double> v;
  // A forged count is refused before anything is allocated.
  EXPECT_THROW(r.array(v, std::numeric_limits<std::uint64_t>::max()), si::CorruptFile);
  EXPECT_TRUE(v.empty());
  EXPECT_THROW(r.bytes(2), si::CorruptFile);
  EXPECT_EQ(*r.bytes(1), 5);
  EXPECT_TRUE(r.done());
}

TEST(Rng, MatchesTheReferenceImplementations) {
  // splitmix64 seeded with 0: the first outputs of Vigna's splitmix64.c.
  std::uint64_t state = 0;
  EXPECT_EQ(si::splitmix64_next(state), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(si::splitmix64_next(state), 0x6E789E6AA1B965F4ULL);
  EXPECT_EQ(si::splitmix64(0), 0xE220A8397B1DCDAFULL);  // the stateless form
  // xoshiro256** from the state {1, 2, 3, 4}: outputs of Vigna's xoshiro256starstar.c.
  si::Xoshiro256ss g;
  g.s[0] = 1, g.s[1] = 2, g.s[2] = 3, g.s[3] = 4;
  EXPECT_EQ(g.next(), 11520ULL);
  EXPECT_EQ(g.next(), 0ULL);
  EXPECT_EQ(g.next(), 1509978240ULL);
  EXPECT_EQ(g.next(), 1215971899390074240ULL);
  for (int i = 0; i < 1000; ++i) {
    const double u = g.uniform();
    ASSERT_TRUE(u >= 0.0 && u < 1.0);
  }
}
