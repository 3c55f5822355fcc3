# Decides whether CUDA code is built (SUPERINSTANCE_CUDA = AUTO | ON | OFF)
# and sets SUPERINSTANCE_WITH_CUDA accordingly.
set(SUPERINSTANCE_WITH_CUDA OFF)
if(SUPERINSTANCE_CUDA STREQUAL "OFF")
  message(STATUS "superinstance: CUDA disabled (SUPERINSTANCE_CUDA=OFF)")
  return()
elseif(NOT SUPERINSTANCE_CUDA MATCHES "^(AUTO|ON)$")
  message(FATAL_ERROR "SUPERINSTANCE_CUDA must be AUTO, ON or OFF, got '${SUPERINSTANCE_CUDA}'")
endif()

include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  if(SUPERINSTANCE_CUDA STREQUAL "ON")
    message(FATAL_ERROR
      "SUPERINSTANCE_CUDA=ON but no CUDA compiler (nvcc) was found. Install the CUDA "
      "toolkit and put nvcc on PATH (or set CMAKE_CUDA_COMPILER), or build with "
      "SUPERINSTANCE_CUDA=AUTO or OFF.")
  endif()
  message(STATUS "superinstance: nvcc not found, building without CUDA (SUPERINSTANCE_CUDA=AUTO)")
  return()
endif()

# sm_80 machine code, sm_90 machine code plus PTX so that newer GPUs can JIT it.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES "80-real;90")
endif()
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
find_package(CUDAToolkit REQUIRED)
set(SUPERINSTANCE_WITH_CUDA ON)
message(STATUS "superinstance: building CUDA module with ${CMAKE_CUDA_COMPILER} "
               "(${CMAKE_CUDA_COMPILER_VERSION}) for ${CMAKE_CUDA_ARCHITECTURES}")
