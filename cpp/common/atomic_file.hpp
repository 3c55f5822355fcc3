// Saved state: an atomic writer and a checking reader for one file format.
//
// Every file starts with a 64-byte header (little-endian):
//   0  magic        8 bytes  "\x89SIF\r\n\x1a\n" (catches text-mode mangling)
//   8  kind        16 bytes  what the file holds, e.g. "histogram", NUL padded
//  24  version      u32      format version of that kind, >= 1
//  28  header_size  u32      64
//  32  payload_size u64
//  40  payload_crc  u32      CRC-32C of the payload
//  44  flags        u32      free for the kind's use
//  48  reserved    12 bytes  zero
//  60  header_crc   u32      CRC-32C of bytes [0, 60)
// The payload follows at offset 64, so it is 64-byte aligned when mapped.
//
// Writing goes to a temporary file in the target's directory, then fsync,
// rename over the target, fsync of the directory: a reader sees the old file
// or the new one, never a mixture, whenever the writer is interrupted. The
// temporary file's name carries the writer's pid, and the writer holds a flock
// on it; a later save to the same path removes the temporaries of writers
// that died mid-save (never a live writer's).
//
// Every path is checked by check_path: a NUL byte inside it (which the system
// calls would silently cut the path at) is refused with invalid_argument.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace si::io {

inline constexpr std::size_t kHeaderSize = 64;
inline constexpr std::size_t kMaxKindLength = 15;

// Throws std::invalid_argument for an empty path or one containing a NUL byte.
void check_path(const std::string& path);

struct FileHeader {
  std::string kind;
  std::uint32_t version = 0;
  std::uint64_t payload_size = 0;
  std::uint32_t payload_crc = 0;
  std::uint32_t flags = 0;
};

class AtomicFileWriter {
 public:
  // Creates the temporary file. kind: 1..15 printable ASCII characters.
  AtomicFileWriter(std::string path, std::string kind, std::uint32_t version,
                   std::uint32_t flags = 0);
  ~AtomicFileWriter();  // abandons the temporary file unless committed
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, std::size_t n);
  // Writes the header, fsyncs, renames over the target and fsyncs the directory.
  void commit();
  // Removes the temporary file; the target is untouched. Idempotent.
  void abort() noexcept;

  std::uint64_t bytes_written() const { return payload_size_; }
  bool open() const { return fd_ >= 0; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  void require_open(const char* op) const;

  std::string path_;
  std::string temp_path_;
  std::string kind_;
  std::uint32_t version_;
  std::uint32_t flags_;
  int fd_ = -1;
  std::uint64_t payload_size_ = 0;
  std::uint32_t crc_ = 0;
};

// One call: the whole payload from memory.
void write_file_atomic(const std::string& path, const std::string& kind, std::uint32_t version,
                       const void* data, std::size_t n, std::uint32_t flags = 0);

// Parses and checks a header; throws CorruptFile, UnsupportedVersion or
// WrongFileKind. `file_size` is the whole file's size.
FileHeader parse_header(const unsigned char* bytes, std::size_t file_size, std::string_view kind,
                        std::uint32_t max_version, const std::string& path);
// Encodes a header (used by the writer, and by tests that forge files).
void encode_header(const FileHeader& h, unsigned char out[kHeaderSize]);

// Two-step reader: the constructor opens the file and checks its header, so
// that the caller can allocate the payload's destination (a Python bytes
// object, a numpy array) before read_payload() fills and verifies it.
class FileReader {
 public:
  // An empty `kind` accepts any kind.
  FileReader(const std::string& path, std::string_view kind, std::uint32_t max_version);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  const FileHeader& header() const { return header_; }
  // Reads header().payload_size bytes into dst and checks their CRC-32C.
  void read_payload(unsigned char* dst);

 private:
  std::string path_;
  int fd_ = -1;
  FileHeader header_;
};

struct LoadedFile {
  FileHeader header;
  std::vector<unsigned char> payload;
};

// Reads and fully verifies a file. An empty `kind` accepts any kind.
LoadedFile read_file(const std::string& path, std::string_view kind, std::uint32_t max_version);

// Read-only memory map of a verified file (for large indexes).
class MappedFile {
 public:
  MappedFile(const std::string& path, std::string_view kind, std::uint32_t max_version,
             bool verify_checksum = true);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const FileHeader& header() const { return header_; }
  const unsigned char* payload() const { return base_ + kHeaderSize; }
  std::size_t payload_size() const { return header_.payload_size; }

 private:
  FileHeader header_;
  unsigned char* base_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace si::io
