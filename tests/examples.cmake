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

# The library's use (examples/train_lenet.c, classify.c, custom_loop.c), each
# checked against the cnn tool doing the same (tests/cmake/library_example.cmake).
foreach(mode train classify custom_loop)
  add_test(NAME example_library_${mode}
           COMMAND ${CMAKE_COMMAND} -DMODE=${mode} -DBIN=${PROJECT_BINARY_DIR} -DSRC=${PROJECT_SOURCE_DIR}
                   -DOUT=${PROJECT_BINARY_DIR}/example_library_${mode}
                   -P ${PROJECT_SOURCE_DIR}/tests/cmake/library_example.cmake)
endforeach()
