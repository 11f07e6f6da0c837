# cxx.cmake — test_cxx_consumer: a C++ program that includes cnn.h (C++11,
# every warning), links libcnn and trains with a callback that switches on
# ev->kind. C++ is enabled for this test only.
enable_language(CXX)
add_executable(cxx_consumer ${CMAKE_CURRENT_LIST_DIR}/cxx/consumer.cpp)
set_target_properties(cxx_consumer PROPERTIES CXX_STANDARD 11 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF
                                              RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
target_link_libraries(cxx_consumer PRIVATE cnn_shared)
add_test(NAME test_cxx_consumer
         COMMAND cxx_consumer ${PROJECT_SOURCE_DIR}/models/lenet.txt ${PROJECT_SOURCE_DIR}/tests/fixtures/step)
