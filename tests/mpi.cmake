# mpi.cmake — data-parallel training as `mpirun -np N cnn train` runs it
# (tests/mpi/*.sh): N processes == 1 process bit for bit, mismatched
# processes, a killed process and a signal with --resume, and processes on
# separate network namespaces ("hosts"). Only for a cnn built with MPI, and
# not under the sanitizers (Open MPI's own allocations are not ours to check).
if(CNN_HAVE_MPI AND NOT CNN_SANITIZE)
  find_program(CNN_MPIRUN mpirun)
  if(CNN_MPIRUN)
    add_executable(mpi_make_data ${PROJECT_SOURCE_DIR}/tests/mpi/make_data.c)
    set_target_properties(mpi_make_data PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
    foreach(t same mismatch kill hosts)
      add_test(NAME test_mpi_${t}
               COMMAND sh ${PROJECT_SOURCE_DIR}/tests/mpi/${t}.sh $<TARGET_FILE:cnn> $<TARGET_FILE:mpi_make_data>
                       ${PROJECT_BINARY_DIR}/test_mpi_${t})
      # one at a time: each starts several processes on the machine's cores
      set_tests_properties(test_mpi_${t} PROPERTIES RESOURCE_LOCK mpi TIMEOUT 600 SKIP_RETURN_CODE 77)
    endforeach()
  endif()
endif()
