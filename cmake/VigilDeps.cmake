# Dependencies, found with pkg-config (Debian's packages ship .pc files) and,
# for mimalloc, its CMake package. `make deps` (GNUmakefile) installs them.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(URING REQUIRED IMPORTED_TARGET liburing)
pkg_check_modules(LZ4 REQUIRED IMPORTED_TARGET liblz4)
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)

set(VG_USE_MIMALLOC OFF)
if(VG_MIMALLOC AND NOT VG_SANITIZE AND NOT VG_TESTING)
  find_package(mimalloc CONFIG REQUIRED)
  set(VG_USE_MIMALLOC ON)
endif()

# The query layer prints JSON with jansson.
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)

# The shell's line editing (history, completion).
pkg_check_modules(LIBEDIT REQUIRED IMPORTED_TARGET libedit)

# vigild: the HTTP API, gzip bodies, the config file, token hashing.
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
pkg_check_modules(YAML REQUIRED IMPORTED_TARGET yaml-0.1)
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
pkg_check_modules(CRYPTO REQUIRED IMPORTED_TARGET libcrypto)

# The remote CLI (vigil ... --connect URL) talks to vigild with libcurl.
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
