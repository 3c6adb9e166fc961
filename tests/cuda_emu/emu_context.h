// Switching between the CUDA emulator's fiber stacks (used by emu_scheduler.cpp).
//
//   StackContext sched, fiber;
//   context_start(fiber, stack, bytes, entry);  // entry() will run on `stack` at the first switch
//   context_switch(sched, fiber);               // saves here into sched, continues fiber
//   ... inside entry: context_switch(fiber, sched) returns to the line after the first switch.
//
// On x86-64 a switch saves the six callee-saved registers on the current stack and moves the
// stack pointer: a function call's cost, where glibc's _setjmp/_longjmp also mangle pointers and
// unwind cancellation handlers, and swapcontext makes two system calls (the signal mask). Other
// machines use ucontext's swapcontext. Every fiber shares the thread's floating-point state.
#pragma once
#include <cstddef>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace srgan::emu {

struct StackContext {
#if defined(__x86_64__)
  void* sp = nullptr;  // the saved stack pointer (the registers lie on the stack above it)
#else
  ucontext_t uc;
#endif
};

// Prepares ctx to start entry() (which must never return) on [stack, stack + bytes).
void context_start(StackContext& ctx, char* stack, size_t bytes, void (*entry)());
// Saves the running context into `from` and continues `to`.
void context_switch(StackContext& from, StackContext& to);

}  // namespace srgan::emu
