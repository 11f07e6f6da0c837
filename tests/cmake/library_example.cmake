# library_example.cmake — run one library example (examples/train_lenet.c,
# classify.c, custom_loop.c) and check it against the cnn tool, which does the
# same through the library's own loop:
#
#   cmake -DMODE=train|classify|custom_loop -DBIN=<build dir> -DSRC=<source dir> -DOUT=<scratch dir>
#         -P library_example.cmake
#
#   train        train_lenet's saved weights are byte for byte those of
#                `cnn train` with the same settings;
#   classify     classify prints the line `cnn predict` prints for the image;
#   custom_loop  the hand-written loop's loss and accuracy per epoch are those
#                of `cnn train --no-shuffle --init default` (same batches).

set(step ${SRC}/tests/fixtures/step)
set(lenet ${SRC}/models/lenet.txt)
file(MAKE_DIRECTORY ${OUT})

function(run out_var)
  execute_process(COMMAND ${ARGN} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc STREQUAL "0")
    message("stdout:\n${out}\nstderr:\n${err}")
    message(FATAL_ERROR "${ARGN}: exit ${rc}")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()

if(MODE STREQUAL "train")
  file(REMOVE ${OUT}/example.safetensors ${OUT}/tool.safetensors)
  run(ex ${BIN}/examples/train_lenet ${step} ${lenet} ${OUT}/example.safetensors)
  run(tool ${BIN}/cnn train -d ${step} -m ${lenet} -e 3 -b 16 --optimizer adam -l 0.01 -q -o ${OUT}/tool.safetensors)
  if(NOT ex MATCHES "epoch 3: loss [0-9.]+, train acc [0-9.]+, test acc [0-9.]+, lr 0.01\n")
    message(FATAL_ERROR "train_lenet printed no progress line for epoch 3:\n${ex}")
  endif()
  file(SHA256 ${OUT}/example.safetensors a)
  file(SHA256 ${OUT}/tool.safetensors b)
  if(NOT a STREQUAL b)
    message(FATAL_ERROR "train_lenet's weights differ from cnn train's with the same settings")
  endif()
elseif(MODE STREQUAL "classify")
  set(png ${SRC}/tests/fixtures/step_t10k_0.png)
  set(w ${SRC}/tests/fixtures/lenet_torch.safetensors)
  run(ex ${BIN}/examples/classify ${lenet} ${w} ${png})
  run(tool ${BIN}/cnn predict -m ${lenet} -w ${w} ${png})
  if(NOT ex STREQUAL tool OR NOT ex MATCHES ": [a-z -]+ \\(0\\.[0-9]+\\)\n$")
    message(FATAL_ERROR "classify printed\n  ${ex}cnn predict printed\n  ${tool}")
  endif()
elseif(MODE STREQUAL "custom_loop")
  run(ex ${BIN}/examples/custom_loop ${step} ${lenet})
  run(tool ${BIN}/cnn train -d ${step} -m ${lenet} -e 5 -b 16 --optimizer adam -l 0.01 --init default --no-shuffle)
  string(REGEX MATCHALL "loss [0-9.]+, train acc [0-9.]+" a "${ex}")
  string(REGEX MATCHALL "epoch [0-9]/5: loss [0-9.]+, train acc [0-9.]+" b "${tool}")
  string(REGEX REPLACE "epoch [0-9]/5: " "" b "${b}")
  list(LENGTH a n)
  if(NOT n EQUAL 5 OR NOT a STREQUAL b)
    message(FATAL_ERROR "custom_loop: ${a}\ncnn train:   ${b}")
  endif()
else()
  message(FATAL_ERROR "MODE must be train, classify or custom_loop")
endif()
