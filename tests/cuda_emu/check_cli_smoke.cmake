# ctest script (cmake -P) of the CUDA emulator's command-line smoke test: `srgan train` (pretrain
# with validation and CUDA graphs, --resume, then the GAN phase) and `srgan upscale` (tiled; RGBA,
# 16-bit gray and RGB inputs), all with --device cuda on tiny images from tests/fixtures/data.
# What the library tests do not reach: argument handling, data loading and prefetch into pinned
# memory, validation, checkpoints and images written from device tensors. Variables: SRGAN (the
# binary), FIXTURES (tests/fixtures/data), WORK (a scratch folder, emptied first).
cmake_minimum_required(VERSION 3.24)
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/data" "${WORK}/val")
file(COPY "${FIXTURES}/metrics_hr.png" "${FIXTURES}/crop_gray_36x30.png" "${FIXTURES}/io_rgba.png"
     DESTINATION "${WORK}/data")  # 64x48 RGB, 36x30 gray, 24x20 RGBA
file(COPY "${FIXTURES}/metrics_hr.png" DESTINATION "${WORK}/val")

function(srgan)
  execute_process(COMMAND "${SRGAN}" ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "srgan ${ARGN}\nexited with ${rc}:\n${out}")
  endif()
  message(STATUS "srgan ${ARGN}: ok")
endfunction()

# Lines of a JSONL log that hold a training step ("phase") or a validation ("val_psnr").
function(count_lines file pattern out_var)
  file(STRINGS "${file}" lines REGEX "${pattern}")
  list(LENGTH lines n)
  set(${out_var} ${n} PARENT_SCOPE)
endfunction()

function(require_files)
  foreach(f ${ARGN})
    if(NOT EXISTS "${f}")
      message(FATAL_ERROR "missing ${f}")
    endif()
  endforeach()
endfunction()

set(common --data "${WORK}/data" --val "${WORK}/val" --device cuda --batch 2 --crop 16 --blocks 2 --width 8
           --log-every 1 --workers 1)
# Pretraining: steps 1-2 eager, 3-4 replayed as CUDA graphs (--cuda-graph on fails if capture does).
srgan(train ${common} --steps 4 --val-every 2 --cuda-graph on --out "${WORK}/pre")
require_files("${WORK}/pre/last.safetensors" "${WORK}/pre/best.safetensors" "${WORK}/pre/train_log.jsonl"
              "${WORK}/pre/sample_step2.png" "${WORK}/pre/sample_step4.png")
count_lines("${WORK}/pre/train_log.jsonl" "\"phase\"" steps)
count_lines("${WORK}/pre/train_log.jsonl" "\"val_psnr\"" vals)
if(NOT steps EQUAL 4 OR NOT vals EQUAL 2)
  message(FATAL_ERROR "pretrain log: ${steps} step lines and ${vals} validations (expected 4 and 2)")
endif()
srgan(train ${common} --steps 6 --val-every 2 --cuda-graph on --out "${WORK}/pre" --resume)
count_lines("${WORK}/pre/train_log.jsonl" "\"phase\"" steps)
if(NOT steps EQUAL 6)
  message(FATAL_ERROR "after --resume to step 6 the log has ${steps} step lines")
endif()
# The GAN phase from the pretrained generator (D step then G step, SRGAN-MSE: no VGG weights), on
# the TF32 kernels (--precision tf32: conv v4, the TF32 GEMM).
srgan(train ${common} --phase gan --init "${WORK}/pre/best.safetensors" --d-width 8 --steps 3 --val-every 3
      --precision tf32 --out "${WORK}/gan")
require_files("${WORK}/gan/last.safetensors" "${WORK}/gan/best.safetensors")
# Upscaling in 8-pixel LR tiles (overlap 2), three kinds of input, into a folder.
srgan(upscale "${WORK}/data/io_rgba.png" "${FIXTURES}/io_gray16.png" "${WORK}/data/metrics_hr.png"
      -o "${WORK}/up" --model "${WORK}/pre/best.safetensors" --device cuda --tile 8 --tile-overlap 2)
require_files("${WORK}/up/io_rgba_x4.png" "${WORK}/up/io_gray16_x4.png" "${WORK}/up/metrics_hr_x4.png")
srgan(upscale "${WORK}/data/metrics_hr.png" -o "${WORK}/up_tf32.png" --model "${WORK}/pre/best.safetensors"
      --device cuda --precision tf32 --tile 8 --tile-overlap 2)
require_files("${WORK}/up_tf32.png")
