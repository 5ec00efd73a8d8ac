package io.attnrt.emu;

import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.attnrt.emu.ElementwiseKernelTest.Dev;
import io.attnrt.tensor.DType;
import io.attnrt.tensor.HalfFloats;
import io.attnrt.tensor.Quant;
import java.util.Random;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUmodule;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * cuda/dequant.cu and the block decoding of cuda/include/attnrt_quant.cuh that the quantized GEMV shares:
 * every quantized type decoded on the device equals {@link Quant#dequantize} bit for bit (f32 out), and
 * the 16-bit outputs are that value rounded once. The tables mix three kinds of rows: random bytes (about
 * 1500 quant bytes per type, so every 4-, 5-, 6- and 8-bit quant value, and random scale bit patterns:
 * negative and subnormal f16 scales, plus a planted Inf scale), rows of
 * {@link Quant#fillRandom} blocks (realistic scales), and an all-zero row. Row ids outside the table
 * write zeros; the {@code rows == null} form decodes {@code rowBase + i}.
 */
@EmulatedDevice
class DequantKernelTest {
    private static final DType[] QUANT = {DType.Q8_0, DType.Q4_0, DType.Q4_K, DType.Q5_K, DType.Q6_K};
    private static final DType[] OUTS = {DType.F32, DType.F16, DType.BF16};
    private static EmulatedCuda cuda;
    private static CUmodule dequant;

    @BeforeAll
    static void open() {
        cuda = EmulatedCuda.open();
        dequant = cuda.loadPtx("ptx/dequant.ptx");
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    @Test
    void everyTypeDecodesExactlyAsTheHostDoesIntoEveryOutputType() {
        int in = 512;
        int tableRows = 6;
        for (DType q : QUANT) {
            byte[] table = table(q, tableRows, in, 17 + q.ordinal());
            float[] exact = new float[tableRows * in];
            Quant.dequantize(q, table, 0, exact, 0, exact.length);
            int[] rows = {5, 0, -1, 3, tableRows, 1, 2, 5, 4};
            for (DType o : OUTS) {
                try (Dev dev = new Dev()) {
                    CUdeviceptr w = dev.alloc(table.length);
                    cuMemcpyHtoD(w, Pointer.to(table), table.length);
                    CUdeviceptr ids = dev.upload(rows);
                    CUdeviceptr out = dev.alloc((long) rows.length * in * 4);
                    String name = "dequant_rows_" + Dev.suffix(q, o);
                    Dev.launch(cuda.function(dequant, name), rows.length, 1, 128,
                            w, tableRows, in, ids, 0, rows.length, out, in);
                    float[] got = dev.download(o, out, rows.length * in);
                    for (int i = 0; i < rows.length; i++) {
                        int r = rows[i];
                        for (int c = 0; c < in; c++) {
                            float want = r < 0 || r >= tableRows ? 0f : HalfFloats.roundTo(o, exact[r * in + c]);
                            same(want, got[i * in + c], name + " row " + r + " col " + c);
                        }
                    }
                    // rows == null: output row i is table row rowBase + i
                    Dev.launch(cuda.function(dequant, name), 3, 1, 128,
                            w, tableRows, in, new CUdeviceptr(), 2, 3, out, in);
                    got = dev.download(o, out, 3 * in);
                    for (int i = 0; i < 3 * in; i++) {
                        same(HalfFloats.roundTo(o, exact[2 * in + i]), got[i], name + " rowBase 2, element " + i);
                    }
                }
            }
        }
    }

    /** The tables hold what the decoding test claims: non-finite values (the planted Inf scale) and a zero row. */
    @Test
    void theTablesHoldNonFiniteScalesAndAZeroRow() {
        for (DType q : QUANT) {
            byte[] table = table(q, 6, 512, 17 + q.ordinal());
            float[] v = new float[6 * 512];
            Quant.dequantize(q, table, 0, v, 0, v.length);
            boolean nonFinite = false;
            for (float x : v) {
                nonFinite |= !Float.isFinite(x);
            }
            assertTrue(nonFinite, q + ": some random scale is Inf or NaN");
            float[] zero = new float[512];
            System.arraycopy(v, 5 * 512, zero, 0, 512);
            for (float x : zero) {
                assertTrue(x == 0f, q + ": the all-zero row decodes to (signed) zeros, got " + x);
            }
        }
    }

    /**
     * Rows 0-2 random bytes (the device must agree on every bit pattern), rows 3-4 Quant.fillRandom's
     * realistic blocks, row 5 all zero bytes.
     */
    private static byte[] table(DType q, int rows, int in, long seed) {
        int rowBytes = (int) q.bytesFor(in);
        byte[] t = new byte[rows * rowBytes];
        Random random = new Random(seed);
        byte[] noise = new byte[3 * rowBytes];
        random.nextBytes(noise);
        System.arraycopy(noise, 0, t, 0, noise.length);
        // A random f16 scale is rarely Inf or NaN: plant +Inf as row 1's first block scale (d: byte 208 of a
        // Q6_K block, byte 0 of the others).
        int d = rowBytes + (q == DType.Q6_K ? 208 : 0);
        t[d] = 0x00;
        t[d + 1] = 0x7C;
        byte[] real = new byte[2 * rowBytes];
        Quant.fillRandom(q, real, seed, 1.0);
        System.arraycopy(real, 0, t, 3 * rowBytes, real.length);
        return t;
    }

    private static void same(float want, float got, String what) {
        if (Float.isNaN(want) && Float.isNaN(got)) {
            return;
        }
        if (Float.floatToRawIntBits(want) != Float.floatToRawIntBits(got)) {
            fail(what + ": expected " + want + " (0x" + Integer.toHexString(Float.floatToRawIntBits(want)) + "), got "
                    + got + " (0x" + Integer.toHexString(Float.floatToRawIntBits(got)) + ")");
        }
    }
}
