package io.attnrt.emu;

import static io.attnrt.emu.EmulatedCuda.assertCudaError;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN;
import static jcuda.driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES;
import static jcuda.driver.JCudaDriver.cuCtxPopCurrent;
import static jcuda.driver.JCudaDriver.cuCtxPushCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuFuncGetAttribute;
import static jcuda.driver.JCudaDriver.cuFuncSetAttribute;
import static jcuda.driver.JCudaDriver.cuGetErrorName;
import static jcuda.driver.JCudaDriver.cuGetErrorString;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoD;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuMemsetD32;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.util.Set;
import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Misuse gets the CUDA error a real driver gives, and the context stays usable afterwards. */
@EmulatedDevice
class EmulatedErrorCodesTest {
    /** Valid PTX (ISA 7.0 runs on every sm_80+ driver) whose kernel no kernel library emulates. */
    private static final String PTX_NOT_EMULATED = """
            //
            // hand-written for EmulatedErrorCodesTest
            //
            .version 7.0
            .target sm_80
            .address_size 64

            .visible .entry attnrt_not_emulated()
            {
                ret;
            }
            """;

    private static EmulatedCuda cuda;
    private static CUfunction vectorAdd;

    @BeforeAll
    static void open() {
        cuda = EmulatedCuda.open();
        vectorAdd = cuda.function(cuda.loadPtx("ptx/vector_add.ptx"), "vector_add");
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    private static CUdeviceptr alloc(long bytes) {
        CUdeviceptr p = new CUdeviceptr();
        cuMemAlloc(p, bytes);
        return p;
    }

    @Test
    void doubleFreeIsInvalidValue() {
        CUdeviceptr p = alloc(256);
        cuMemFree(p);
        assertCudaError("CUDA_ERROR_INVALID_VALUE", () -> cuMemFree(p));
    }

    @Test
    void freeingAnInteriorPointerIsInvalidValue() {
        CUdeviceptr p = alloc(256);
        try {
            assertCudaError("CUDA_ERROR_INVALID_VALUE", () -> cuMemFree(p.withByteOffset(16)));
        } finally {
            cuMemFree(p);
        }
    }

    @Test
    void copiesPastTheEndOfAnAllocationAreInvalidValue() {
        int n = 1000;
        long bytes = (long) n * Sizeof.FLOAT;
        float[] host = new float[n + 1];
        CUdeviceptr a = alloc(bytes);
        CUdeviceptr b = alloc(bytes);
        try {
            cuMemcpyHtoD(a, Pointer.to(host), bytes); // exactly the allocation: fine
            assertCudaError("CUDA_ERROR_INVALID_VALUE", () -> cuMemcpyHtoD(a, Pointer.to(host), bytes + 4));
            assertCudaError("CUDA_ERROR_INVALID_VALUE", () -> cuMemcpyDtoH(Pointer.to(host), a, bytes + 4));
            assertCudaError("CUDA_ERROR_INVALID_VALUE", () -> cuMemcpyDtoD(b.withByteOffset(8), a, bytes));
            assertCudaError("CUDA_ERROR_INVALID_VALUE", () -> cuMemcpyDtoD(b, a.withByteOffset(4), bytes));
        } finally {
            cuMemFree(a);
            cuMemFree(b);
        }
    }

    @Test
    void memsetPastTheEndIsInvalidValue() {
        assumeFalse(EmulatedCuda.onRealGpu(), "a real driver checks memsets against its allocation granularity only");
        CUdeviceptr p = alloc(1000);
        try {
            cuMemsetD32(p, 7, 250);
            assertCudaError("CUDA_ERROR_INVALID_VALUE", () -> cuMemsetD32(p, 7, 251));
        } finally {
            cuMemFree(p);
        }
    }

    @Test
    void unknownFunctionNameIsNotFound() {
        CUmodule module = cuda.loadPtx("ptx/vector_add.ptx");
        assertCudaError("CUDA_ERROR_NOT_FOUND", () -> cuda.function(module, "vector_sub"));
    }

    @Test
    void ptxEntryWithoutEmulationIsNotFoundOnTheEmulator() {
        CUmodule module = cuda.loadPtxText(PTX_NOT_EMULATED);
        if (EmulatedCuda.onRealGpu()) {
            assertNotNull(cuda.function(module, "attnrt_not_emulated")); // the PTX alone suffices on a GPU
        } else {
            assertCudaError("CUDA_ERROR_NOT_FOUND", () -> cuda.function(module, "attnrt_not_emulated"));
        }
    }

    @Test
    void emulatedKernelMissingFromThePtxIsNotFound() {
        // vector_add is in the kernel library but not in this module: the module decides what exists.
        CUmodule module = cuda.loadPtxText(PTX_NOT_EMULATED);
        assertCudaError("CUDA_ERROR_NOT_FOUND", () -> cuda.function(module, "vector_add"));
    }

    @Test
    void imageThatIsNotPtxIsRejected() {
        byte[] elfGarbage = "\u007fELF\u0002\u0001\u0001 not really a cubin\u0000".getBytes(StandardCharsets.ISO_8859_1);
        CudaException e = expectLoadFailure(elfGarbage);
        if (EmulatedCuda.onRealGpu()) {
            assertTrue(Set.of("CUDA_ERROR_INVALID_IMAGE", "CUDA_ERROR_INVALID_PTX", "CUDA_ERROR_NO_BINARY_FOR_GPU")
                    .contains(e.getMessage()), e.getMessage());
        } else {
            assertEquals("CUDA_ERROR_INVALID_IMAGE", e.getMessage());
            byte[] text = "// a comment, then no .version\n.target sm_80\n\u0000".getBytes(StandardCharsets.US_ASCII);
            assertEquals("CUDA_ERROR_INVALID_IMAGE", expectLoadFailure(text).getMessage());
        }
    }

    private static CudaException expectLoadFailure(byte[] image) {
        try {
            cuModuleLoadData(new CUmodule(), image);
        } catch (CudaException e) {
            return e;
        }
        throw new AssertionError("the image loaded");
    }

    @Test
    void ptxForANewerArchitectureIsInvalidPtx() {
        assumeFalse(EmulatedCuda.onRealGpu(), "what a real JIT reports here varies by driver");
        int[] major = new int[1];
        cuDeviceGetAttribute(major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, cuda.device());
        assumeTrue(major[0] < 9, "the emulated device runs sm_90 PTX with ATTNRT_EMU_CC=90");
        String sm90 = PTX_NOT_EMULATED.replace(".target sm_80", ".target sm_90");
        assertCudaError("CUDA_ERROR_INVALID_PTX", () -> cuda.loadPtxText(sm90));
    }

    @Test
    void launchesOutsideTheDeviceLimitsAreInvalidValue() {
        CUdeviceptr p = alloc(64);
        try {
            Pointer params = Pointer.to(Pointer.to(p), Pointer.to(p), Pointer.to(p), Pointer.to(new int[] {0}));
            assertCudaError("CUDA_ERROR_INVALID_VALUE",
                    () -> cuLaunchKernel(vectorAdd, 1, 1, 1, 1025, 1, 1, 0, null, params, null));
            assertCudaError("CUDA_ERROR_INVALID_VALUE",
                    () -> cuLaunchKernel(vectorAdd, 1, 1, 1, 1, 1, 65, 0, null, params, null));
            assertCudaError("CUDA_ERROR_INVALID_VALUE",
                    () -> cuLaunchKernel(vectorAdd, 0, 1, 1, 32, 1, 1, 0, null, params, null));
            assertCudaError("CUDA_ERROR_INVALID_VALUE",
                    () -> cuLaunchKernel(vectorAdd, 1, 65536, 1, 32, 1, 1, 0, null, params, null));
        } finally {
            cuMemFree(p);
        }
    }

    @Test
    void dynamicSharedMemoryAbove48KbNeedsTheOptIn() {
        CUdeviceptr p = alloc(64);
        try {
            Pointer params = Pointer.to(Pointer.to(p), Pointer.to(p), Pointer.to(p), Pointer.to(new int[] {0}));
            assertCudaError("CUDA_ERROR_INVALID_VALUE",
                    () -> cuLaunchKernel(vectorAdd, 1, 1, 1, 32, 1, 1, 48 * 1024 + 16, null, params, null));
            int[] optin = new int[1];
            cuDeviceGetAttribute(optin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, cuda.device());
            assertCudaError("CUDA_ERROR_INVALID_VALUE",
                    () -> cuFuncSetAttribute(vectorAdd, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, optin[0] + 1));
            cuFuncSetAttribute(vectorAdd, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 64 * 1024);
            int[] value = new int[1];
            cuFuncGetAttribute(value, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, vectorAdd);
            assertEquals(64 * 1024, value[0]);
            cuFuncSetAttribute(vectorAdd, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 48 * 1024);
        } finally {
            cuMemFree(p);
        }
    }

    @Test
    void kernelWritingPastItsBufferIsIllegalAddress() {
        assumeFalse(EmulatedCuda.onRealGpu(), "a real GPU does not fault on writes inside its allocation granularity");
        int n = 1001;
        float[] ones = new float[n];
        java.util.Arrays.fill(ones, 1f);
        // In a context of its own: an illegal address ruins the context it happens in, as on a GPU.
        try (EmulatedCuda own = EmulatedCuda.open()) {
            CUfunction add = own.function(own.loadPtx("ptx/vector_add.ptx"), "vector_add");
            CUdeviceptr a = alloc((long) n * Sizeof.FLOAT);
            CUdeviceptr out = alloc((long) (n - 1) * Sizeof.FLOAT); // one element short
            try {
                cuMemcpyHtoD(a, Pointer.to(ones), (long) n * Sizeof.FLOAT);
                Pointer params = Pointer.to(Pointer.to(a), Pointer.to(a), Pointer.to(out), Pointer.to(new int[] {n}));
                assertCudaError("CUDA_ERROR_ILLEGAL_ADDRESS",
                        () -> cuLaunchKernel(add, (n + 127) / 128, 1, 1, 128, 1, 1, 0, null, params, null));
                // Sticky for that context: copies and launches fail with the same error.
                float[] back = new float[n - 1];
                assertCudaError("CUDA_ERROR_ILLEGAL_ADDRESS",
                        () -> cuMemcpyDtoH(Pointer.to(back), out, (long) (n - 1) * Sizeof.FLOAT));
                assertCudaError("CUDA_ERROR_ILLEGAL_ADDRESS",
                        () -> cuLaunchKernel(add, 1, 1, 1, 32, 1, 1, 0, null, params, null));
            } finally {
                cuMemFree(a);
                cuMemFree(out);
            }
        }
        // The class's context (current again) and its buffers still work.
        CUdeviceptr p = alloc(16);
        try {
            float[] four = {1f, 2f, 3f, 4f};
            cuMemcpyHtoD(p, Pointer.to(four), 16);
            float[] back = new float[4];
            cuMemcpyDtoH(Pointer.to(back), p, 16);
            assertArrayEquals(four, back);
        } finally {
            cuMemFree(p);
        }
    }

    @Test
    void errorNamesAndStringsAreTheDriversOwn() {
        String[] text = new String[1];
        cuGetErrorName(CUresult.CUDA_ERROR_INVALID_VALUE, text);
        assertEquals("CUDA_ERROR_INVALID_VALUE", text[0]);
        cuGetErrorString(CUresult.CUDA_ERROR_INVALID_VALUE, text);
        assertEquals("invalid argument", text[0]);
        cuGetErrorName(CUresult.CUDA_ERROR_ILLEGAL_ADDRESS, text);
        assertEquals("CUDA_ERROR_ILLEGAL_ADDRESS", text[0]);
        cuGetErrorString(CUresult.CUDA_ERROR_OUT_OF_MEMORY, text);
        assertEquals("out of memory", text[0]);
        assertCudaError("CUDA_ERROR_INVALID_VALUE", () -> cuGetErrorName(424242, text));
    }

    @Test
    void callsWithoutACurrentContextAreInvalidContext() {
        CUcontext popped = new CUcontext();
        cuCtxPopCurrent(popped);
        try {
            assertCudaError("CUDA_ERROR_INVALID_CONTEXT", () -> cuMemAlloc(new CUdeviceptr(), 64));
        } finally {
            cuCtxPushCurrent(popped);
        }
        assertEquals(cuda.context(), popped);
    }

    @Test
    void destroyedStreamsAndEventsAreInvalidHandles() {
        assumeFalse(EmulatedCuda.onRealGpu(), "using a destroyed handle is undefined behaviour on a real driver");
        CUstream stream = new CUstream();
        cuStreamCreate(stream, 0);
        cuStreamDestroy(stream);
        assertCudaError("CUDA_ERROR_INVALID_HANDLE", () -> cuStreamSynchronize(stream));
        CUevent event = new CUevent();
        cuEventCreate(event, 0);
        cuEventDestroy(event);
        assertCudaError("CUDA_ERROR_INVALID_HANDLE", () -> cuEventRecord(event, null));
    }
}
