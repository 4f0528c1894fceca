# Warnings and sanitizers are INTERFACE targets that every target links
# privately, so no flag leaks through CMAKE_C_FLAGS.
add_library(vg_warnings INTERFACE)
target_compile_options(vg_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wno-missing-field-initializers
  $<$<BOOL:${VG_WERROR}>:-Werror>)
target_compile_definitions(vg_warnings INTERFACE _GNU_SOURCE
  $<$<BOOL:${VG_TESTING}>:VG_TESTING=1>)

# ThreadSanitizer (make tsan) cannot be combined with ASan, so it is an
# option of its own; the fuzz build (fuzz/run) adds libFuzzer's coverage
# instrumentation to every target on top of ASan + UBSan.
option(VG_TSAN "Build with ThreadSanitizer (exclusive with VG_SANITIZE)" OFF)
if(VG_TSAN AND VG_SANITIZE)
  message(FATAL_ERROR "VG_TSAN and VG_SANITIZE are mutually exclusive (TSan and ASan cannot share a process)")
endif()
if(VG_TSAN AND VG_FUZZ)
  message(FATAL_ERROR "VG_TSAN and VG_FUZZ are mutually exclusive (the fuzz targets use ASan)")
endif()

add_library(vg_sanitize INTERFACE)
if(VG_SANITIZE OR VG_FUZZ)
  target_compile_options(vg_sanitize INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(vg_sanitize INTERFACE -fsanitize=address,undefined)
endif()
if(VG_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "VG_FUZZ needs clang: configure with -DCMAKE_C_COMPILER=clang")
  endif()
  target_compile_options(vg_sanitize INTERFACE -fsanitize=fuzzer-no-link)
endif()
if(VG_TSAN)
  target_compile_options(vg_sanitize INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(vg_sanitize INTERFACE -fsanitize=thread)
endif()

# Every target of the project links this one.
add_library(vg_build INTERFACE)
target_link_libraries(vg_build INTERFACE vg_warnings vg_sanitize)
