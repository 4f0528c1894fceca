# Warnings and sanitizers are INTERFACE targets that every target links
# privately, so no flag leaks through CMAKE_C_FLAGS.
add_library(vg_warnings INTERFACE)
target_compile_options(vg_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wno-missing-field-initializers
  $<$<BOOL:${VG_WERROR}>:-Werror>)
target_compile_definitions(vg_warnings INTERFACE _GNU_SOURCE
  $<$<BOOL:${VG_TESTING}>:VG_TESTING=1>)

add_library(vg_sanitize INTERFACE)
if(VG_SANITIZE)
  target_compile_options(vg_sanitize INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(vg_sanitize INTERFACE -fsanitize=address,undefined)
endif()

# Every target of the project links this one.
add_library(vg_build INTERFACE)
target_link_libraries(vg_build INTERFACE vg_warnings vg_sanitize)
