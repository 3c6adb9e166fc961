// The report of `srgan bench kernels`: the table on stdout and the JSON file, from the rows that
// tools/cli/cmd_bench_cuda.cu timed and checked.
#pragma once
#include <string>

#include "tools/cli/bench_kernel_rows.h"

namespace srgan::app {

// FLOP/s or bytes/s of a timed row (its work over its median time).
double row_rate(const Row& r);
// That rate as a percentage of the measured peak the row is held to (fp32, TF32 or copy).
double row_pct_peak(const Env& e, const Row& r);

void print_kernel_table(const Report& rep);
// The peaks and every row as JSON, written atomically (data/atomic_file.h).
void write_kernel_json(const Report& rep, const std::string& path);

}  // namespace srgan::app
