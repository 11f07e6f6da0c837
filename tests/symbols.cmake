# symbols.cmake — test_symbols: libcnn.so exports only the public API
# declared in include/cnn.h (tools/check_symbols.sh).
add_test(NAME test_symbols
         COMMAND sh ${PROJECT_SOURCE_DIR}/tools/check_symbols.sh $<TARGET_FILE:cnn_shared>
                 ${PROJECT_SOURCE_DIR}/include/cnn.h)
set_tests_properties(test_symbols PROPERTIES ENVIRONMENT "CC=${CMAKE_C_COMPILER}")
