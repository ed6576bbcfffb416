# Debian's libcaf-dev (0.17) ships no CMake package; this finds its headers and
# libraries and exports CAF::core, CAF::io and CAF::openssl.
#
# GOTEL_CAF_PREFIX (cache, default empty) selects another CAF 0.17 install
# instead, e.g. the ThreadSanitizer build from scripts/build-caf-tsan
# (/tmp/caf-tsan): its include/ and lib/ are then the only places searched, so
# a build never mixes its headers with Debian's libraries or silently falls back
# to Debian's CAF, and the binaries get an RPATH to its lib/ so they load it at
# run time (ldd build/gotel shows <prefix>/lib/libcaf_*.so).
set(GOTEL_CAF_PREFIX "" CACHE PATH
  "Use the CAF 0.17 installed under this prefix instead of Debian's (e.g. /tmp/caf-tsan from scripts/build-caf-tsan)")
# The found paths are cached: forget them when the prefix changes.
if(NOT "${GOTEL_CAF_PREFIX}" STREQUAL "${_GOTEL_CAF_PREFIX_USED}")
  unset(CAF_INCLUDE_DIR CACHE)
  unset(CAF_CORE_LIBRARY CACHE)
  unset(CAF_IO_LIBRARY CACHE)
  unset(CAF_OPENSSL_LIBRARY CACHE)
  set(_GOTEL_CAF_PREFIX_USED "${GOTEL_CAF_PREFIX}" CACHE INTERNAL "")
endif()
if(GOTEL_CAF_PREFIX)
  set(_caf_where PATHS ${GOTEL_CAF_PREFIX} NO_DEFAULT_PATH)
  set(_caf_lib_suffixes PATH_SUFFIXES lib lib64)
  set(_caf_inc_suffixes PATH_SUFFIXES include)
else()
  set(_caf_where)
  set(_caf_lib_suffixes)
  set(_caf_inc_suffixes)
endif()
find_path(CAF_INCLUDE_DIR caf/all.hpp ${_caf_where} ${_caf_inc_suffixes})
find_library(CAF_CORE_LIBRARY caf_core ${_caf_where} ${_caf_lib_suffixes})
find_library(CAF_IO_LIBRARY caf_io ${_caf_where} ${_caf_lib_suffixes})
find_library(CAF_OPENSSL_LIBRARY caf_openssl ${_caf_where} ${_caf_lib_suffixes})
include(FindPackageHandleStandardArgs)
# caf_openssl is required: cluster.tls (docs/security.md) is built in, not optional.
find_package_handle_standard_args(CAF REQUIRED_VARS CAF_INCLUDE_DIR CAF_CORE_LIBRARY CAF_IO_LIBRARY
  CAF_OPENSSL_LIBRARY)
if(CAF_FOUND AND NOT TARGET CAF::core)
  find_package(Threads REQUIRED)
  add_library(CAF::core UNKNOWN IMPORTED)
  set_target_properties(CAF::core PROPERTIES IMPORTED_LOCATION ${CAF_CORE_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${CAF_INCLUDE_DIR} INTERFACE_LINK_LIBRARIES Threads::Threads)
  add_library(CAF::io UNKNOWN IMPORTED)
  set_target_properties(CAF::io PROPERTIES IMPORTED_LOCATION ${CAF_IO_LIBRARY}
    INTERFACE_LINK_LIBRARIES CAF::core)
  find_package(OpenSSL REQUIRED)
  add_library(CAF::openssl UNKNOWN IMPORTED)
  set_target_properties(CAF::openssl PROPERTIES IMPORTED_LOCATION ${CAF_OPENSSL_LIBRARY}
    INTERFACE_LINK_LIBRARIES "CAF::io;OpenSSL::SSL")
  if(GOTEL_CAF_PREFIX)
    # CMake already puts the directory of a library linked by full path into the
    # build tree's RPATH; say so explicitly for that directory, and for installs.
    get_filename_component(_caf_libdir ${CAF_CORE_LIBRARY} DIRECTORY)
    list(APPEND CMAKE_BUILD_RPATH ${_caf_libdir})
    list(APPEND CMAKE_INSTALL_RPATH ${_caf_libdir})
    message(STATUS "CAF from GOTEL_CAF_PREFIX: ${CAF_CORE_LIBRARY} (RPATH ${_caf_libdir})")
  endif()
endif()
