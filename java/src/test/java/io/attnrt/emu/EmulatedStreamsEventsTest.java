package io.attnrt.emu;

import static io.attnrt.emu.EmulatedCuda.assertCudaError;
import static jcuda.driver.CUevent_flags.CU_EVENT_DEFAULT;
import static jcuda.driver.CUevent_flags.CU_EVENT_DISABLE_TIMING;
import static jcuda.driver.CUstream_flags.CU_STREAM_NON_BLOCKING;
import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventQuery;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamQuery;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;
import static jcuda.driver.JCudaDriver.cuStreamWaitEvent;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Work issued on streams completes by the next synchronisation; events order and time it. */
@EmulatedDevice
class EmulatedStreamsEventsTest {
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

    @Test
    void launchOnAStreamBetweenTimedEvents() {
        int n = 4099;
        Random random = new Random(5);
        float[] a = new float[n];
        float[] b = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = random.nextFloat();
            b[i] = random.nextFloat() - 0.5f;
        }
        long bytes = (long) n * Sizeof.FLOAT;
        CUstream producer = new CUstream();
        CUstream consumer = new CUstream();
        cuStreamCreate(producer, 0);
        cuStreamCreate(consumer, CU_STREAM_NON_BLOCKING);
        CUevent start = new CUevent();
        CUevent stop = new CUevent();
        cuEventCreate(start, CU_EVENT_DEFAULT);
        cuEventCreate(stop, CU_EVENT_DEFAULT);
        CUdeviceptr da = new CUdeviceptr();
        CUdeviceptr db = new CUdeviceptr();
        CUdeviceptr dout = new CUdeviceptr();
        cuMemAlloc(da, bytes);
        cuMemAlloc(db, bytes);
        cuMemAlloc(dout, bytes);
        try {
            cuEventRecord(start, producer);
            cuMemcpyHtoDAsync(da, Pointer.to(a), bytes, producer);
            cuMemcpyHtoDAsync(db, Pointer.to(b), bytes, producer);
            Pointer params = Pointer.to(Pointer.to(da), Pointer.to(db), Pointer.to(dout), Pointer.to(new int[] {n}));
            cuLaunchKernel(vectorAdd, (n + 255) / 256, 1, 1, 256, 1, 1, 0, producer, params, null);
            cuEventRecord(stop, producer);
            // The consumer stream reads the result only after the producer's stop event.
            cuStreamWaitEvent(consumer, stop, 0);
            float[] out = new float[n];
            cuMemcpyDtoHAsync(Pointer.to(out), dout, bytes, consumer);
            cuStreamSynchronize(consumer);
            cuEventSynchronize(stop);
            assertEquals(CUresult.CUDA_SUCCESS, cuEventQuery(stop));
            assertEquals(CUresult.CUDA_SUCCESS, cuStreamQuery(producer));
            for (int i = 0; i < n; i++) {
                assertEquals(a[i] + b[i], out[i], 0.0f, "element " + i);
            }
            float[] ms = new float[1];
            cuEventElapsedTime(ms, start, stop);
            assertTrue(ms[0] >= 0 && ms[0] < 60_000, ms[0] + " ms");
        } finally {
            cuMemFree(da);
            cuMemFree(db);
            cuMemFree(dout);
            cuEventDestroy(start);
            cuEventDestroy(stop);
            cuStreamDestroy(producer);
            cuStreamDestroy(consumer);
        }
    }

    @Test
    void elapsedTimeNeedsTwoRecordedTimingEvents() {
        CUevent timed = new CUevent();
        CUevent untimed = new CUevent();
        CUevent neverRecorded = new CUevent();
        cuEventCreate(timed, CU_EVENT_DEFAULT);
        cuEventCreate(untimed, CU_EVENT_DISABLE_TIMING);
        cuEventCreate(neverRecorded, CU_EVENT_DEFAULT);
        try {
            cuEventRecord(timed, null);
            cuEventRecord(untimed, null);
            float[] ms = new float[1];
            assertCudaError("CUDA_ERROR_INVALID_HANDLE", () -> cuEventElapsedTime(ms, timed, untimed));
            assertCudaError("CUDA_ERROR_INVALID_HANDLE", () -> cuEventElapsedTime(ms, timed, neverRecorded));
            cuEventElapsedTime(ms, timed, timed);
            assertEquals(0f, ms[0]);
        } finally {
            cuEventDestroy(timed);
            cuEventDestroy(untimed);
            cuEventDestroy(neverRecorded);
        }
    }
}
