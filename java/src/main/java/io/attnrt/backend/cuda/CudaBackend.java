package io.attnrt.backend.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuMemsetD8;

import io.attnrt.backend.AttentionSpec;
import io.attnrt.backend.Backend;
import io.attnrt.backend.OpChecks;
import io.attnrt.backend.RandomFill;
import io.attnrt.backend.RopeSpec;
import io.attnrt.backend.RopeStyle;
import io.attnrt.backend.SamplingParams;
import io.attnrt.backend.Tensor;
import io.attnrt.tensor.DType;
import io.attnrt.tensor.HalfFloats;
import io.attnrt.tensor.Quant;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ops on an NVIDIA GPU: PTX kernels from {@code cuda/} loaded through JCuda's driver API, cuBLAS for
 * projections of more than 8 tokens when {@code libcublas.so.12} is there (the own tensor-core GEMM
 * otherwise), all on the null stream in issue order. Activations are BF16 (or F16 with
 * {@code -Dattnrt.cuda.activations=f16}); F32 weights are converted to the activation dtype on upload
 * unless {@code -Dattnrt.cuda.weights=keep}; block-quantized weights (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K) stay
 * quantized in device memory, decoded chunk by chunk by the decode GEMV and into the activation dtype for
 * prefill GEMMs and embedding lookups. Index metadata goes up once per step ({@link DeviceInts}).
 *
 * <p>{@code -Dattnrt.cuda.sync=true} synchronises after every launch so that an asynchronous kernel fault
 * is reported against the kernel that caused it.
 */
public final class CudaBackend implements Backend, RandomFill {
    private static final Logger LOG = LoggerFactory.getLogger(CudaBackend.class);
    static final CUstream STREAM = null; // the legacy null stream: every copy and launch in order

    final CudaDevice device;
    private final DType activations;
    private final boolean keepF32Weights;
    private final boolean syncEachLaunch;
    final DeviceInts ints = new DeviceInts();
    private final CudaLinear linear;
    private final CudaAttention attention;
    private final Workspace sampleScratch = new Workspace();
    private final Map<String, CUdeviceptr> ropeTables = new HashMap<>();
    private long bytesInUse;
    private boolean closed;

    private CudaBackend(CudaDevice device, DType activations, boolean keepF32Weights, String gemm) {
        this.device = device;
        this.activations = activations;
        this.keepF32Weights = keepF32Weights;
        this.syncEachLaunch = Boolean.getBoolean("attnrt.cuda.sync");
        this.linear = new CudaLinear(this, gemm);
        this.attention = new CudaAttention(this);
    }

    /**
     * Opens device 0. Properties: {@code attnrt.cuda.activations} (bf16 | f16), {@code attnrt.cuda.weights}
     * (convert | keep), {@code attnrt.cuda.gemm} (auto | cublas | own).
     */
    public static CudaBackend create() {
        String act = System.getProperty("attnrt.cuda.activations", "bf16").toLowerCase(Locale.ROOT);
        DType activations = switch (act) {
            case "bf16" -> DType.BF16;
            case "f16" -> DType.F16;
            default -> throw new IllegalArgumentException("attnrt.cuda.activations=" + act + ": choose bf16 or f16");
        };
        String weights = System.getProperty("attnrt.cuda.weights", "convert").toLowerCase(Locale.ROOT);
        if (!weights.equals("convert") && !weights.equals("keep")) {
            throw new IllegalArgumentException("attnrt.cuda.weights=" + weights + ": choose convert or keep");
        }
        String gemm = System.getProperty("attnrt.cuda.gemm", "auto").toLowerCase(Locale.ROOT);
        CudaDevice device = CudaDevice.open();
        try {
            return new CudaBackend(device, activations, weights.equals("keep"), gemm);
        } catch (RuntimeException e) {
            device.close();
            throw e;
        }
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public String description() {
        return "cuda on " + device.describe() + ", " + activations + " activations, GEMM: " + linear.gemmPath();
    }

    @Override
    public DType activationDType() {
        return activations;
    }

    @Override
    public DType weightDType(DType stored) {
        if (stored.isQuantized()) {
            return stored;
        }
        return stored == DType.F32 && keepF32Weights ? DType.F32 : activations;
    }

    /** The device's streaming multiprocessors (the split-KV heuristic sizes its grid by them). */
    public int smCount() {
        return device.smCount;
    }

    /** Tests: decode a quantized weight for a prefill GEMM in slices of at most {@code bytes} (0 = 64 MiB). */
    void forceDequantSliceBytes(long bytes) {
        linear.forceSliceBytes(bytes);
    }

    /** Tests: split every decode's context into {@code n} parts (0 = the heuristic). */
    void forceDecodeSplits(int n) {
        attention.forceSplits(n);
    }

    public boolean emulated() {
        return device.emulated;
    }

    // ---------------------------------------------------------------- memory

    @Override
    public Tensor allocate(DType dtype, int... shape) {
        CudaTensor t = raw(dtype, shape);
        if (t.byteSize() > 0) {
            cuMemsetD8(t.ptr, (byte) 0, t.byteSize());
        }
        return t;
    }

    private CudaTensor raw(DType dtype, int... shape) {
        CudaTensor probe = new CudaTensor(this, dtype, new CUdeviceptr(), shape);
        long bytes = Math.max(probe.byteSize(), 1);
        CudaTensor.Address p = new CudaTensor.Address();
        try {
            cuMemAlloc(p, bytes);
        } catch (CudaException e) {
            throw new CudaKernelException("cuMemAlloc of " + bytes + " bytes for " + probe.describe() + " failed with "
                    + e.getMessage() + " (" + bytesInUse + " bytes in use by attnrt)");
        }
        bytesInUse += probe.byteSize();
        return new CudaTensor(this, dtype, p, shape);
    }

    @Override
    public Tensor upload(float[] data, DType dtype, int... shape) {
        OpChecks.floatValuesInto("upload as " + dtype, dtype);
        CudaTensor t = raw(dtype, shape);
        try {
            write(t, data);
        } catch (RuntimeException e) {
            free(t);
            throw e;
        }
        return t;
    }

    @Override
    public Tensor uploadRaw(ByteBuffer littleEndian, DType dtype, int... shape) {
        CudaTensor t = raw(dtype, shape);
        long bytes = t.byteSize();
        if (littleEndian.remaining() < bytes) {
            free(t);
            throw new IllegalArgumentException("uploadRaw: " + littleEndian.remaining() + " bytes given, "
                    + t.describe() + " needs " + bytes);
        }
        ByteBuffer src = littleEndian.slice().limit((int) Math.min(bytes, Integer.MAX_VALUE));
        if (!src.isDirect()) {
            ByteBuffer direct = ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
            direct.put(src);
            direct.flip();
            src = direct;
        }
        if (bytes > 0) {
            cuMemcpyHtoD(t.ptr, Pointer.to(src), bytes);
        }
        return t;
    }

    @Override
    public float[] download(Tensor t) {
        CudaTensor c = own(t, "download");
        int n = Math.toIntExact(c.numel());
        float[] out = new float[n];
        if (n == 0) {
            return out;
        }
        switch (c.dtype()) {
            case F32 -> cuMemcpyDtoH(Pointer.to(out), c.ptr, 4L * n);
            case F16, BF16 -> {
                short[] bits = new short[n];
                cuMemcpyDtoH(Pointer.to(bits), c.ptr, 2L * n);
                boolean bf = c.dtype() == DType.BF16;
                for (int i = 0; i < n; i++) {
                    out[i] = bf ? HalfFloats.bf16ToFloat(bits[i]) : HalfFloats.f16ToFloat(bits[i]);
                }
            }
            default -> { // block-quantized: the raw blocks, decoded here exactly as every backend decodes them
                byte[] blocks = new byte[Math.toIntExact(c.byteSize())];
                cuMemcpyDtoH(Pointer.to(blocks), c.ptr, blocks.length);
                Quant.dequantize(c.dtype(), blocks, 0, out, 0, n);
            }
        }
        return out;
    }

    @Override
    public void write(Tensor dst, float[] data) {
        CudaTensor c = own(dst, "write");
        OpChecks.floatValuesInto(c.describe(), c.dtype());
        if (data.length != c.numel()) {
            throw new IllegalArgumentException("write: " + data.length + " values for " + c.describe());
        }
        if (data.length == 0) {
            return;
        }
        switch (c.dtype()) {
            case F32 -> cuMemcpyHtoD(c.ptr, Pointer.to(data), 4L * data.length);
            case F16, BF16 -> {
                short[] bits = new short[data.length];
                boolean bf = c.dtype() == DType.BF16;
                for (int i = 0; i < bits.length; i++) {
                    bits[i] = bf ? HalfFloats.floatToBf16(data[i]) : HalfFloats.floatToF16(data[i]);
                }
                cuMemcpyHtoD(c.ptr, Pointer.to(bits), 2L * bits.length);
            }
        }
    }

    @Override
    public void free(Tensor t) {
        if (t == null || t.isFreed()) {
            return;
        }
        CudaTensor c = own(t, "free");
        cuMemFree(c.ptr);
        bytesInUse -= c.byteSize();
        c.released();
    }

    @Override
    public long bytesInUse() {
        return bytesInUse;
    }

    @Override
    public void synchronize() {
        try {
            cuCtxSynchronize();
        } catch (CudaException e) {
            throw new CudaKernelException("a kernel failed asynchronously: " + e.getMessage()
                    + " (run with -Dattnrt.cuda.sync=true to name it)");
        }
    }

    CudaTensor own(Tensor t, String op) {
        if (!(t instanceof CudaTensor c) || t.backend() != this) {
            throw new IllegalArgumentException(op + ": " + (t == null ? "null" : t.describe())
                    + " does not belong to this cuda backend");
        }
        if (t.isFreed()) {
            throw new IllegalArgumentException(op + ": " + t.describe() + " was freed");
        }
        return c;
    }

    CUdeviceptr ptr(Tensor t) {
        return t == null ? Kernel.NULL : own(t, "op").ptr;
    }

    /** Launches a kernel of the loaded modules by name. */
    void launch(String kernel, int gx, int gy, int gz, int block, int smem, Object... args) {
        device.kernel(kernel).launch(STREAM, gx, gy, gz, block, 1, 1, smem, args);
        if (syncEachLaunch) {
            try {
                cuCtxSynchronize();
            } catch (CudaException e) {
                throw new CudaKernelException("kernel " + kernel + " grid (" + gx + "," + gy + "," + gz + ") block "
                        + block + " smem " + smem + " failed: " + e.getMessage());
            }
        }
    }

    static String sfx(DType t) {
        return switch (t) {
            case F32 -> "f32";
            case F16 -> "f16";
            case BF16 -> "bf16";
            case Q8_0 -> "q8_0";
            case Q4_0 -> "q4_0";
            case Q4_K -> "q4_k";
            case Q5_K -> "q5_k";
            case Q6_K -> "q6_k";
        };
    }

    @Override
    public void fillBellShaped(Tensor t, long seed, double mean, double std) {
        CudaTensor c = own(t, "fillBellShaped");
        long n = c.numel();
        if (n == 0) {
            return;
        }
        launch("fill_bell_" + sfx(c.dtype()), (int) Math.min((n + 255) / 256, 65535), 1, 1, 256, 0,
                c.ptr, n, seed, (float) mean, (float) std);
    }

    /**
     * Device-to-device copy bandwidth in GB/s (bytes read + bytes written per second), the median of
     * {@code passes} copies of {@code bytes}: what a memory-bound kernel can reach on this device.
     */
    public double measureCopyGBs(long bytes, int passes) {
        CUdeviceptr a = new CUdeviceptr();
        CUdeviceptr b = new CUdeviceptr();
        cuMemAlloc(a, bytes);
        cuMemAlloc(b, bytes);
        jcuda.driver.CUevent start = new jcuda.driver.CUevent();
        jcuda.driver.CUevent stop = new jcuda.driver.CUevent();
        try {
            jcuda.driver.JCudaDriver.cuEventCreate(start, 0);
            jcuda.driver.JCudaDriver.cuEventCreate(stop, 0);
            cuMemsetD8(a, (byte) 1, bytes);
            jcuda.driver.JCudaDriver.cuMemcpyDtoD(b, a, bytes); // warm-up
            double[] gbs = new double[passes];
            for (int i = 0; i < passes; i++) {
                jcuda.driver.JCudaDriver.cuEventRecord(start, STREAM);
                jcuda.driver.JCudaDriver.cuMemcpyDtoD(b, a, bytes);
                jcuda.driver.JCudaDriver.cuEventRecord(stop, STREAM);
                jcuda.driver.JCudaDriver.cuEventSynchronize(stop);
                float[] ms = new float[1];
                jcuda.driver.JCudaDriver.cuEventElapsedTime(ms, start, stop);
                gbs[i] = 2.0 * bytes / (Math.max(ms[0], 1e-6f) * 1e-3) / 1e9;
            }
            java.util.Arrays.sort(gbs);
            return gbs[passes / 2];
        } finally {
            jcuda.driver.JCudaDriver.cuEventDestroy(start);
            jcuda.driver.JCudaDriver.cuEventDestroy(stop);
            cuMemFree(a);
            cuMemFree(b);
        }
    }

    // ---------------------------------------------------------------- ops

    @Override
    public void gatherRows(Tensor table, int[] rows, Tensor out) {
        OpChecks.gatherRows(table, rows, out);
        if (rows.length == 0) {
            return;
        }
        int cols = table.dim(1);
        if (table.dtype().isQuantized()) { // rows of whole blocks (OpChecks), so cols % 32 == 0 for store8
            launch("dequant_rows_" + sfx(table.dtype()) + "_" + sfx(out.dtype()), rows.length, 1, 1, 128, 0,
                    ptr(table), table.dim(0), cols, ints.of(rows), 0, rows.length, ptr(out), cols);
            return;
        }
        launch("gather_rows_" + sfx(table.dtype()) + "_" + sfx(out.dtype()), rows.length, 1, 1, 128, 0,
                ptr(table), table.dim(0), ints.of(rows), rows.length, cols, ptr(out), cols);
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
        OpChecks.rmsNorm("rmsNorm", x, weight, eps, out);
        launch("rmsnorm_" + sfx(x.dtype()) + "_" + sfx(weight.dtype()), x.dim(0), 1, 1, 256, 0,
                ptr(x), ptr(weight), ptr(out), x.dim(0), x.dim(1), eps);
    }

    @Override
    public void rmsNormHeads(Tensor x, Tensor weight, float eps) {
        int d = OpChecks.rmsNormHeads(x, weight, eps);
        int rows = Math.toIntExact(x.numel() / d); // [N, H·d] is [N·H, d] in memory
        launch("rmsnorm_" + sfx(x.dtype()) + "_" + sfx(weight.dtype()), rows, 1, 1, 256, 0,
                ptr(x), ptr(weight), ptr(x), rows, d, eps);
    }

    @Override
    public void addRmsNorm(Tensor residual, Tensor delta, Tensor weight, float eps, Tensor out) {
        OpChecks.addRmsNorm(residual, delta, weight, eps, out);
        launch("add_rmsnorm_" + sfx(residual.dtype()) + "_" + sfx(weight.dtype()), residual.dim(0), 1, 1, 256, 0,
                ptr(residual), ptr(delta), ptr(weight), ptr(out), residual.dim(0), residual.dim(1), eps);
    }

    @Override
    public void linear(Tensor x, Tensor weight, Tensor out, boolean accumulate) {
        OpChecks.linear(x, weight, out);
        linear.run(own(x, "linear"), own(weight, "linear"), own(out, "linear"), accumulate);
    }

    @Override
    public void rope(Tensor x, int[] positions, int numHeads, int headDim, RopeSpec rope) {
        OpChecks.rope(x, positions, numHeads, headDim);
        if (positions.length == 0) {
            return;
        }
        int pairs = headDim / 2;
        launch("rope_" + sfx(x.dtype()), positions.length, 1, 1, 128, 0,
                ptr(x), x.dim(1), numHeads, Kernel.NULL, 0, 0, ints.of(positions), ropeTable(rope, headDim),
                positions.length, headDim, rope.style() == RopeStyle.INTERLEAVED ? 1 : 0);
    }

    @Override
    public void ropeQK(Tensor q, Tensor k, int[] positions, int numHeads, int numKvHeads, int headDim,
                       RopeSpec rope) {
        OpChecks.rope(q, positions, numHeads, headDim);
        OpChecks.rope(k, positions, numKvHeads, headDim);
        if (positions.length == 0) {
            return;
        }
        launch("rope_" + sfx(q.dtype()), positions.length, 1, 1, 128, 0,
                ptr(q), q.dim(1), numHeads, ptr(k), k.dim(1), numKvHeads, ints.of(positions),
                ropeTable(rope, headDim), positions.length, headDim, rope.style() == RopeStyle.INTERLEAVED ? 1 : 0);
    }

    /** inv_freq[p] = theta^(-2p/d), computed in double once per (theta, d) and kept on the device. */
    private CUdeviceptr ropeTable(RopeSpec rope, int headDim) {
        return ropeTables.computeIfAbsent(rope.theta() + "/" + rope.scaling() + "/" + headDim, key -> {
            double[] f = rope.inverseFrequencies(headDim);
            float[] inv = new float[f.length];
            for (int p = 0; p < inv.length; p++) {
                inv[p] = (float) f[p];
            }
            CUdeviceptr d = new CUdeviceptr();
            cuMemAlloc(d, 4L * inv.length);
            cuMemcpyHtoD(d, Pointer.to(inv), 4L * inv.length);
            return d;
        });
    }

    @Override
    public void attentionPrefill(Tensor q, Tensor k, Tensor v, int[] seqStarts, AttentionSpec spec, Tensor out,
                                 Tensor lse) {
        OpChecks.attentionPrefill(q, k, v, seqStarts, spec, out, lse);
        attention.prefill(q, k, v, seqStarts, spec, out, lse);
    }

    @Override
    public void kvAppend(Tensor keyCache, Tensor valueCache, Tensor k, Tensor v, int[] slots) {
        OpChecks.kvAppend(keyCache, valueCache, k, v, slots);
        if (slots.length == 0) {
            return;
        }
        int width = k.dim(1);
        launch("kv_append_" + sfx(k.dtype()) + "_" + sfx(keyCache.dtype()), slots.length, 1, 1, 128, 0,
                ptr(k), width, ptr(v), width, ptr(keyCache), ptr(valueCache), ints.of(slots), slots.length, width);
    }

    @Override
    public void attentionDecode(Tensor q, Tensor keyCache, Tensor valueCache, int[] blockTables, int maxBlocksPerSeq,
                                int[] contextLens, AttentionSpec spec, Tensor out, Tensor lse) {
        int blockSize = OpChecks.attentionDecode(q, keyCache, valueCache, blockTables, maxBlocksPerSeq, contextLens,
                spec, out, lse);
        attention.decode(q, keyCache, valueCache, blockTables, maxBlocksPerSeq, contextLens, blockSize, spec, out, lse);
    }

    @Override
    public void copyBlocks(Tensor[] caches, int[] src, int[] dst) {
        OpChecks.copyBlocks(caches, src, dst);
        if (src.length == 0) {
            return;
        }
        if (caches.length > 65535) {
            throw new IllegalArgumentException("copyBlocks: at most 65535 caches per call (grid y), got " + caches.length);
        }
        int[] pairs = new int[2 * src.length];
        for (int i = 0; i < src.length; i++) {
            pairs[2 * i] = src[i];
            pairs[2 * i + 1] = dst[i];
        }
        // The kernel reads the caches' base addresses from device memory: grid.y walks them.
        long[] bases = new long[caches.length];
        for (int c = 0; c < caches.length; c++) {
            bases[c] = own(caches[c], "copyBlocks").address();
        }
        CUdeviceptr cachePtrs = sampleScratch.get(8L * bases.length);
        cuMemcpyHtoD(cachePtrs, Pointer.to(bases), 8L * bases.length);
        Tensor cache = caches[0];
        long blockElems = (long) cache.dim(1) * cache.dim(2) * cache.dim(3);
        launch("copy_blocks_" + sfx(cache.dtype()), src.length, caches.length, 1, 256, 0,
                cachePtrs, caches.length, ints.of(pairs), src.length, blockElems);
    }

    @Override
    public void swiglu(Tensor gateUp, Tensor out) {
        int f = OpChecks.swiglu(gateUp, out);
        int rows = out.rows();
        CUdeviceptr gu = ptr(gateUp);
        launch("swiglu_" + sfx(out.dtype()), rows, 1, 1, 256, 0, gu, 2 * f,
                gu.withByteOffset((long) f * out.dtype().byteSize()), 2 * f, ptr(out), f, rows, f);
    }

    @Override
    public void addBias(Tensor x, Tensor bias) {
        OpChecks.addBias(x, bias);
        launch("add_bias_" + sfx(x.dtype()) + "_" + sfx(bias.dtype()), x.dim(0), 1, 1, 256, 0, ptr(x), x.dim(0),
                x.dim(1), ptr(bias));
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        OpChecks.elementwise("add", a, b, out);
        long n = a.numel();
        int blocks = (int) Math.min((n + 2047) / 2048, 65535);
        launch("add_" + sfx(a.dtype()), Math.max(blocks, 1), 1, 1, 256, 0, ptr(a), ptr(b), ptr(out), n);
    }

    @Override
    public int[] argmax(Tensor logits) {
        int rows = OpChecks.logits("argmax", logits);
        int[] result = new int[rows];
        if (rows == 0) {
            return result;
        }
        CUdeviceptr out = sampleScratch.get(4L * rows);
        launch("argmax_" + sfx(logits.dtype()), rows, 1, 1, 1024, 0, ptr(logits), rows, logits.dim(1), out);
        cuMemcpyDtoH(Pointer.to(result), out, 4L * rows);
        return result;
    }

    @Override
    public int[] sample(Tensor logits, SamplingParams[] params, double[] uniforms) {
        OpChecks.sample(logits, params, uniforms);
        return CudaSampling.sample(this, own(logits, "sample"), params, uniforms, sampleScratch);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            linear.close();
            attention.close();
            sampleScratch.close();
            ints.close();
            for (CUdeviceptr p : ropeTables.values()) {
                cuMemFree(p);
            }
        } finally {
            device.close();
        }
        if (bytesInUse != 0) {
            LOG.debug("cuda backend closed with {} bytes of tensors still allocated (freed with the context)", bytesInUse);
        }
    }
}
