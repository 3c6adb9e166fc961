// `srgan summary`: prints a layer table (name, type, output shape, parameters, FLOPs) of the
// generator (from a weights file, or a given size), the discriminator or the VGG19 features.
#include <cstdio>
#include <memory>

#include "core/check.h"
#include "models/discriminator.h"
#include "models/vgg19.h"
#include "tools/cli/command.h"
#include "tools/upscale/model_file.h"

using namespace srgan;

namespace {

int run(const cli::Args& a) {
  a.allow_only({"net", "model", "blocks", "width", "size", "batch"});
  const std::string net = a.get("net", "generator");
  const int size = a.get_int32("size", net == "generator" ? 24 : 96);
  const int batch = a.get_int32("batch", 1);
  Rng rng(0);
  std::unique_ptr<Module> m;
  if (net == "generator") {
    if (a.has("model")) m = app::load_generator(a.get("model", ""), Device::cpu);
    else m = std::make_unique<SRResNet>(SRResNetConfig{a.get_int32("blocks", 16), a.get_int32("width", 64)}, rng);
  } else if (net == "discriminator") {
    DiscriminatorConfig c;
    c.crop = size;
    m = std::make_unique<Discriminator>(c, rng);
  } else if (net == "vgg19") {
    m = std::make_unique<VGG19Features>(VGG19Config::phi54(), rng);
  } else {
    throw Error("--net must be generator, discriminator or vgg19, got '" + net + "'");
  }
  std::printf("%s", m->summary({batch, size, size, 3}).c_str());
  return 0;
}

SRGAN_COMMAND(cli::Command{
    "summary", "print a network's layers: output shapes, parameters, FLOPs",
    "usage: srgan summary [--net generator|discriminator|vgg19] [--model FILE] [--size N] [--batch N]\n"
    "  --net NAME      which network (default generator)\n"
    "  --model FILE    generator weights file (its size is read from the file)\n"
    "  --blocks N --width N   generator size when no file is given (16, 64)\n"
    "  --size N        input side: LR for the generator (24), HR crop otherwise (96)\n"
    "  --batch N       batch size (1)",
    &run, {}});

}  // namespace
