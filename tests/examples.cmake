# examples.cmake — one CTest test per program in examples/: run it and compare
# its output with the chapter's printed values in tests/expected/<name>.txt.
# learn_kernel starts from a random kernel, so only its deterministic first
# lines are compared; its losses and learned kernel are checked by range.

foreach(name corr2d edge_detection padding_stride channels pooling)
  add_test(NAME example_${name}
           COMMAND ${CMAKE_COMMAND} -DPROG=${PROJECT_BINARY_DIR}/examples/${name}
                   -DEXPECTED=${PROJECT_SOURCE_DIR}/tests/expected/${name}.txt
                   -P ${PROJECT_SOURCE_DIR}/tests/cmake/run_example.cmake)
endforeach()

add_test(NAME example_learn_kernel
         COMMAND ${CMAKE_COMMAND} -DPROG=${PROJECT_BINARY_DIR}/examples/learn_kernel
                 -DEXPECTED=${PROJECT_SOURCE_DIR}/tests/expected/learn_kernel.txt -DMODE=learn_kernel
                 -P ${PROJECT_SOURCE_DIR}/tests/cmake/run_example.cmake)
