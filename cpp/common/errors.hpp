// Error types thrown by the core. The Python bindings translate each one to a
// class of superinstance.errors (all derive from SuperinstanceError); standard
// exceptions keep pybind11's mapping (invalid_argument -> ValueError,
// out_of_range -> IndexError, bad_alloc -> MemoryError).
#pragma once

#include <stdexcept>
#include <string>

namespace si {

// Base of every error the library defines itself.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A saved file is damaged: truncated, wrong magic, checksum mismatch.
class CorruptFile : public Error {
 public:
  using Error::Error;
};

// A saved file was written by a newer format version than this build reads.
class UnsupportedVersion : public Error {
 public:
  using Error::Error;
};

// A saved file holds another kind of object than the one asked for.
class WrongFileKind : public Error {
 public:
  using Error::Error;
};

// An operation on an object that was closed.
class Closed : public Error {
 public:
  using Error::Error;
};

// An id that the object does not hold.
class UnknownId : public Error {
 public:
  using Error::Error;
};

// A backend (timer source, SIMD level, GPU...) that this platform refuses.
class BackendUnavailable : public Error {
 public:
  using Error::Error;
};

// A GPU was asked for and none is usable; what() says why.
class GpuUnavailable : public BackendUnavailable {
 public:
  using BackendUnavailable::BackendUnavailable;
};

// Device memory allocation failed; the device remains usable.
class GpuOutOfMemory : public Error {
 public:
  using Error::Error;
};

// The process lacks a permission (SCHED_FIFO, mlock, ...) that was required.
class PermissionDenied : public Error {
 public:
  using Error::Error;
};

// A system call failed; carries errno and the path involved, if any.
class IoError : public Error {
 public:
  IoError(int err, const std::string& what, std::string path = {})
      : Error(what), errno_(err), path_(std::move(path)) {}
  int error_number() const noexcept { return errno_; }
  const std::string& path() const noexcept { return path_; }

 private:
  int errno_;
  std::string path_;
};

}  // namespace si
