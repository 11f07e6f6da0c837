# bench.cmake — the benchmark programs run (never timed here: speed is
# measured by bench/run.sh, not by the tests). bench_model trains and runs
# each model in models/ for a few steps on the small IDX files of
# tests/fixtures/step (colour models: tests/fixtures/formats/idx4); fma_peak probes the widest FMA unit (77: the CPU has
# none it knows, skipped). Only where the benchmarks are built
# (CNN_BUILD_EXAMPLES).
if(TARGET bench_model AND TARGET fma_peak)
  file(GLOB CNN_BENCH_MODELS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/models/*.txt)
  foreach(model ${CNN_BENCH_MODELS})
    get_filename_component(name ${model} NAME_WE)
    # models for colour images run on the 3 x 32 x 32 IDX set
    set(data ${PROJECT_SOURCE_DIR}/tests/fixtures/step)
    if(name MATCHES "cifar")
      set(data ${PROJECT_SOURCE_DIR}/tests/fixtures/formats/idx4)
    endif()
    add_test(NAME bench_model_${name}
             COMMAND bench_model ${model} --data ${data} --batch 8 --threads 1
                     --warmup 1 --train-seconds 0 --infer-seconds 0 --reps 1 --latency 1,4)
  endforeach()
  add_test(NAME bench_fma_peak COMMAND fma_peak --threads 1)
  set_tests_properties(bench_fma_peak PROPERTIES SKIP_RETURN_CODE 77)
endif()
