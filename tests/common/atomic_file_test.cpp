#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/atomic_file.hpp"
#include "common/crc32c.hpp"
#include "common/errors.hpp"

namespace fs = std::filesystem;
using namespace si::io;

namespace {

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("si_atomic_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const char* name) const { return (dir_ / name).string(); }

  static std::vector<char> slurp(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
  }
  static void dump(const std::string& p, const std::vector<char>& bytes) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  fs::path dir_;
};

}  // namespace

TEST(Crc32c, KnownVectorsAndTableMatchesHardware) {
  const char* s = "123456789";
  EXPECT_EQ(si::crc32c(s, 9), 0xE3069283u);  // the standard CRC-32C check value
  EXPECT_EQ(si::detail::crc32c_table(s, 9, 0), 0xE3069283u);
  std::vector<unsigned char> buf(1000);
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<unsigned char>(i * 31 + 7);
  for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 63u, 1000u})
    EXPECT_EQ(si::crc32c(buf.data(), n), si::detail::crc32c_table(buf.data(), n, 0)) << n;
  // streaming equals one shot
  EXPECT_EQ(si::crc32c(buf.data() + 300, 700, si::crc32c(buf.data(), 300)), si::crc32c(buf.data(), 1000));
}

TEST_F(AtomicFileTest, RoundTrip) {
  std::string payload(100000, 'x');
  write_file_atomic(path("a.bin"), "test", 3, payload.data(), payload.size(), 7);
  auto f = read_file(path("a.bin"), "test", 3);
  EXPECT_EQ(f.header.version, 3u);
  EXPECT_EQ(f.header.flags, 7u);
  EXPECT_EQ(f.header.kind, "test");
  EXPECT_EQ(std::string(f.payload.begin(), f.payload.end()), payload);
  MappedFile m(path("a.bin"), "test", 3);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m.payload()), m.payload_size()), payload);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m.payload()) % 64, 0u);
}

TEST_F(AtomicFileTest, EmptyPayload) {
  write_file_atomic(path("e.bin"), "test", 1, nullptr, 0);
  EXPECT_TRUE(read_file(path("e.bin"), "test", 1).payload.empty());
}

TEST_F(AtomicFileTest, ReplacesAndLeavesNoTemporaries) {
  write_file_atomic(path("a.bin"), "test", 1, "old", 3);
  write_file_atomic(path("a.bin"), "test", 1, "new!", 4);
  auto f = read_file(path("a.bin"), "test", 1);
  EXPECT_EQ(std::string(f.payload.begin(), f.payload.end()), "new!");
  int entries = 0;
  for (auto& e : fs::directory_iterator(dir_)) (void)e, ++entries;
  EXPECT_EQ(entries, 1);
}

TEST_F(AtomicFileTest, AbortKeepsTheOldFile) {
  write_file_atomic(path("a.bin"), "test", 1, "old", 3);
  {
    AtomicFileWriter w(path("a.bin"), "test", 1);
    w.write("partial", 7);
    // destroyed without commit
  }
  auto f = read_file(path("a.bin"), "test", 1);
  EXPECT_EQ(std::string(f.payload.begin(), f.payload.end()), "old");
  AtomicFileWriter w(path("b.bin"), "test", 1);
  w.abort();
  EXPECT_THROW(w.write("x", 1), si::Closed);
  EXPECT_FALSE(fs::exists(path("b.bin")));
}

TEST_F(AtomicFileTest, DetectsEveryKindOfDamage) {
  std::string payload(1000, 'p');
  write_file_atomic(path("a.bin"), "test", 2, payload.data(), payload.size());
  const auto good = slurp(path("a.bin"));

  auto damaged = good;
  damaged.resize(40);  // truncated header
  dump(path("t.bin"), damaged);
  EXPECT_THROW(read_file(path("t.bin"), "test", 2), si::CorruptFile);

  damaged = good;
  damaged.resize(good.size() - 1);  // truncated payload
  dump(path("t.bin"), damaged);
  EXPECT_THROW(read_file(path("t.bin"), "test", 2), si::CorruptFile);
  EXPECT_THROW(MappedFile(path("t.bin"), "test", 2), si::CorruptFile);

  damaged = good;
  damaged[1] = 'X';  // magic
  dump(path("t.bin"), damaged);
  EXPECT_THROW(read_file(path("t.bin"), "test", 2), si::CorruptFile);

  damaged = good;
  damaged[500] ^= 1;  // one payload bit
  dump(path("t.bin"), damaged);
  EXPECT_THROW(read_file(path("t.bin"), "test", 2), si::CorruptFile);

  damaged = good;
  damaged[33] ^= 1;  // header field without fixing the header checksum
  dump(path("t.bin"), damaged);
  EXPECT_THROW(read_file(path("t.bin"), "test", 2), si::CorruptFile);

  EXPECT_THROW(read_file(path("a.bin"), "test", 1), si::UnsupportedVersion);
  EXPECT_THROW(read_file(path("a.bin"), "other", 2), si::WrongFileKind);
  EXPECT_THROW(read_file(path("missing.bin"), "test", 2), si::IoError);
}

TEST_F(AtomicFileTest, ValidatesArguments) {
  EXPECT_THROW(AtomicFileWriter(path("a"), "", 1), std::invalid_argument);
  EXPECT_THROW(AtomicFileWriter(path("a"), "sixteen-chars-xx", 1), std::invalid_argument);
  EXPECT_THROW(AtomicFileWriter(path("a"), "has space", 1), std::invalid_argument);
  EXPECT_THROW(AtomicFileWriter(path("a"), "test", 0), std::invalid_argument);
  EXPECT_THROW(AtomicFileWriter((dir_ / "no" / "dir").string(), "test", 1), si::IoError);
}
