# The C++ API in the wheel: the core's headers, the core as a static library
# and a CMake package config, so that a C++ service links the same core:
#
#   find_package(superinstance CONFIG REQUIRED)   # -Dsuperinstance_DIR=$(python -c
#   target_link_libraries(app PRIVATE superinstance::core)  #  "import superinstance; print(superinstance.get_cmake_dir())")
#
# Layout inside the installed package (site-packages/superinstance/):
#   include/<component>/*.hpp, include/realtime_core/rate_state.h   (= cpp/)
#   lib/libsuperinstance_core.a      si_core: position-independent, hidden visibility
#   cmake/superinstanceConfig.cmake, superinstanceConfigVersion.cmake
#
# Static, not shared: the archive is linked into the user's program, so there is
# no run-time search path to get right (no RPATH, LD_LIBRARY_PATH or auditwheel
# grafting) and no symbol clash with the _core extension module, which keeps its
# own private copy of the core. The price is the archive's size in the wheel.
option(SUPERINSTANCE_INSTALL_CXX_API "Install the C++ headers, libsuperinstance_core.a and the CMake config" ON)

# shm_open lives in librt on glibc older than 2.34 (manylinux2014).
find_library(SI_RT_LIBRARY rt)
if(SI_RT_LIBRARY)
  target_link_libraries(si_core PUBLIC ${SI_RT_LIBRARY})
endif()

if(SUPERINSTANCE_INSTALL_CXX_API)
  set(SI_PKG superinstance)
  install(DIRECTORY "${PROJECT_SOURCE_DIR}/cpp/" DESTINATION "${SI_PKG}/include"
          FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")
  install(FILES "$<TARGET_FILE:si_core>" DESTINATION "${SI_PKG}/lib" RENAME "libsuperinstance_core.a")

  # The core's public definitions (SUPERINSTANCE_X86_KERNELS on x86), as cpp/CMakeLists.txt set them.
  get_target_property(SI_CONFIG_DEFINITIONS si_core INTERFACE_COMPILE_DEFINITIONS)
  if(NOT SI_CONFIG_DEFINITIONS)
    set(SI_CONFIG_DEFINITIONS "")
  endif()
  set(SI_CONFIG_LINK_RT "")
  if(SI_RT_LIBRARY)
    set(SI_CONFIG_LINK_RT "rt")
  endif()
  configure_file("${PROJECT_SOURCE_DIR}/cmake/superinstanceConfig.cmake.in"
                 "${PROJECT_BINARY_DIR}/superinstanceConfig.cmake" @ONLY)
  include(CMakePackageConfigHelpers)
  write_basic_package_version_file("${PROJECT_BINARY_DIR}/superinstanceConfigVersion.cmake"
                                   VERSION "${PROJECT_VERSION}" COMPATIBILITY SameMinorVersion)
  install(FILES "${PROJECT_BINARY_DIR}/superinstanceConfig.cmake" "${PROJECT_BINARY_DIR}/superinstanceConfigVersion.cmake"
          DESTINATION "${SI_PKG}/cmake")
endif()
