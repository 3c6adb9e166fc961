#!/usr/bin/env bash
# Build step of `srgan bench counters`: writes the sm_90 SASS and resource usage of a kernel
# library (cuobjdump -sass / -res-usage) into OUT_DIR/kernels_sm90.{sass,res}, each written to a
# temporary file and renamed, so a failed dump leaves no half file behind. The kernels built for
# sm_90a alone (Hopper's wgmma and bulk tensor copy: kernels/CMakeLists.txt) follow those of sm_90.
# usage: dump_sass.sh CUOBJDUMP LIBRARY OUT_DIR
set -euo pipefail
cuobjdump=$1 lib=$2 out=$3
mkdir -p "$out"
"$cuobjdump" -sass -arch sm_90 "$lib" >"$out/kernels_sm90.sass.tmp"
"$cuobjdump" -sass -arch sm_90a "$lib" >>"$out/kernels_sm90.sass.tmp"
"$cuobjdump" -res-usage -arch sm_90 "$lib" >"$out/kernels_sm90.res.tmp"
"$cuobjdump" -res-usage -arch sm_90a "$lib" >>"$out/kernels_sm90.res.tmp"
mv "$out/kernels_sm90.sass.tmp" "$out/kernels_sm90.sass"
mv "$out/kernels_sm90.res.tmp" "$out/kernels_sm90.res"
