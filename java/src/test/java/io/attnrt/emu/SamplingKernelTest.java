package io.attnrt.emu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.attnrt.backend.SamplingParams;
import io.attnrt.backend.Tensor;
import io.attnrt.backend.reference.ReferenceBackend;
import io.attnrt.emu.ElementwiseKernelTest.Dev;
import io.attnrt.tensor.DType;
import java.util.Arrays;
import java.util.Random;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUmodule;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * cuda/sampling.cu. argmax is checked against a Java scan of the rounded logits (ties: the lowest index);
 * sample_f32 against {@link ReferenceBackend#sample} on the same logits, params and uniforms: the token ids
 * must be identical (no tolerance: the kernel's fixed-point sums can only disagree when u lands within
 * ~1e-13 of a boundary, which random draws do not).
 */
@EmulatedDevice
class SamplingKernelTest {
    private static final int THREADS = 1024;
    private static EmulatedCuda cuda;
    private static CUmodule sampling;

    @BeforeAll
    static void open() {
        cuda = EmulatedCuda.open();
        sampling = cuda.loadPtx("ptx/sampling.ptx");
    }

    @AfterAll
    static void close() {
        if (cuda != null) {
            cuda.close();
        }
    }

    @Test
    void argmaxTakesTheLowestIndexAmongTies() {
        int seed = 0;
        for (DType a : new DType[] {DType.F32, DType.F16, DType.BF16}) {
            for (int vocab : new int[] {1, 100, 5000}) {
                Random random = new Random(++seed);
                int rows = 3;
                float[] logits = Dev.round(a, Dev.gaussian(random, rows * vocab, 2f));
                if (vocab > 1) {
                    // Row 0: the maximum three times, the first occurrence not at a thread's first element.
                    for (int i : new int[] {vocab - 1, vocab / 2, 37 % vocab}) {
                        logits[i] = 100f;
                    }
                    // Row 1: all equal (-inf-free ties across every thread and warp).
                    Arrays.fill(logits, vocab, 2 * vocab, -3f);
                }
                try (Dev dev = new Dev()) {
                    CUdeviceptr out = dev.upload(new int[] {-5, -5, -5});
                    Dev.launch(cuda.function(sampling, "argmax_" + Dev.suffix(a)), rows, 1, THREADS,
                            dev.upload(a, logits), rows, vocab, out);
                    int[] expected = new int[rows];
                    for (int r = 0; r < rows; r++) {
                        int best = 0;
                        for (int i = 1; i < vocab; i++) {
                            if (logits[r * vocab + i] > logits[r * vocab + best]) {
                                best = i;
                            }
                        }
                        expected[r] = best;
                    }
                    assertArrayEquals(expected, Dev.ints(out, rows), "argmax_" + Dev.suffix(a) + " vocab " + vocab);
                }
            }
        }
    }

    @Test
    void sampleMatchesTheReferenceForEveryKindOfParamsInOneLaunch() {
        SamplingParams[] kinds = {
            SamplingParams.GREEDY,
            new SamplingParams(0.7f, 0, 1f),     // temperature only
            new SamplingParams(1f, 5, 1f),       // top-k
            new SamplingParams(1.3f, 0, 0.9f),   // top-p
            new SamplingParams(0.9f, 50, 0.8f),  // top-k + top-p
            new SamplingParams(1f, 1, 1f),       // top-k 1: the argmax by another road
            new SamplingParams(2f, 100000, 0.5f), // top-k above the vocabulary
            new SamplingParams(0.5f, 3, 0.05f),  // top-p below the first token: exactly one kept
            new SamplingParams(0.02f, 0, 0.99f), // most p underflow to 0 or subnormals
        };
        checkSample(1000, kinds, 1, 3f);
        checkSample(1000, kinds, 2, 0.3f); // flat: top-p keeps hundreds of tokens
        checkSample(1, kinds, 3, 1f);
        checkSample(50000, new SamplingParams[] {kinds[1], kinds[3], kinds[4]}, 4, 2f);
    }

    @Test
    void sampleOrdersTiedProbabilitiesByIndex() {
        int vocab = 300;
        SamplingParams[] kinds = {
            new SamplingParams(1f, 10, 1f), new SamplingParams(1f, 0, 0.5f), new SamplingParams(1f, 2, 1f),
            new SamplingParams(0.8f, 0, 1f),
        };
        for (int seed = 10; seed < 13; seed++) {
            Random random = new Random(seed);
            int rows = 12;
            float[] logits = new float[rows * vocab];
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < vocab; i++) {
                    // few distinct values: large tie groups, split by top-k/top-p boundaries and by u
                    logits[r * vocab + i] = r % 3 == 0 ? 1.5f : (float) random.nextInt(4);
                }
            }
            SamplingParams[] params = new SamplingParams[rows];
            for (int r = 0; r < rows; r++) {
                params[r] = kinds[r % kinds.length];
            }
            compare(logits, vocab, params, uniforms(random, rows));
        }
    }

    private static void checkSample(int vocab, SamplingParams[] kinds, long seed, float scale) {
        Random random = new Random(seed);
        int rows = kinds.length * 2;
        float[] logits = Dev.gaussian(random, rows * vocab, scale);
        for (int i = 3; i < logits.length; i += 7) {
            logits[i] = Float.NEGATIVE_INFINITY; // masked tokens: p = 0, ordered last by index, never drawn
        }
        if (vocab == 1) {
            Arrays.fill(logits, 0.25f); // a single token must stay finite
        }
        SamplingParams[] params = new SamplingParams[rows];
        for (int r = 0; r < rows; r++) {
            params[r] = kinds[r % kinds.length];
        }
        compare(logits, vocab, params, uniforms(random, rows));
    }

    /** Random draws, with the ends of [0, 1) first. */
    private static double[] uniforms(Random random, int rows) {
        double[] u = new double[rows];
        for (int r = 0; r < rows; r++) {
            u[r] = r == 0 ? 0.0 : r == 1 ? Math.nextDown(1.0) : random.nextDouble();
        }
        return u;
    }

    private static void compare(float[] logits, int vocab, SamplingParams[] params, double[] u) {
        int rows = params.length;
        int[] expected;
        try (ReferenceBackend reference = new ReferenceBackend(); Tensor t = reference.upload(logits, DType.F32, rows, vocab)) {
            expected = reference.sample(t, params, u);
        }
        float[] temperature = new float[rows];
        int[] topK = new int[rows];
        float[] topP = new float[rows];
        for (int r = 0; r < rows; r++) {
            temperature[r] = params[r].temperature();
            topK[r] = params[r].topK();
            topP[r] = params[r].topP();
        }
        try (Dev dev = new Dev()) {
            int[] sentinel = new int[rows];
            Arrays.fill(sentinel, -5);
            CUdeviceptr out = dev.upload(sentinel);
            Dev.launch(cuda.function(sampling, "sample_f32"), rows, 1, THREADS, dev.upload(DType.F32, logits), rows, vocab,
                    dev.upload(DType.F32, temperature), dev.upload(topK), dev.upload(DType.F32, topP), dev.upload(u), out,
                    dev.alloc((long) rows * vocab * Double.BYTES));
            assertArrayEquals(expected, Dev.ints(out, rows), "sample_f32 vocab " + vocab + " params " + Arrays.toString(params)
                    + " u " + Arrays.toString(u));
        }
    }
}
