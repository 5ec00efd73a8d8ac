package io.attnrt.emu;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemAllocHost;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemGetAddressRange;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoD;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemsetD16;
import static jcuda.driver.JCudaDriver.cuMemsetD32;
import static jcuda.driver.JCudaDriver.cuMemsetD32Async;
import static jcuda.driver.JCudaDriver.cuMemsetD8;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Allocations, copies in every direction, memsets: the bytes that come back are the bytes that went in. */
@EmulatedDevice
class EmulatedMemoryTest {
    private static EmulatedCuda cuda;
    private final List<CUdeviceptr> allocations = new ArrayList<>();
    private final Random random = new Random(42);

    @BeforeAll
    static void open() {
        cuda = EmulatedCuda.open();
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    @AfterEach
    void freeAll() {
        for (CUdeviceptr p : allocations) {
            cuMemFree(p);
        }
    }

    private CUdeviceptr alloc(long bytes) {
        CUdeviceptr p = new CUdeviceptr();
        cuMemAlloc(p, bytes);
        allocations.add(p);
        return p;
    }

    private float[] randomFloats(int n) {
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return values;
    }

    private static float[] download(CUdeviceptr p, int n) {
        float[] out = new float[n];
        cuMemcpyDtoH(Pointer.to(out), p, (long) n * Sizeof.FLOAT);
        return out;
    }

    @Test
    void hostToDeviceToHostRoundTrip() {
        int n = 10_007;
        float[] data = randomFloats(n);
        CUdeviceptr p = alloc((long) n * Sizeof.FLOAT);
        cuMemcpyHtoD(p, Pointer.to(data), (long) n * Sizeof.FLOAT);
        assertArrayEquals(data, download(p, n));
    }

    @Test
    void deviceToDeviceCopyBetweenOffsets() {
        int n = 1000;
        float[] data = randomFloats(n);
        float[] background = randomFloats(n);
        CUdeviceptr src = alloc((long) n * Sizeof.FLOAT);
        CUdeviceptr dst = alloc((long) n * Sizeof.FLOAT);
        cuMemcpyHtoD(src, Pointer.to(data), (long) n * Sizeof.FLOAT);
        cuMemcpyHtoD(dst, Pointer.to(background), (long) n * Sizeof.FLOAT);
        // src[100, 400) -> dst[500, 800)
        cuMemcpyDtoD(dst.withByteOffset(500L * Sizeof.FLOAT), src.withByteOffset(100L * Sizeof.FLOAT),
                300L * Sizeof.FLOAT);
        float[] expected = background.clone();
        System.arraycopy(data, 100, expected, 500, 300);
        assertArrayEquals(expected, download(dst, n));
    }

    @Test
    void memsetsWriteTheirPatternAndNothingElse() {
        int bytes = 4096;
        byte[] background = new byte[bytes];
        random.nextBytes(background);
        CUdeviceptr p = alloc(bytes);
        cuMemcpyHtoD(p, Pointer.to(background), bytes);
        cuMemsetD8(p.withByteOffset(3), (byte) 0x5a, 101);
        cuMemsetD16(p.withByteOffset(1000), (short) 0x1234, 50);
        cuMemsetD32(p.withByteOffset(2000), 0xdeadbeef, 25);
        byte[] expected = background.clone();
        Arrays.fill(expected, 3, 104, (byte) 0x5a);
        for (int i = 0; i < 50; i++) { // little-endian device memory
            expected[1000 + 2 * i] = 0x34;
            expected[1001 + 2 * i] = 0x12;
        }
        for (int i = 0; i < 25; i++) {
            expected[2000 + 4 * i] = (byte) 0xef;
            expected[2001 + 4 * i] = (byte) 0xbe;
            expected[2002 + 4 * i] = (byte) 0xad;
            expected[2003 + 4 * i] = (byte) 0xde;
        }
        byte[] actual = new byte[bytes];
        cuMemcpyDtoH(Pointer.to(actual), p, bytes);
        assertArrayEquals(expected, actual);
    }

    @Test
    void asyncCopiesAndMemsetOnAStream() {
        int n = 777;
        float[] data = randomFloats(n);
        CUstream stream = new CUstream();
        cuStreamCreate(stream, 0);
        try {
            CUdeviceptr a = alloc((long) n * Sizeof.FLOAT);
            CUdeviceptr b = alloc((long) n * Sizeof.FLOAT);
            cuMemcpyHtoDAsync(a, Pointer.to(data), (long) n * Sizeof.FLOAT, stream);
            cuMemcpyDtoDAsync(b, a, (long) n * Sizeof.FLOAT, stream);
            cuMemsetD32Async(b, Float.floatToRawIntBits(-2.5f), 10, stream);
            float[] out = new float[n];
            cuMemcpyDtoHAsync(Pointer.to(out), b, (long) n * Sizeof.FLOAT, stream);
            cuStreamSynchronize(stream);
            float[] expected = data.clone();
            Arrays.fill(expected, 0, 10, -2.5f);
            assertArrayEquals(expected, out);
        } finally {
            cuStreamDestroy(stream);
        }
    }

    @Test
    void pageLockedHostMemoryRoundTrip() {
        int n = 513;
        float[] data = randomFloats(n);
        Pointer host = new Pointer();
        cuMemAllocHost(host, (long) n * Sizeof.FLOAT);
        try {
            FloatBuffer buffer = host.getByteBuffer(0, (long) n * Sizeof.FLOAT).order(ByteOrder.nativeOrder())
                    .asFloatBuffer();
            buffer.put(data);
            CUdeviceptr p = alloc((long) n * Sizeof.FLOAT);
            cuMemcpyHtoD(p, host, (long) n * Sizeof.FLOAT);
            assertArrayEquals(data, download(p, n));
        } finally {
            cuMemFreeHost(host);
        }
    }

    @Test
    void addressRangeOfAnInteriorPointerIsItsAllocation() {
        CUdeviceptr p = alloc(1000);
        CUdeviceptr base = new CUdeviceptr();
        long[] size = new long[1];
        cuMemGetAddressRange(base, size, p.withByteOffset(123));
        assertEquals(p, base);
        assertTrue(size[0] >= 1000, "size " + size[0]);
        if (!EmulatedCuda.onRealGpu()) {
            assertEquals(1000, size[0]); // the emulator tracks the exact size, so overruns are caught exactly
        }
    }

    @Test
    void freshAllocationsReadAsNaN() {
        assumeFalse(EmulatedCuda.onRealGpu(), "real device memory starts with whatever was there");
        // Emulator poison: a kernel that reads memory nobody wrote gets NaN (in f32, f16 and bf16 alike).
        CUdeviceptr p = alloc(64L * Sizeof.FLOAT);
        for (float value : download(p, 64)) {
            assertTrue(Float.isNaN(value), "fresh allocation holds " + value);
        }
    }
}
