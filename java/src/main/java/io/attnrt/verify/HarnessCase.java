package io.attnrt.verify;

import io.attnrt.backend.Backend;
import io.attnrt.tensor.DType;
import io.attnrt.tensor.HalfFloats;
import io.attnrt.backend.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The machinery behind every {@link OpCase} of {@link OpSuite}: seeded input generation, running one
 * prepared computation on both backends with guaranteed cleanup, and the element-wise comparison.
 */
final class HarnessCase implements OpCase {
    private static final Logger log = LoggerFactory.getLogger(HarnessCase.class);

    /** One backend's side of a case: allocate through the scope, run the op, return downloaded outputs. */
    @FunctionalInterface
    interface Computation {
        Outputs on(Backend backend, Scope scope);
    }

    /**
     * Generates the case's host inputs from its seeded generator and returns the computation that uses
     * them. Gets the reference backend for cases that must shape their inputs with it (sampling).
     */
    @FunctionalInterface
    interface Setup {
        Computation prepare(SplittableRandom rng, Backend reference);
    }

    private final String op;
    private final String shape;
    private final double atol;
    private final double rtol;
    private final double lowPrecisionAtol;
    private final Setup setup;

    HarnessCase(String op, String shape, double atol, double rtol, Setup setup) {
        this(op, shape, atol, rtol, 0, setup);
    }

    /**
     * @param lowPrecisionAtol extra absolute error allowed, per unit of the 16-bit dtype's rounding error
     *                         2^-8 (BF16) or 2^-11 (F16), when the candidate computes in that dtype and
     *                         rounds intermediates to it (attention's probabilities before P·V)
     */
    HarnessCase(String op, String shape, double atol, double rtol, double lowPrecisionAtol, Setup setup) {
        this.op = op;
        this.shape = shape;
        this.atol = atol;
        this.rtol = rtol;
        this.lowPrecisionAtol = lowPrecisionAtol;
        this.setup = setup;
    }

    @Override
    public String op() {
        return op;
    }

    @Override
    public String shape() {
        return shape;
    }

    /** Derived from the case's name, so a case gets the same inputs whichever suite or order runs it. */
    private long seed() {
        return 0x5eed_0000_0000L ^ (op + " " + shape).hashCode();
    }

    @Override
    public OpResult run(Backend candidate, Backend reference) {
        // Both backends read the same inputs: activations rounded to the candidate's activation dtype.
        DType inputs = candidate.activationDType();
        Computation computation;
        Outputs expected;
        try {
            computation = setup.prepare(new SplittableRandom(seed()), reference);
            expected = execute(computation, reference, inputs);
        } catch (RuntimeException e) {
            return failure("reference backend failed: " + describe(e));
        }
        Outputs actual;
        try {
            actual = execute(computation, candidate, inputs);
        } catch (RuntimeException | AssertionError | LinkageError e) {
            return failure(describe(e));
        }
        return compare(expected, actual);
    }

    private OpResult failure(String error) {
        return new OpResult(op, shape, Double.NaN, Double.NaN, atol, rtol, false, error);
    }

    /**
     * Spacing of a dtype's values relative to their magnitude (one unit in the last place at worst):
     * a candidate whose own rounding lands one step away from the reference rounded the same way is
     * still right, so 16-bit outputs get this much more relative tolerance.
     */
    static double spacing(DType dtype) {
        return switch (dtype) {
            case F32 -> 0;
            case BF16 -> 0x1p-7;
            case F16 -> 0x1p-10;
            default -> throw new IllegalArgumentException(dtype + " is not an output dtype");
        };
    }

    static String describe(Throwable e) {
        return e.getClass().getSimpleName() + ": " + e.getMessage();
    }

    private static Outputs execute(Computation computation, Backend backend, DType inputs) {
        Scope scope = new Scope(backend, inputs);
        try {
            Outputs outputs = computation.on(backend, scope);
            backend.synchronize();
            for (int o = 0; o < outputs.names.size(); o++) {
                float[] values = outputs.floats.get(o);
                outputs.dtypes.add(values == null ? null : scope.downloadedAs.getOrDefault(values, DType.F32));
            }
            return outputs;
        } finally {
            scope.freeAll();
        }
    }

    private OpResult compare(Outputs expected, Outputs actual) {
        double maxAbs = 0;
        double maxRel = 0;
        boolean passed = true;
        String error = null;
        String worst = null;
        for (int o = 0; o < expected.names.size(); o++) {
            String name = expected.names.get(o);
            if (expected.ints.get(o) != null) {
                int[] r = expected.ints.get(o);
                int[] a = actual.ints.get(o);
                if (a.length != r.length) {
                    return failure(name + ": candidate returned " + a.length + " values, expected " + r.length);
                }
                int differing = 0;
                for (int i = 0; i < r.length; i++) {
                    if (a[i] != r[i]) {
                        differing++;
                        maxAbs = Math.max(maxAbs, Math.abs((double) a[i] - r[i]));
                        if (worst == null) {
                            worst = name + "[" + i + "] = " + a[i] + ", reference " + r[i];
                        }
                    }
                }
                if (differing > 0) {
                    passed = false;
                    maxRel = Math.max(maxRel, differing / (double) r.length);
                }
                continue;
            }
            float[] r = expected.floats.get(o);
            float[] a = actual.floats.get(o);
            if (a.length != r.length) {
                return failure(name + ": candidate returned " + a.length + " values, expected " + r.length);
            }
            // A 16-bit output is compared with the reference rounded the same way; exact ops stay exact.
            DType outType = actual.dtypes.get(o);
            double atolHere = atol;
            double rtolHere = rtol;
            if (outType != DType.F32) {
                float[] rounded = new float[r.length];
                for (int i = 0; i < r.length; i++) {
                    rounded[i] = HalfFloats.roundTo(outType, r[i]);
                }
                r = rounded;
                if (atol != 0 || rtol != 0) {
                    rtolHere = rtol + spacing(outType);
                    atolHere = atol + lowPrecisionAtol * spacing(outType) / 2;
                }
            }
            double scale = 0;
            for (float v : r) {
                if (Float.isFinite(v)) {
                    scale = Math.max(scale, Math.abs(v));
                }
            }
            double floor = Math.max(1e-6 * scale, Double.MIN_NORMAL);
            double worstExcess = 0;
            for (int i = 0; i < r.length; i++) {
                if (!Float.isFinite(r[i])) {
                    // −∞ log-sum-exp of an empty row: the candidate must give exactly the same.
                    if (Float.compare(a[i], r[i]) != 0) {
                        passed = false;
                        maxAbs = Double.POSITIVE_INFINITY;
                        maxRel = Double.POSITIVE_INFINITY;
                        worst = name + "[" + i + "] = " + a[i] + ", reference " + r[i];
                    }
                    continue;
                }
                if (!Float.isFinite(a[i])) {
                    passed = false;
                    maxAbs = Double.POSITIVE_INFINITY;
                    maxRel = Double.POSITIVE_INFINITY;
                    if (error == null) {
                        error = "candidate returned " + a[i] + " at " + name + "[" + i + "] where the reference has "
                                + r[i];
                    }
                    continue;
                }
                double diff = Math.abs((double) a[i] - r[i]);
                maxAbs = Math.max(maxAbs, diff);
                maxRel = Math.max(maxRel, diff / Math.max(Math.abs(r[i]), floor));
                double excess = diff - (atolHere + rtolHere * Math.abs(r[i]));
                if (excess > 0) {
                    passed = false;
                    if (excess > worstExcess) {
                        worstExcess = excess;
                        worst = name + "[" + i + "] = " + a[i] + ", reference " + r[i];
                    }
                }
            }
        }
        if (!passed && worst != null) {
            log.debug("{} {}: worst element {}", op, shape, worst);
        }
        return new OpResult(op, shape, maxAbs, maxRel, atol, rtol, passed, error);
    }

    // ---------------------------------------------------------------- support types

    /** Named outputs of one run, in a fixed order; each is either floats or ints. */
    static final class Outputs {
        final List<String> names = new ArrayList<>();
        final List<float[]> floats = new ArrayList<>();
        final List<int[]> ints = new ArrayList<>();
        /** The dtype each float output was stored in on the backend (F32 for the reference). */
        final List<DType> dtypes = new ArrayList<>();

        Outputs floats(String name, float[] values) {
            names.add(name);
            floats.add(values);
            ints.add(null);
            return this;
        }

        Outputs ints(String name, int[] values) {
            names.add(name);
            floats.add(null);
            ints.add(values == null ? new int[0] : values);
            return this;
        }
    }

    /** The tensors one run allocated on one backend, all freed at the end of the run. */
    static final class Scope {
        private final Backend backend;
        private final DType inputs;
        private final List<Tensor> tensors = new ArrayList<>();
        final Map<float[], DType> downloadedAs = new IdentityHashMap<>();

        Scope(Backend backend, DType inputs) {
            this.backend = backend;
            this.inputs = inputs;
        }

        /**
         * An activation input: the values rounded to the candidate's activation dtype, stored in this
         * backend's activation dtype, so candidate and reference compute from identical numbers.
         */
        Tensor activation(float[] data, int... shape) {
            float[] rounded = new float[data.length];
            for (int i = 0; i < data.length; i++) {
                rounded[i] = HalfFloats.roundTo(inputs, data[i]);
            }
            return upload(rounded, backend.activationDType(), shape);
        }

        Tensor upload(float[] data, DType dtype, int... shape) {
            Tensor t = backend.upload(data, dtype, shape);
            tensors.add(t);
            return t;
        }

        /**
         * Raw blocks of a quantized weight, uploaded as the backend keeps that type: as they are, or decoded
         * and converted where the backend stores such weights in another dtype.
         */
        Tensor uploadQuantized(byte[] blocks, DType type, int... shape) {
            // A backend without kernels for the type keeps such weights decoded in its weight dtype (as model
            // loading uploads them); the reference reads the blocks themselves, which decode to the same values.
            DType target = backend.weightDType(type);
            Tensor t;
            if (target == type) {
                t = backend.uploadRaw(java.nio.ByteBuffer.wrap(blocks), type, shape);
            } else {
                float[] values = new float[blocks.length / type.blockBytes() * type.blockSize()];
                io.attnrt.tensor.Quant.dequantize(type, blocks, 0, values, 0, values.length);
                t = backend.upload(values, target, shape);
            }
            tensors.add(t);
            return t;
        }

        /**
         * An activation output tensor filled with NaN, so an element the candidate forgets to write shows
         * up as a non-finite result instead of passing as a lucky zero.
         */
        Tensor output(int... shape) {
            return nanTensor(backend.activationDType(), shape);
        }

        /** An F32 output (log-sum-exp, logits) filled with NaN. */
        Tensor outputF32(int... shape) {
            return nanTensor(DType.F32, shape);
        }

        private Tensor nanTensor(DType dtype, int... shape) {
            long n = 1;
            for (int d : shape) {
                n *= d;
            }
            float[] nan = new float[(int) n];
            Arrays.fill(nan, Float.NaN);
            return upload(nan, dtype, shape);
        }

        float[] download(Tensor t) {
            float[] values = backend.download(t);
            downloadedAs.put(values, t.dtype());
            return values;
        }

        void freeAll() {
            for (Tensor t : tensors) {
                try {
                    backend.free(t);
                } catch (RuntimeException e) {
                    log.warn("freeing {} on {} failed: {}", t, backend.name(), describe(e));
                }
            }
            tensors.clear();
        }
    }

    // ---------------------------------------------------------------- input generation

    /** n values uniform in [−scale, scale), never exactly zero. */
    static float[] uniform(SplittableRandom rng, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            float v;
            do {
                v = (float) ((rng.nextDouble() * 2 - 1) * scale);
            } while (v == 0f);
            a[i] = v;
        }
        return a;
    }

    /** n values N(0, sigma²), never exactly zero. */
    static float[] gaussian(SplittableRandom rng, int n, double sigma) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            float v;
            do {
                // Box–Muller written out, so the inputs do not depend on the JDK's nextGaussian algorithm.
                double u1 = 1.0 - rng.nextDouble();
                double u2 = rng.nextDouble();
                v = (float) (sigma * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
            } while (v == 0f);
            a[i] = v;
        }
        return a;
    }

    /** A random permutation of 0..n−1. */
    static int[] permutation(SplittableRandom rng, int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
