# Copyright (c) 2025 The azure-iot-hub-rs authors
# SPDX-License-Identifier: Apache-2.0
#
# azure_iot_hub_rs_rust_target(<out-var>)
#
# Picks the Rust target triple that matches the Zephyr build, from the Kconfig symbols of the
# CPU and of its floating-point ABI. The cache variable AZURE_IOT_HUB_RUST_TARGET overrides the
# choice (for example for a custom target JSON).

function(azure_iot_hub_rs_rust_target out)
  if(AZURE_IOT_HUB_RUST_TARGET)
    set(${out} ${AZURE_IOT_HUB_RUST_TARGET} PARENT_SCOPE)
    return()
  endif()

  set(hf "")
  if(CONFIG_FP_HARDABI)
    # Hard-float calling convention. With CONFIG_FP_SOFTABI the FPU may still be used inside
    # functions, but arguments travel in integer registers: that is the plain "eabi" target.
    set(hf "hf")
  endif()

  if(CONFIG_ARCH_POSIX)
    # native_sim / native_posix: the image is linked with the host C library.
    if(CONFIG_64BIT)
      set(target x86_64-unknown-linux-gnu)
    else()
      set(target i686-unknown-linux-gnu)
    endif()
  elseif(CONFIG_CPU_CORTEX_M)
    if(CONFIG_CPU_CORTEX_M0 OR CONFIG_CPU_CORTEX_M0PLUS OR CONFIG_CPU_CORTEX_M1)
      set(target thumbv6m-none-eabi)
    elseif(CONFIG_CPU_CORTEX_M3)
      set(target thumbv7m-none-eabi)
    elseif(CONFIG_CPU_CORTEX_M4 OR CONFIG_CPU_CORTEX_M7)
      set(target thumbv7em-none-eabi${hf})
    elseif(CONFIG_CPU_CORTEX_M23 OR CONFIG_ARMV8_M_BASELINE)
      set(target thumbv8m.base-none-eabi)
    elseif(CONFIG_CPU_CORTEX_M33 OR CONFIG_CPU_CORTEX_M35P OR CONFIG_CPU_CORTEX_M55
           OR CONFIG_ARMV8_M_MAINLINE)
      # Cortex-M55 is v8.1-M; the v8-M mainline target runs on it.
      set(target thumbv8m.main-none-eabi${hf})
    elseif(CONFIG_ARMV7_M_ARMV8_M_MAINLINE)
      set(target thumbv7m-none-eabi)
    endif()
  elseif(CONFIG_RISCV)
    if(CONFIG_64BIT)
      set(target riscv64gc-unknown-none-elf)
    elseif(CONFIG_RISCV_ISA_EXT_M AND CONFIG_RISCV_ISA_EXT_A AND CONFIG_RISCV_ISA_EXT_C)
      set(target riscv32imac-unknown-none-elf)
    elseif(CONFIG_RISCV_ISA_EXT_M AND CONFIG_RISCV_ISA_EXT_C)
      set(target riscv32imc-unknown-none-elf)
    else()
      set(target riscv32i-unknown-none-elf)
    endif()
  elseif(CONFIG_X86 AND CONFIG_64BIT)
    set(target x86_64-unknown-none)
  endif()

  if(NOT target)
    message(FATAL_ERROR
      "azure-iot-hub-rs: no Rust target is known for this board (${BOARD}). "
      "Set -DAZURE_IOT_HUB_RUST_TARGET=<triple>.")
  endif()
  set(${out} ${target} PARENT_SCOPE)
endfunction()
