/* attnrt_emu_driver.h — what the emulated libcuda.so.1 exports beyond the CUDA driver API.
 *
 * The emulated device's memory is host memory: a CUdeviceptr is the address of a region the fake driver
 * allocated. These helpers let the fake cuBLAS and the emulated kernels check an access against the live
 * allocations before touching memory, so an out-of-bounds access becomes a clear error instead of silent
 * corruption of the test JVM. Test-only: nothing in the attnrt runtime links against this.
 */
#ifndef ATTNRT_EMU_DRIVER_H
#define ATTNRT_EMU_DRIVER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when [ptr, ptr + bytes) lies inside one live allocation of the emulated device (device memory or
 * mapped page-locked host memory), else 0 with a one-line reason in why (when why_len > 0). */
int attnrt_emu_check_range(const void* ptr, size_t bytes, char* why, size_t why_len);

#ifdef __cplusplus
}
#endif

#endif
