#!/usr/bin/env bash
# Kernel-level before/after of issue #17's shared kernels: the SIMD tables of
# an older revision (default 3d94b7b, before the change) and of this tree,
# timed in one process, alternating (scripts/kernel_ab/main.cpp). Needs the
# C++ build of this tree: cmake -S . -B build/ctest -DSUPERINSTANCE_BUILD_TESTS=ON
# -DSUPERINSTANCE_BUILD_PYTHON=OFF -DSUPERINSTANCE_CUDA=OFF && cmake --build build/ctest
#   scripts/kernel_ab.sh [REV] [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-3d94b7b}
reps=${2:-41}
old=$(mktemp -d)
trap 'rm -rf "$old"' EXIT
for f in common/vector_kernels.hpp common/vector_kernels_avx2.cpp common/vector_kernels_avx512.cpp \
         common/vector_kernels_rows.hpp common/avx2_helpers.hpp common/dispatch.hpp common/cpu_features.hpp \
         common/errors.hpp gpu_accelerator/cosine_kernels.hpp gpu_accelerator/cosine_kernels_avx2.cpp \
         gpu_accelerator/cosine_kernels_avx512.cpp frozen_model_rl/bandit_kernels.hpp \
         frozen_model_rl/bandit_kernels_avx2.cpp frozen_model_rl/bandit_kernels_avx512.cpp \
         gpu_accelerator/dp/dp_align.hpp gpu_accelerator/dp/dp_align_common.hpp \
         gpu_accelerator/dp/dp_align_avx2.cpp gpu_accelerator/dp/dp_align_avx512.cpp \
         vector_navigator/vn_kernels.hpp vector_navigator/vn_kernels_avx2.cpp vector_navigator/vn_kernels_avx512.cpp \
         vector_navigator/vn_panel_tile.hpp; do
  mkdir -p "$old/$(dirname "$f")"
  git show "$rev:cpp/$f" > "$old/$f"
done
cxx=${CXX:-g++}
flags=(-O3 -DNDEBUG -std=c++17 -DSUPERINSTANCE_X86_KERNELS=1)
# The old table symbols get an Old prefix, so that both builds link into one binary.
rename=()
for t in kVectorKernelsAvx2 kVectorKernelsAvx512 kVnKernelsAvx2 kVnKernelsAvx512 kAlignAvx2 kAlignAvx512; do
  rename+=("-D$t=Old$t")
done
avx2=(-mavx2 -mfma -mf16c)
avx512=(-mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni)
objs=()
for src in "$old"/*/*_avx2.cpp "$old"/*/dp/*_avx2.cpp "$old"/*/*_avx512.cpp "$old"/*/dp/*_avx512.cpp; do
  o="$old/$(basename "$src" .cpp).o"
  case "$src" in *_avx512.cpp) isa=("${avx512[@]}") ;; *) isa=("${avx2[@]}") ;; esac
  "$cxx" "${flags[@]}" "${rename[@]}" "${isa[@]}" -I"$old" -Iscripts/kernel_ab -c "$src" -o "$o"
  objs+=("$o")
done
"$cxx" "${flags[@]}" "${rename[@]}" -I"$old" -Iscripts/kernel_ab -c scripts/kernel_ab/old_shim.cpp -o "$old/old_shim.o"
"$cxx" "${flags[@]}" -Icpp -Iscripts/kernel_ab scripts/kernel_ab/main.cpp "$old/old_shim.o" "${objs[@]}" \
  build/ctest/cpp/libsi_core.a -lpthread -o "$old/kernel_ab"
"$old/kernel_ab" "$reps"
