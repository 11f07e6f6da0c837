# run_example.cmake — run one example program and check its standard output.
#
#   cmake -DPROG=<program> -DEXPECTED=<file> [-DMODE=exact|learn_kernel] -P run_example.cmake
#
# MODE exact (default): stdout must equal EXPECTED byte for byte.
# MODE learn_kernel: stdout must start with EXPECTED (the print(X, Y) lines),
#   then hold "epoch 2， loss L" ... "epoch 10， loss L" with strictly falling
#   losses, the last below 0.2, and end with the learned kernel
#   "tensor([[ a, b]])" where |a - 1| and |b + 1| are both below 0.1.
# The program must exit with status 0 either way.

if(NOT PROG OR NOT EXPECTED)
  message(FATAL_ERROR "usage: cmake -DPROG=<program> -DEXPECTED=<file> [-DMODE=...] -P run_example.cmake")
endif()
if(NOT MODE)
  set(MODE exact)
endif()

# Print a long text unformatted (message(FATAL_ERROR) rewraps it), then fail.
function(fail summary details)
  message("${details}")
  message(FATAL_ERROR "${summary}")
endfunction()

execute_process(COMMAND "${PROG}" OUTPUT_VARIABLE got ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc STREQUAL "0")
  fail("${PROG} exited with '${rc}'" "stderr:\n${err}\nstdout:\n${got}")
endif()
file(READ "${EXPECTED}" want)

if(MODE STREQUAL "exact")
  if(NOT got STREQUAL want)
    fail("${PROG}: output differs from ${EXPECTED}"
         "---- expected ----\n${want}---- got ----\n${got}----")
  endif()
  return()
endif()

if(NOT MODE STREQUAL "learn_kernel")
  message(FATAL_ERROR "unknown MODE '${MODE}'")
endif()

# "1.0138" or "-0.9608" -> integer in units of 10^-digits (CMake math has no floats).
function(to_fixed out text digits)
  if(NOT text MATCHES "^(-?)([0-9]+)\\.([0-9]+)$")
    message(FATAL_ERROR "${PROG}: '${text}' is not a fixed-point number")
  endif()
  set(sign "${CMAKE_MATCH_1}")
  set(int "${CMAKE_MATCH_2}")
  string(SUBSTRING "${CMAKE_MATCH_3}000000" 0 ${digits} frac)
  if("${int}${frac}" MATCHES "^0*([0-9]+)$") # strip leading zeros
    math(EXPR value "${sign}${CMAKE_MATCH_1}")
  endif()
  set(${out} ${value} PARENT_SCOPE)
endfunction()

string(LENGTH "${want}" want_len)
string(SUBSTRING "${got}" 0 ${want_len} head)
if(NOT head STREQUAL want)
  fail("${PROG}: output does not start with ${EXPECTED}"
       "---- expected ----\n${want}---- got ----\n${got}----")
endif()
string(SUBSTRING "${got}" ${want_len} -1 rest)

set(prev "")
foreach(epoch 2 4 6 8 10)
  if(NOT rest MATCHES "epoch ${epoch}， loss ([0-9]+\\.[0-9][0-9][0-9])\n")
    message(FATAL_ERROR "${PROG}: no line 'epoch ${epoch}， loss <x.xxx>' in\n${rest}")
  endif()
  to_fixed(loss "${CMAKE_MATCH_1}" 3)
  if(NOT prev STREQUAL "" AND NOT loss LESS prev)
    message(FATAL_ERROR "${PROG}: loss did not fall at epoch ${epoch}\n${rest}")
  endif()
  set(prev ${loss})
endforeach()
if(NOT prev LESS 200)
  message(FATAL_ERROR "${PROG}: final loss is not below 0.2\n${rest}")
endif()

if(NOT rest MATCHES "\ntensor\\(\\[\\[ *(-?[0-9]+\\.[0-9]+), *(-?[0-9]+\\.[0-9]+)\\]\\]\\)\n$")
  message(FATAL_ERROR "${PROG}: the output does not end with the learned kernel tensor([[a, b]])\n${rest}")
endif()
set(a_text "${CMAKE_MATCH_1}")
set(b_text "${CMAKE_MATCH_2}")
to_fixed(a "${a_text}" 4)
to_fixed(b "${b_text}" 4)
math(EXPR da "${a} - 10000")
math(EXPR db "${b} + 10000")
if(da LESS -1000 OR da GREATER 1000 OR db LESS -1000 OR db GREATER 1000)
  message(FATAL_ERROR "${PROG}: learned kernel [${a_text}, ${b_text}] is not within 0.1 of [1, -1]")
endif()
