// What CUDA can do in this process. Implemented in cuda_probe.cu, built into
// the optional superinstance._cuda module against the static CUDA runtime, so
// that it loads on machines with no driver and reports why there is no GPU.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace si::gpu {

struct CudaDevice {
  int index = 0;
  std::string name;
  int major = 0;
  int minor = 0;
  std::size_t total_memory = 0;
  std::size_t free_memory = 0;
  int multiprocessors = 0;
  bool dpx_native = false;   // DPX instructions run in hardware on sm_90 and newer
  bool kernel_ok = false;    // a kernel of this build launched and returned the right value
  std::string kernel_error;  // why not, when kernel_ok is false
};

struct CudaProbe {
  int runtime_version = 0;  // e.g. 13000
  int driver_version = 0;   // 0 when no driver is installed
  std::string error;        // empty when at least one device is usable
  std::vector<CudaDevice> devices;
  std::vector<int> compiled_architectures;  // e.g. {80, 90}
};

CudaProbe probe_cuda();

}  // namespace si::gpu
