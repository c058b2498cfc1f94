# Sourced by test.sh and demo.sh: the one CMake configuration they share.
# shellcheck shell=bash

# weft_configure <build-dir>: Ninja, g++, Release with assertions (-O2 -g,
# no -DNDEBUG), warnings as errors, tests, examples and benchmarks on.
weft_configure() {
  local dir=$1 gxx cached
  gxx=$(command -v g++)
  # A build folder made with another generator or compiler cannot be
  # reconfigured in place: start it afresh (keeps nothing but objects).
  if [[ -f $dir/CMakeCache.txt ]]; then
    cached=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$dir/CMakeCache.txt")
    if ! grep -qx 'CMAKE_GENERATOR:INTERNAL=Ninja' "$dir/CMakeCache.txt" ||
       [[ -z $cached || $(realpath "$cached") != $(realpath "$gxx") ]]; then
      echo "weft: $dir was configured with another generator or compiler; reconfiguring it"
      rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
    fi
  fi
  local compiler=()
  [[ -f $dir/CMakeCache.txt ]] || compiler=(-DCMAKE_CXX_COMPILER="$gxx")
  cmake -S . -B "$dir" -G Ninja "${compiler[@]}" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS_RELEASE="-O2 -g" \
    -DWEFT_WERROR=ON \
    -DWEFT_SANITIZE= \
    -DWEFT_BUILD_TESTS=ON \
    -DWEFT_BUILD_EXAMPLES=ON \
    -DWEFT_BUILD_BENCH=ON
}
