/*
 * attnrt_emu_abi.h — the C interface between an emulated-kernel library (built by
 * scripts/emu-kernels.sh from .cu sources) and the fake CUDA driver that dlopen's it.
 *
 * TEST TARGET ONLY: the emulated device exists so kernels can be checked against a CPU
 * reference on machines without a GPU. It is never used in production.
 *
 * A kernel library exports attnrt_emu_kernel_table and attnrt_emu_seed, and may export
 * attnrt_emu_set_describer (libraries built by emu-kernels.sh do; the driver calls it when present).
 */
#ifndef ATTNRT_EMU_ABI_H
#define ATTNRT_EMU_ABI_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Return codes of attnrt_emu_launch_fn. */
#define ATTNRT_EMU_OK 0
/* The launch configuration is invalid (zero or oversized dims, > 1024 threads per block,
   dynamic shared memory above the kernel's max_dynamic_smem): map to CUDA_ERROR_INVALID_VALUE. */
#define ATTNRT_EMU_INVALID_LAUNCH 1
/* A device-side fault stopped the grid (__trap, failed assert, misaligned ldmatrix/cp.async,
   warp-collective misuse, barrier deadlock): map to CUDA_ERROR_LAUNCH_FAILED. The library has
   printed the reason to stderr, prefixed "attnrt-emu:". */
#define ATTNRT_EMU_FAULT 2
/* A kernel fiber touched memory it may not (SIGSEGV/SIGBUS: a guard page next to an allocation, an unmapped
   or freed address, a fiber stack overflow): map to CUDA_ERROR_ILLEGAL_ADDRESS, sticky for the context. The
   library has printed one line naming the kernel, block, thread and address to stderr ("attnrt-emu:"). */
#define ATTNRT_EMU_ILLEGAL_ADDRESS 3

/* Runs the WHOLE grid synchronously: blocks spread over worker threads, the threads of a block
   as cooperative fibers. kernel_params follows cuLaunchKernel: kernel_params[i] points at the
   value of parameter i; the values are copied before the call returns to the caller's control
   of those buffers (i.e. at launch). Concurrent calls are serialized. */
typedef int (*attnrt_emu_launch_fn)(const unsigned grid[3], const unsigned block[3],
                                    unsigned dynamic_smem_bytes, void** kernel_params);

typedef struct {
    const char* name;            /* the extern "C" name, equal to the PTX .entry name */
    attnrt_emu_launch_fn launch;
    unsigned max_dynamic_smem;   /* the opt-in maximum per block (bytes); the driver should still
                                    apply CUDA's 48 KB default unless cuFuncSetAttribute raised it */
} attnrt_emu_kernel;

/* All kernels of this library; *count receives their number. The array lives as long as the
   library. */
const attnrt_emu_kernel* attnrt_emu_kernel_table(int* count);

/* The seed that orders fibers between barriers: from env ATTNRT_EMU_SEED (decimal) if set, else
   from the clock. Printed to stderr once, at the first launch, as
   "attnrt-emu: fiber-order seed N (LIBRARY)"; rerun with ATTNRT_EMU_SEED=N to reproduce an order
   (the order of each block depends on the seed, the launch's index in the process and the block). */
unsigned long long attnrt_emu_seed(void);

/* Writes into out (len bytes, NUL-terminated) where address lies relative to the nearest live allocation of
   the device. Provided by the driver; called on the worker thread of a faulting kernel fiber. */
typedef void (*attnrt_emu_describe_fn)(const void* address, char* out, size_t len);

/* Optional export: the driver hands over its describer right after dlopen. */
void attnrt_emu_set_describer(attnrt_emu_describe_fn describe);

#ifdef __cplusplus
}
#endif

#endif /* ATTNRT_EMU_ABI_H */
