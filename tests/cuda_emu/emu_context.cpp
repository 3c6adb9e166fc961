// Stack switching for the CUDA emulator's fibers (see emu_context.h).
#include "tests/cuda_emu/emu_context.h"

#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
// srgan_emu_swap_stack(void** save_sp, void* load_sp): pushes rbp, rbx, r12-r15 (the System V
// callee-saved registers), stores rsp in *save_sp, loads load_sp into rsp, pops the six
// registers saved there and returns to the address above them. Both stacks have the same shape
// at the switch (six registers above the stack pointer), so one call-frame description covers
// the function: a debugger or profiler can walk out of it on either side.
extern "C" void srgan_emu_swap_stack(void** save_sp, void* load_sp);
asm(R"(
  .text
  .globl srgan_emu_swap_stack
  .type srgan_emu_swap_stack, @function
srgan_emu_swap_stack:
  .cfi_startproc
  pushq %rbp
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset %rbp, 0
  pushq %rbx
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset %rbx, 0
  pushq %r12
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset %r12, 0
  pushq %r13
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset %r13, 0
  pushq %r14
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset %r14, 0
  pushq %r15
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset %r15, 0
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  .cfi_adjust_cfa_offset -8
  .cfi_restore %r15
  popq %r14
  .cfi_adjust_cfa_offset -8
  .cfi_restore %r14
  popq %r13
  .cfi_adjust_cfa_offset -8
  .cfi_restore %r13
  popq %r12
  .cfi_adjust_cfa_offset -8
  .cfi_restore %r12
  popq %rbx
  .cfi_adjust_cfa_offset -8
  .cfi_restore %rbx
  popq %rbp
  .cfi_adjust_cfa_offset -8
  .cfi_restore %rbp
  ret
  .cfi_endproc
  .size srgan_emu_swap_stack, .-srgan_emu_swap_stack
)");
#endif

namespace srgan::emu {

#if defined(__x86_64__)

void context_start(StackContext& ctx, char* stack, size_t bytes, void (*entry)()) {
  // From the 16-byte aligned top down: a null return address for entry (at an address 8 mod 16,
  // where a called function finds its return address), entry itself (where the swap's `ret`
  // goes), six zero registers for the swap to pop.
  uintptr_t top = (reinterpret_cast<uintptr_t>(stack) + bytes) & ~uintptr_t(15);
  void** slots = reinterpret_cast<void**>(top) - 8;  // 8 slots of 8 bytes: slots[0] is popped first
  std::memset(slots, 0, 8 * sizeof(void*));
  slots[6] = reinterpret_cast<void*>(entry);
  ctx.sp = slots;
}

void context_switch(StackContext& from, StackContext& to) { srgan_emu_swap_stack(&from.sp, to.sp); }

#else

void context_start(StackContext& ctx, char* stack, size_t bytes, void (*entry)()) {
  getcontext(&ctx.uc);
  ctx.uc.uc_stack.ss_sp = stack;
  ctx.uc.uc_stack.ss_size = bytes;
  ctx.uc.uc_link = nullptr;  // entry never returns
  makecontext(&ctx.uc, entry, 0);
}

void context_switch(StackContext& from, StackContext& to) { swapcontext(&from.uc, &to.uc); }

#endif

}  // namespace srgan::emu
