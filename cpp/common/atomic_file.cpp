#include "common/atomic_file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "common/crc32c.hpp"
#include "common/errors.hpp"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the file format and the CRC tables assume a little-endian host");

namespace si::io {
namespace {

constexpr unsigned char kMagic[8] = {0x89, 'S', 'I', 'F', '\r', '\n', 0x1a, '\n'};

[[noreturn]] void throw_errno(const std::string& what, const std::string& path) {
  const int err = errno;
  throw IoError(err, what + " '" + path + "': " + std::strerror(err), path);
}

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Temporary files are named ".<base>.tmp-<pid>-<counter>-<clock>" beside the
// target, so that a later save can tell whose they are (see remove_stale_temps).
std::string temp_prefix(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  return dir + "." + base + ".tmp-";
}

std::string unique_temp_path(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  return temp_prefix(path) + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)) + "-" +
         std::to_string(now & 0xFFFFFF);
}

// The writer's pid if `rest` (a name after the temp prefix) is exactly
// "<pid>-<counter>-<clock>", else 0.
pid_t temp_owner(const char* rest) {
  long long fields[3];
  for (int f = 0; f < 3; ++f) {
    if (*rest < '0' || *rest > '9') return 0;
    long long v = 0;
    while (*rest >= '0' && *rest <= '9') {
      v = v * 10 + (*rest++ - '0');
      if (v > (1LL << 40)) return 0;
    }
    fields[f] = v;
    if (f < 2 && *rest++ != '-') return 0;
  }
  if (*rest != '\0' || fields[0] <= 0 || fields[0] > INT32_MAX) return 0;
  return static_cast<pid_t>(fields[0]);
}

bool process_is_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

// Removes the temporary files that earlier writers of `path` left when they
// were killed mid-save. A temp is stale only if its owner's pid no longer
// exists *and* nobody holds the flock every live writer keeps on its temp: the
// pid test guards the instant between a writer's open() and its flock(), the
// lock guards against pids that look dead from another pid namespace. Best
// effort: any error leaves the file where it is.
void remove_stale_temps(const std::string& path) noexcept {
  const std::string prefix = temp_prefix(path);
  const auto slash = prefix.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : prefix.substr(0, slash));
  const std::string name_prefix = slash == std::string::npos ? prefix : prefix.substr(slash + 1);
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (const dirent* e = ::readdir(d)) {
    if (std::strncmp(e->d_name, name_prefix.c_str(), name_prefix.size()) != 0) continue;
    const pid_t owner = temp_owner(e->d_name + name_prefix.size());
    if (owner == 0 || owner == ::getpid() || !process_is_gone(owner)) continue;
    const std::string temp = dir + "/" + e->d_name;
    const int fd = ::open(temp.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && ::flock(fd, LOCK_EX | LOCK_NB) == 0)
      ::unlink(temp.c_str());
    ::close(fd);
  }
  ::closedir(d);
}

void write_all(int fd, const unsigned char* p, std::size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write", path);
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void pwrite_all(int fd, const unsigned char* p, std::size_t n, off_t off, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, off);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write", path);
    }
    p += w;
    off += w;
    n -= static_cast<std::size_t>(w);
  }
}

void fsync_directory(const std::string& dir) {
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) throw_errno("cannot open directory", dir);
  // Some file systems refuse fsync on directories (EINVAL); the rename is done.
  if (::fsync(dfd) != 0 && errno != EINVAL) {
    const int err = errno;
    ::close(dfd);
    errno = err;
    throw_errno("cannot fsync directory", dir);
  }
  ::close(dfd);
}

void check_kind(const std::string& kind) {
  if (kind.empty() || kind.size() > kMaxKindLength)
    throw std::invalid_argument("file kind must have 1.." + std::to_string(kMaxKindLength) +
                                " characters, got '" + kind + "'");
  for (char c : kind)
    if (c < 0x21 || c > 0x7e)
      throw std::invalid_argument("file kind must be printable ASCII without spaces: '" + kind + "'");
}

}  // namespace

void check_path(const std::string& path) {
  if (path.empty()) throw std::invalid_argument("path must not be empty");
  const auto nul = path.find('\0');
  if (nul != std::string::npos)
    throw std::invalid_argument("path contains a NUL byte at position " + std::to_string(nul) +
                                " (the system would cut it to '" + path.substr(0, nul) + "')");
}

namespace {

template <class T>
T load_le(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <class T>
void store_le(unsigned char* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

}  // namespace

void encode_header(const FileHeader& h, unsigned char out[kHeaderSize]) {
  std::memset(out, 0, kHeaderSize);
  std::memcpy(out, kMagic, 8);
  std::memcpy(out + 8, h.kind.data(), std::min(h.kind.size(), kMaxKindLength));
  store_le<std::uint32_t>(out + 24, h.version);
  store_le<std::uint32_t>(out + 28, static_cast<std::uint32_t>(kHeaderSize));
  store_le<std::uint64_t>(out + 32, h.payload_size);
  store_le<std::uint32_t>(out + 40, h.payload_crc);
  store_le<std::uint32_t>(out + 44, h.flags);
  store_le<std::uint32_t>(out + 60, crc32c(out, 60));
}

FileHeader parse_header(const unsigned char* b, std::size_t file_size, std::string_view kind,
                        std::uint32_t max_version, const std::string& path) {
  const std::string where = " ('" + path + "')";
  if (file_size < kHeaderSize)
    throw CorruptFile("truncated file: " + std::to_string(file_size) +
                      " bytes, shorter than the 64-byte header" + where);
  if (std::memcmp(b, kMagic, 8) != 0)
    throw CorruptFile("not a superinstance file: bad magic" + where);
  if (load_le<std::uint32_t>(b + 60) != crc32c(b, 60))
    throw CorruptFile("corrupt header: checksum mismatch" + where);
  FileHeader h;
  const char* k = reinterpret_cast<const char*>(b + 8);
  h.kind.assign(k, strnlen(k, 16));
  h.version = load_le<std::uint32_t>(b + 24);
  h.payload_size = load_le<std::uint64_t>(b + 32);
  h.payload_crc = load_le<std::uint32_t>(b + 40);
  h.flags = load_le<std::uint32_t>(b + 44);
  if (load_le<std::uint32_t>(b + 28) != kHeaderSize || h.version == 0)
    throw CorruptFile("corrupt header: bad header size or version 0" + where);
  if (!kind.empty() && h.kind != kind)
    throw WrongFileKind("file holds a '" + h.kind + "', expected a '" + std::string(kind) + "'" +
                        where);
  if (h.version > max_version)
    throw UnsupportedVersion("'" + h.kind + "' format version " + std::to_string(h.version) +
                             " is newer than this build reads (up to " +
                             std::to_string(max_version) + "); upgrade superinstance" + where);
  if (file_size - kHeaderSize < h.payload_size)
    throw CorruptFile("truncated file: payload has " + std::to_string(file_size - kHeaderSize) +
                      " of " + std::to_string(h.payload_size) + " bytes" + where);
  if (file_size - kHeaderSize > h.payload_size)
    throw CorruptFile("corrupt file: " + std::to_string(file_size - kHeaderSize - h.payload_size) +
                      " unexpected bytes after the payload" + where);
  return h;
}

AtomicFileWriter::AtomicFileWriter(std::string path, std::string kind, std::uint32_t version,
                                   std::uint32_t flags)
    : path_(std::move(path)), kind_(std::move(kind)), version_(version), flags_(flags) {
  check_kind(kind_);
  if (version_ == 0) throw std::invalid_argument("file format version must be >= 1");
  check_path(path_);
  remove_stale_temps(path_);
  temp_path_ = unique_temp_path(path_);
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd_ < 0) throw_errno("cannot create temporary file", temp_path_);
  // Held until this process closes the file (or dies): tells remove_stale_temps
  // that the temp is live. A file system without flock just loses that guard.
  (void)::flock(fd_, LOCK_EX | LOCK_NB);
  unsigned char zero[kHeaderSize] = {};
  try {
    write_all(fd_, zero, kHeaderSize, temp_path_);  // header placeholder
  } catch (...) {
    abort();
    throw;
  }
}

AtomicFileWriter::~AtomicFileWriter() { abort(); }

void AtomicFileWriter::require_open(const char* op) const {
  if (fd_ < 0) throw Closed(std::string("cannot ") + op + ": the writer for '" + path_ +
                            "' is already committed or aborted");
}

void AtomicFileWriter::write(const void* data, std::size_t n) {
  require_open("write");
  try {
    write_all(fd_, static_cast<const unsigned char*>(data), n, temp_path_);
  } catch (...) {
    abort();
    throw;
  }
  crc_ = crc32c(data, n, crc_);
  payload_size_ += n;
}

void AtomicFileWriter::commit() {
  require_open("commit");
  try {
    FileHeader h{kind_, version_, payload_size_, crc_, flags_};
    unsigned char header[kHeaderSize];
    encode_header(h, header);
    pwrite_all(fd_, header, kHeaderSize, 0, temp_path_);
    if (::fsync(fd_) != 0) throw_errno("cannot fsync", temp_path_);
    if (::close(fd_) != 0) {
      fd_ = -1;
      throw_errno("cannot close", temp_path_);
    }
    fd_ = -1;
    if (::rename(temp_path_.c_str(), path_.c_str()) != 0) throw_errno("cannot rename onto", path_);
  } catch (...) {
    abort();
    throw;
  }
  temp_path_.clear();
  fsync_directory(directory_of(path_));
}

void AtomicFileWriter::abort() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!temp_path_.empty()) {
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
  }
}

void write_file_atomic(const std::string& path, const std::string& kind, std::uint32_t version,
                       const void* data, std::size_t n, std::uint32_t flags) {
  AtomicFileWriter w(path, kind, version, flags);
  w.write(data, n);
  w.commit();
}

namespace {

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::size_t file_size_of(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_errno("cannot stat", path);
  if (!S_ISREG(st.st_mode)) throw IoError(EINVAL, "not a regular file: '" + path + "'", path);
  return static_cast<std::size_t>(st.st_size);
}

void read_exact(int fd, unsigned char* p, std::size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read", path);
    }
    if (r == 0) throw CorruptFile("file shrank while being read ('" + path + "')");
    p += r;
    n -= static_cast<std::size_t>(r);
  }
}

void verify_payload(const FileHeader& h, const unsigned char* payload, const std::string& path) {
  if (crc32c(payload, h.payload_size) != h.payload_crc)
    throw CorruptFile("corrupt file: payload checksum mismatch ('" + path + "')");
}

}  // namespace

FileReader::FileReader(const std::string& path, std::string_view kind, std::uint32_t max_version)
    : path_(path) {
  check_path(path);
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw_errno("cannot open", path);
  try {
    const std::size_t size = file_size_of(fd_, path);
    unsigned char header[kHeaderSize] = {};
    read_exact(fd_, header, std::min(size, kHeaderSize), path);
    header_ = parse_header(header, size, kind, max_version, path);
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

FileReader::~FileReader() {
  if (fd_ >= 0) ::close(fd_);
}

void FileReader::read_payload(unsigned char* dst) {
  if (::lseek(fd_, static_cast<off_t>(kHeaderSize), SEEK_SET) < 0) throw_errno("cannot seek", path_);
  read_exact(fd_, dst, header_.payload_size, path_);
  verify_payload(header_, dst, path_);
}

LoadedFile read_file(const std::string& path, std::string_view kind, std::uint32_t max_version) {
  FileReader reader(path, kind, max_version);
  LoadedFile out;
  out.header = reader.header();
  out.payload.resize(out.header.payload_size);
  reader.read_payload(out.payload.data());
  return out;
}

MappedFile::MappedFile(const std::string& path, std::string_view kind, std::uint32_t max_version,
                       bool verify_checksum) {
  check_path(path);
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) throw_errno("cannot open", path);
  size_ = file_size_of(f.fd, path);
  if (size_ < kHeaderSize) parse_header(nullptr, size_, kind, max_version, path);  // throws
  void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, f.fd, 0);
  if (p == MAP_FAILED) throw_errno("cannot map", path);
  base_ = static_cast<unsigned char*>(p);
  try {
    header_ = parse_header(base_, size_, kind, max_version, path);
    if (verify_checksum) verify_payload(header_, payload(), path);
  } catch (...) {
    ::munmap(base_, size_);
    throw;
  }
}

MappedFile::~MappedFile() {
  if (base_) ::munmap(base_, size_);
}

}  // namespace si::io
