// The data-parallel pieces that a single process can check (the 2-rank runs are ctest
// mpi_data_parallel, tests/mpi/): the synchronised batch norm's forward and backward, with a
// group of one rank, against the plain training-mode batch norm (float64) and finite differences;
// what the launcher's environment says; a process not started by mpirun is rank 0 of 1.
#include <cstdlib>

#include "core/autograd.h"
#include "core/distributed.h"
#include "core/ops.h"
#include "core/random.h"
#include "tests/gradcheck.h"
#include "tests/test_common.h"

using namespace srgan;
using srgan::test::all_close;

namespace {
struct SyncGuard {  // --sync-bn for the scope of a test
  SyncGuard() { set_batch_norm_group(&process_group()); }
  ~SyncGuard() { set_batch_norm_group(nullptr); }
};
}  // namespace

TEST_CASE("synchronised batch norm on one rank equals batch norm (values, gradients, running stats)",
          "[distributed][batch_norm]") {
  REQUIRE_FALSE(process_group().distributed());
  Rng rng(21);
  const Shape s{3, 4, 5, 6};
  const int C = 6;
  Tensor x = uniform_tensor(s, rng, -2, 3, DType::f64), g = uniform_tensor(s, rng, -1, 1, DType::f64);
  Tensor gamma = uniform_tensor({C}, rng, 0.5, 1.5, DType::f64), beta = uniform_tensor({C}, rng, -1, 1, DType::f64);
  auto run = [&](bool sync, std::vector<std::vector<double>>& out) {
    std::unique_ptr<SyncGuard> guard(sync ? new SyncGuard : nullptr);
    Tensor xi = x.clone().set_requires_grad(true), gi = gamma.clone().set_requires_grad(true);
    Tensor bi = beta.clone().set_requires_grad(true);
    Tensor rm = Tensor::zeros({C}, DType::f64), rv = Tensor::full({C}, 1.0, DType::f64);
    Tensor y = batch_norm(xi, gi, bi, rm, rv, true, 0.1, 1e-5);
    y.backward(g);
    out = {y.to_vector_f64(), xi.grad().to_vector_f64(), gi.grad().to_vector_f64(), bi.grad().to_vector_f64(),
           rm.to_vector_f64(), rv.to_vector_f64()};
  };
  std::vector<std::vector<double>> plain, synced;
  run(false, plain);
  run(true, synced);
  const char* what[] = {"y", "dx", "dgamma", "dbeta", "running_mean", "running_var"};
  for (size_t i = 0; i < plain.size(); ++i) {
    INFO(what[i]);
    // float64 throughout; the synchronised path sums in another order (two-pass statistics)
    SRGAN_REQUIRE_CLOSE(all_close(synced[i], plain[i], 1e-12, 1e-10));
  }
}

TEST_CASE("synchronised batch norm passes a gradient check", "[distributed][batch_norm][gradcheck]") {
  SyncGuard sync;
  Rng rng(22);
  const int C = 3;
  Tensor rm = Tensor::zeros({C}, DType::f64), rv = Tensor::full({C}, 1.0, DType::f64);
  std::vector<Tensor> in = {srgan::test::leaf({2, 3, 4, C}, rng), srgan::test::leaf({C}, rng, 0.5, 1.5),
                            srgan::test::leaf({C}, rng)};
  SRGAN_REQUIRE_GRADCHECK(srgan::test::gradcheck(
      [&](const std::vector<Tensor>& t) { return batch_norm(t[0], t[1], t[2], rm, rv, true, 0.1, 1e-5); }, in));
}

TEST_CASE("the launcher's world size comes from its environment", "[distributed]") {
  ::unsetenv("OMPI_COMM_WORLD_SIZE");
  ::unsetenv("PMI_SIZE");
  ::unsetenv("PMIX_SIZE");
  ::unsetenv("SLURM_NTASKS");
  CHECK(launcher_world_size() == 0);
  ::setenv("PMI_SIZE", "4", 1);
  CHECK(launcher_world_size() == 4);
  ::setenv("OMPI_COMM_WORLD_SIZE", "2", 1);  // Open MPI's name first
  CHECK(launcher_world_size() == 2);
  ::setenv("OMPI_COMM_WORLD_SIZE", "garbage", 1);
  CHECK(launcher_world_size() == 4);
  ::unsetenv("OMPI_COMM_WORLD_SIZE");
  ::unsetenv("PMI_SIZE");
  CHECK(process_group().size() == 1);
  CHECK(process_group().rank() == 0);
  CHECK_FALSE(process_group().launched());
}
