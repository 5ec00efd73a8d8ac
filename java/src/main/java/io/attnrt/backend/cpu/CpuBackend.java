package io.attnrt.backend.cpu;

import io.attnrt.backend.AttentionSpec;
import io.attnrt.backend.OpChecks;
import io.attnrt.backend.RopeSpec;
import io.attnrt.backend.RopeStyle;
import io.attnrt.backend.SamplingParams;
import io.attnrt.backend.host.HostMemoryBackend;
import io.attnrt.backend.host.HostTensor;
import io.attnrt.tensor.DType;
import io.attnrt.tensor.HalfFloats;
import io.attnrt.backend.Tensor;
import java.util.HashMap;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fast CPU backend: multi-threaded, SIMD through the incubating Vector API when the JVM has
 * {@code jdk.incubator.vector}, plain Java otherwise.
 *
 * <p>Ops run one at a time (a lock serialises callers) on a fixed pool of daemon threads that this
 * backend owns; {@link #close()} stops them. Per-thread scratch buffers are reused across calls.
 */
public final class CpuBackend extends HostMemoryBackend {
    private static final Logger LOG = LoggerFactory.getLogger(CpuBackend.class);
    private static final String VECTOR_MODULE = "jdk.incubator.vector";
    /** Element-wise ops on fewer elements than this run on the calling thread only. */
    private static final int PARALLEL_MIN_ELEMENTS = 1 << 15;

    private final int threads;
    private final boolean simd;
    private final Kernels kernels;
    private final WorkerPool pool;
    private final Scratch[] scratch;
    private final Linear linear;
    private final Attention attention;
    private final ReentrantLock lock = new ReentrantLock();
    /** Keeps reused scratch: used under the lock only. */
    private final Sampler sampler;
    /** F16 weights already scanned for Inf/NaN (identity keys; entries vanish with their tensors). */
    private final Map<Tensor, Boolean> finiteHalfWeights = new WeakHashMap<>();
    /** RoPE cos/sin per position, per (spec, head dim), shared by every layer and step (guarded by the lock). */
    private final Map<RopeKey, RopeTable> ropeTables = new HashMap<>();

    private static final int MAX_ROPE_TABLES = 8;

    private record RopeKey(RopeSpec spec, int headDim) {
    }
    private final String description;
    private volatile boolean closed;

    /**
     * @param threads workers (≥ 1), the calling thread included
     * @param simd    use the Vector API; requires {@code jdk.incubator.vector} in the boot layer
     * @throws IllegalStateException if simd is requested without the module
     */
    public CpuBackend(int threads, boolean simd) {
        if (threads < 1) {
            throw new IllegalArgumentException("cpu backend needs at least 1 thread, got " + threads);
        }
        if (simd && !vectorModulePresent()) {
            throw new IllegalStateException("SIMD requested but module " + VECTOR_MODULE
                    + " is not in the boot layer: start the JVM with --add-modules " + VECTOR_MODULE
                    + " or use the scalar kernels");
        }
        this.threads = threads;
        this.simd = simd;
        this.kernels = loadKernels(simd);
        this.pool = new WorkerPool(threads);
        this.scratch = new Scratch[threads];
        for (int i = 0; i < threads; i++) {
            scratch[i] = new Scratch();
        }
        this.linear = new Linear(kernels, pool, scratch);
        this.attention = new Attention(kernels, pool, scratch);
        this.sampler = new Sampler(kernels);
        String mode = simd ? kernels.describe()
                : vectorModulePresent() ? "scalar (SIMD switched off)" : "scalar (" + VECTOR_MODULE + " not enabled)";
        this.description = "cpu: " + mode + ", " + threads + (threads == 1 ? " thread" : " threads");
        LOG.debug("created {}", description);
    }

    /**
     * The backend as configured by the environment: threads from the system property {@code attnrt.threads}
     * (default: available processors); SIMD when the Vector API module is present and the system property
     * {@code attnrt.cpu.simd} is not {@code false} (128, 256 or 512 force that vector width).
     */
    public static CpuBackend create() {
        int threads = Runtime.getRuntime().availableProcessors();
        String prop = System.getProperty("attnrt.threads");
        if (prop != null && !prop.isBlank()) {
            try {
                threads = Integer.parseInt(prop.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("system property attnrt.threads must be an integer, got '"
                        + prop + "'");
            }
        }
        return new CpuBackend(threads, simdByDefault());
    }

    /** SIMD unless the vector module is absent or the system property {@code attnrt.cpu.simd} is "false". */
    static boolean simdByDefault() {
        simdBits(); // a malformed value fails here, naming the property, rather than inside class loading
        return vectorModulePresent() && !"false".equalsIgnoreCase(System.getProperty("attnrt.cpu.simd"));
    }

    /**
     * The vector width forced by {@code attnrt.cpu.simd} = 128, 256 or 512 (bits), or 0 for the platform's
     * preferred width ({@code true}, {@code false} or unset). Read once, when the SIMD kernels load.
     */
    static int simdBits() {
        String v = System.getProperty("attnrt.cpu.simd");
        if (v == null || v.isBlank() || v.equalsIgnoreCase("true") || v.equalsIgnoreCase("false")) {
            return 0;
        }
        return switch (v.trim()) {
            case "128" -> 128;
            case "256" -> 256;
            case "512" -> 512;
            default -> throw new IllegalArgumentException("system property attnrt.cpu.simd must be true, false, "
                    + "128, 256 or 512 (bits), got '" + v + "'");
        };
    }

    /** Whether {@code jdk.incubator.vector} is in the boot layer (the JVM ran with --add-modules for it). */
    public static boolean vectorModulePresent() {
        return ModuleLayer.boot().findModule(VECTOR_MODULE).isPresent();
    }

    /** Kernels for the mode; the SIMD class is named only by string so it is never loaded without the module. */
    static Kernels loadKernels(boolean simd) {
        if (!simd) {
            return new ScalarKernels();
        }
        try {
            return (Kernels) Class.forName("io.attnrt.backend.cpu.SimdKernels").getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot load the SIMD kernels", e);
        }
    }

    /** Shorthand for {@link MemoryBandwidth#measureReadGBs(int, long)}. */
    public static double measureReadBandwidthGBs(int threads, long bytes) {
        return MemoryBandwidth.measureReadGBs(threads, bytes);
    }

    public boolean simd() {
        return simd;
    }

    public int threads() {
        return threads;
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public String description() {
        return description;
    }

    @Override
    public void close() {
        lock.lock();
        try {
            if (!closed) {
                closed = true;
                pool.close();
            }
        } finally {
            lock.unlock();
        }
        super.close();
    }

    /**
     * Whether an F16 weight holds no Inf/NaN, scanned once per tensor and remembered until it is written or
     * freed (weights are otherwise immutable: ops only write activations and caches). Call under the lock.
     */
    private boolean finiteHalves(HostTensor w) {
        Boolean known = finiteHalfWeights.get(w);
        if (known != null) {
            return known;
        }
        short[] bits = w.bits16();
        int n = (int) w.numel();
        int chunk = Math.max(1 << 16, (n + threads - 1) / threads);
        int tasks = (n + chunk - 1) / chunk;
        boolean[] finite = new boolean[tasks];
        pool.parallelFor(tasks, (task, worker) -> {
            int from = task * chunk;
            finite[task] = kernels.finiteHalves(bits, from, Math.min(n, from + chunk));
        });
        boolean all = true;
        for (boolean f : finite) {
            all &= f;
        }
        finiteHalfWeights.put(w, all);
        return all;
    }

    @Override
    public void write(Tensor dst, float[] data) {
        lock.lock();
        try {
            finiteHalfWeights.remove(dst);
            super.write(dst, data);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void free(Tensor t) {
        lock.lock();
        try {
            finiteHalfWeights.remove(t);
            super.free(t);
        } finally {
            lock.unlock();
        }
    }

    private void enter() {
        lock.lock();
        if (closed) {
            lock.unlock();
            throw new IllegalStateException("cpu backend is closed");
        }
    }

    // ------------------------------------------------------------------------------------------ ops

    @Override
    public void gatherRows(Tensor table, int[] rows, Tensor out) {
        OpChecks.gatherRows(table, rows, out);
        HostTensor ht = own(table, "gatherRows"), ho = own(out, "gatherRows");
        enter();
        try {
            int c = table.dim(1);
            float[] o = ho.f32();
            int tasks = (long) rows.length * c < PARALLEL_MIN_ELEMENTS ? 1 : Math.min(rows.length, threads);
            pool.parallelFor(tasks, (task, worker) -> {
                for (int i = task; i < rows.length; i += tasks) {
                    int src = rows[i] * c;
                    if (ht.dtype() == DType.F32) {
                        System.arraycopy(ht.f32(), src, o, i * c, c);
                    } else if (ht.dtype().isQuantized()) {
                        kernels.dequantize(ht.dtype(), ht.blocks(), (int) ht.dtype().bytesFor(src), o, i * c, c);
                    } else {
                        kernels.toFloat(ht.bits16(), src, ht.dtype() == DType.BF16, o, i * c, c);
                    }
                }
            });
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
        OpChecks.rmsNorm("rmsNorm", x, weight, eps, out);
        HostTensor hx = own(x, "rmsNorm"), hw = own(weight, "rmsNorm"), ho = own(out, "rmsNorm");
        enter();
        try {
            normalize(hx.f32(), hw, eps, ho.f32(), x.dim(0), x.dim(1), null);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void rmsNormHeads(Tensor x, Tensor weight, float eps) {
        int d = OpChecks.rmsNormHeads(x, weight, eps);
        HostTensor hx = own(x, "rmsNormHeads"), hw = own(weight, "rmsNormHeads");
        enter();
        try {
            // [N, H·d] is [N·H, d] in memory: every head a row of its own
            normalize(hx.f32(), hw, eps, hx.f32(), (int) (x.numel() / d), d, null);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void addRmsNorm(Tensor residual, Tensor delta, Tensor weight, float eps, Tensor out) {
        OpChecks.addRmsNorm(residual, delta, weight, eps, out);
        HostTensor hr = own(residual, "addRmsNorm"), hd = own(delta, "addRmsNorm");
        HostTensor hw = own(weight, "addRmsNorm"), ho = own(out, "addRmsNorm");
        enter();
        try {
            normalize(hr.f32(), hw, eps, ho.f32(), residual.dim(0), residual.dim(1), hd.f32());
        } finally {
            lock.unlock();
        }
    }

    /** Row-wise RMS norm of x (after {@code x += delta} when delta is given) into out. */
    private void normalize(float[] x, HostTensor weight, float eps, float[] out, int n, int c, float[] delta) {
        float[] w;
        if (weight.dtype() == DType.F32) {
            w = weight.f32();
        } else {
            w = scratch[0].weights(c);
            kernels.toFloat(weight.bits16(), 0, weight.dtype() == DType.BF16, w, 0, c);
        }
        float[] wf = w;
        int tasks = (long) n * c < PARALLEL_MIN_ELEMENTS ? 1 : Math.min(n, threads * 4);
        pool.parallelFor(tasks, (task, worker) -> {
            for (int r = task; r < n; r += tasks) {
                int off = r * c;
                if (delta != null) {
                    kernels.add(x, off, delta, off, x, off, c);
                }
                float meanSquare = kernels.sumOfSquares(x, off, c) / c;
                float inv = (float) (1.0 / Math.sqrt(meanSquare + eps));
                kernels.scaleMul(x, off, inv, wf, 0, out, off, c);
            }
        });
    }

    @Override
    public void linear(Tensor x, Tensor weight, Tensor out, boolean accumulate) {
        OpChecks.linear(x, weight, out);
        HostTensor hx = own(x, "linear"), hw = own(weight, "linear"), ho = own(out, "linear");
        enter();
        try {
            // only the GEMV widens halves inline; the GEMM widens each weight tile once, exactly
            boolean finite = weight.dtype() == DType.F16 && x.dim(0) <= Linear.GEMV_MAX_TOKENS && finiteHalves(hw);
            linear.run(hx, hw, ho, finite, accumulate);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void rope(Tensor x, int[] positions, int numHeads, int headDim, RopeSpec rope) {
        OpChecks.rope(x, positions, numHeads, headDim);
        if (rope == null) {
            throw new IllegalArgumentException("rope: rope spec is null");
        }
        HostTensor hx = own(x, "rope");
        enter();
        try {
            float[] a = hx.f32();
            int n = positions.length, half = headDim / 2, width = numHeads * headDim;
            RopeKey key = new RopeKey(rope, headDim);
            if (!ropeTables.containsKey(key) && ropeTables.size() >= MAX_ROPE_TABLES) {
                ropeTables.clear(); // a model uses one or two specs: only callers cycling through many get here
            }
            RopeTable table = ropeTables.computeIfAbsent(key, k -> new RopeTable(rope, headDim));
            int maxPosition = 0;
            for (int pos : positions) {
                maxPosition = Math.max(maxPosition, pos);
            }
            float[] cached = table.covering(maxPosition);
            boolean interleaved = rope.style() == RopeStyle.INTERLEAVED;
            int tasks = (long) n * width < PARALLEL_MIN_ELEMENTS ? 1 : Math.min(n, threads * 4);
            pool.parallelFor(tasks, (task, worker) -> {
                float[] cs = cached != null ? cached : scratch[worker].angles(2 * half);
                for (int t = task; t < n; t += tasks) {
                    int at = 2 * half * positions[t];
                    if (cached == null) {
                        RopeTable.fill(positions[t], table.inverseFrequencies(), cs, 0);
                        at = 0;
                    }
                    for (int h = 0; h < numHeads; h++) {
                        int base = t * width + h * headDim;
                        for (int p = 0; p < half; p++) {
                            int i1 = interleaved ? base + 2 * p : base + p;
                            int i2 = interleaved ? i1 + 1 : i1 + half;
                            float x1 = a[i1], x2 = a[i2], cos = cs[at + 2 * p], sin = cs[at + 2 * p + 1];
                            a[i1] = x1 * cos - x2 * sin;
                            a[i2] = x2 * cos + x1 * sin;
                        }
                    }
                }
            });
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void attentionPrefill(Tensor q, Tensor k, Tensor v, int[] seqStarts, AttentionSpec spec, Tensor out,
                                 Tensor lse) {
        OpChecks.attentionPrefill(q, k, v, seqStarts, spec, out, lse);
        HostTensor hq = own(q, "attentionPrefill"), hk = own(k, "attentionPrefill"), hv = own(v, "attentionPrefill");
        HostTensor ho = own(out, "attentionPrefill");
        HostTensor hl = lse == null ? null : own(lse, "attentionPrefill");
        enter();
        try {
            attention.prefill(hq, hk, hv, seqStarts, spec, ho, hl);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void kvAppend(Tensor keyCache, Tensor valueCache, Tensor k, Tensor v, int[] slots) {
        OpChecks.kvAppend(keyCache, valueCache, k, v, slots);
        HostTensor hkc = own(keyCache, "kvAppend"), hvc = own(valueCache, "kvAppend");
        HostTensor hk = own(k, "kvAppend"), hv = own(v, "kvAppend");
        enter();
        try {
            int width = keyCache.dim(2) * keyCache.dim(3);
            for (int n = 0; n < slots.length; n++) {
                if (slots[n] == OpChecks.PADDING_SLOT) {
                    continue;
                }
                storeRow(hk.f32(), n * width, hkc, slots[n] * width, width);
                storeRow(hv.f32(), n * width, hvc, slots[n] * width, width);
            }
        } finally {
            lock.unlock();
        }
    }

    private static void storeRow(float[] src, int srcOff, HostTensor dst, int dstOff, int n) {
        switch (dst.dtype()) {
            case F32 -> System.arraycopy(src, srcOff, dst.f32(), dstOff, n);
            case BF16 -> {
                short[] b = dst.bits16();
                for (int i = 0; i < n; i++) {
                    b[dstOff + i] = HalfFloats.floatToBf16(src[srcOff + i]);
                }
            }
            case F16 -> {
                short[] b = dst.bits16();
                for (int i = 0; i < n; i++) {
                    b[dstOff + i] = HalfFloats.floatToF16(src[srcOff + i]);
                }
            }
        }
    }

    @Override
    public void attentionDecode(Tensor q, Tensor keyCache, Tensor valueCache, int[] blockTables, int maxBlocksPerSeq,
                                int[] contextLens, AttentionSpec spec, Tensor out, Tensor lse) {
        int blockSize = OpChecks.attentionDecode(q, keyCache, valueCache, blockTables, maxBlocksPerSeq, contextLens,
                spec, out, lse);
        HostTensor hq = own(q, "attentionDecode"), hkc = own(keyCache, "attentionDecode");
        HostTensor hvc = own(valueCache, "attentionDecode"), ho = own(out, "attentionDecode");
        HostTensor hl = lse == null ? null : own(lse, "attentionDecode");
        enter();
        try {
            attention.decode(hq, hkc, hvc, blockTables, maxBlocksPerSeq, contextLens, spec, blockSize, ho, hl);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void copyBlocks(Tensor[] caches, int[] src, int[] dst) {
        OpChecks.copyBlocks(caches, src, dst);
        HostTensor[] hcs = new HostTensor[caches.length];
        for (int c = 0; c < caches.length; c++) {
            hcs[c] = own(caches[c], "copyBlocks");
        }
        enter();
        try {
            for (HostTensor hc : hcs) {
                copyBlocks(hc, src, dst);
            }
        } finally {
            lock.unlock();
        }
    }

    private static void copyBlocks(HostTensor hc, int[] src, int[] dst) {
        int blockElems = hc.dim(1) * hc.dim(2) * hc.dim(3);
        Object array = hc.dtype() == DType.F32 ? hc.f32() : hc.bits16();
        // Every copy reads the cache as it was before the call (as parallel device copies do): when a
        // destination is also a source, the sources are snapshotted first.
        java.util.Set<Integer> destinations = new java.util.HashSet<>();
        for (int d : dst) {
            destinations.add(d);
        }
        boolean overlap = false;
        for (int s : src) {
            overlap |= destinations.contains(s);
        }
        if (!overlap) {
            for (int i = 0; i < src.length; i++) {
                System.arraycopy(array, src[i] * blockElems, array, dst[i] * blockElems, blockElems);
            }
            return;
        }
        Object before = hc.dtype() == DType.F32 ? new float[src.length * blockElems] : new short[src.length * blockElems];
        for (int i = 0; i < src.length; i++) {
            System.arraycopy(array, src[i] * blockElems, before, i * blockElems, blockElems);
        }
        for (int i = 0; i < src.length; i++) {
            System.arraycopy(before, i * blockElems, array, dst[i] * blockElems, blockElems);
        }
    }

    @Override
    public void swiglu(Tensor gateUp, Tensor out) {
        int f = OpChecks.swiglu(gateUp, out);
        HostTensor hgu = own(gateUp, "swiglu"), ho = own(out, "swiglu");
        enter();
        try {
            float[] gu = hgu.f32(), o = ho.f32();
            // Chunks of output elements; a chunk crossing rows is cut at each row end, where gate and up of
            // the next row start 2F further on.
            forChunks((int) out.numel(), (from, len) -> {
                for (int i = from, end = from + len; i < end; ) {
                    int row = i / f, col = i % f, n = Math.min(end - i, f - col);
                    int g = 2 * row * f + col;
                    kernels.swiglu(gu, g, gu, g + f, o, i, n);
                    i += n;
                }
            });
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void addBias(Tensor x, Tensor bias) {
        OpChecks.addBias(x, bias);
        HostTensor hx = own(x, "addBias"), hb = own(bias, "addBias");
        enter();
        try {
            float[] a = hx.f32();
            int cols = x.dim(1);
            float[] b = new float[cols];
            for (int c = 0; c < cols; c++) {
                b[c] = hb.get(c);
            }
            for (int r = 0; r < x.dim(0); r++) {
                kernels.add(a, r * cols, b, 0, a, r * cols, cols);
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        OpChecks.elementwise("add", a, b, out);
        HostTensor ha = own(a, "add"), hb = own(b, "add"), ho = own(out, "add");
        enter();
        try {
            float[] x = ha.f32(), y = hb.f32(), o = ho.f32();
            forChunks((int) a.numel(), (from, len) -> kernels.add(x, from, y, from, o, from, len));
        } finally {
            lock.unlock();
        }
    }

    private interface Range {
        void run(int from, int length);
    }

    /** Splits [0, n) into per-thread chunks (multiples of 64 elements) when it is worth it. */
    private void forChunks(int n, Range range) {
        if (n < PARALLEL_MIN_ELEMENTS || threads == 1) {
            range.run(0, n);
            return;
        }
        int chunk = ((n + threads - 1) / threads + 63) & ~63;
        int tasks = (n + chunk - 1) / chunk;
        pool.parallelFor(tasks, (task, worker) -> {
            int from = task * chunk;
            range.run(from, Math.min(chunk, n - from));
        });
    }

    @Override
    public int[] argmax(Tensor logits) {
        int rows = OpChecks.logits("argmax", logits);
        HostTensor hl = own(logits, "argmax");
        enter();
        try {
            int v = logits.dim(1);
            int[] result = new int[rows];
            for (int r = 0; r < rows; r++) {
                result[r] = Sampler.argmax(hl.f32(), r * v, v);
            }
            return result;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public int[] sample(Tensor logits, SamplingParams[] params, double[] uniforms) {
        OpChecks.sample(logits, params, uniforms);
        HostTensor hl = own(logits, "sample");
        for (int i = 0; i < params.length; i++) {
            if (params[i] == null) {
                throw new IllegalArgumentException("sample: sampling params of row " + i + " are null");
            }
        }
        enter();
        try {
            int v = logits.dim(1);
            int[] result = new int[params.length];
            for (int r = 0; r < params.length; r++) {
                result[r] = sampler.sample(hl.f32(), r * v, v, params[r], uniforms[r]);
            }
            return result;
        } finally {
            lock.unlock();
        }
    }
}
