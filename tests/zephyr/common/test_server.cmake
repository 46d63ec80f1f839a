# Copyright (c) 2025 The azure-iot-hub-rs authors
# SPDX-License-Identifier: Apache-2.0
#
# The shared test-server plumbing (test_server.c), for a twister app's CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/../common/test_server.cmake)

set(TEST_SERVER_DIR ${CMAKE_CURRENT_LIST_DIR})
target_sources(app PRIVATE ${TEST_SERVER_DIR}/test_server.c)
target_include_directories(app PRIVATE ${TEST_SERVER_DIR})

# Compiles PEM files into the app: <dir>/<name>.pem as include/generated/<prefix><name>.pem.inc,
# for each name after the prefix.
function(test_server_pem_inc dir prefix)
  foreach(f ${ARGN})
    generate_inc_file_for_target(app ${dir}/${f}.pem
      ${ZEPHYR_BINARY_DIR}/include/generated/${prefix}${f}.pem.inc)
  endforeach()
endfunction()
