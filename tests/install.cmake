# install.cmake — test_install: cmake --install into a temporary prefix, then
# external programs built with pkg-config (shared and --static), with
# find_package(cnn CONFIG) and with add_subdirectory (tests/install/run.sh).
# Not in the sanitizer build: its libraries need the sanitizer runtime, which
# an outside program linked with plain pkg-config flags does not have.
if(NOT CNN_SANITIZE)
add_test(NAME test_install COMMAND bash ${PROJECT_SOURCE_DIR}/tests/install/run.sh ${PROJECT_BINARY_DIR}
                                        ${PROJECT_SOURCE_DIR})
set_tests_properties(test_install PROPERTIES TIMEOUT 900 RUN_SERIAL TRUE)
endif()
