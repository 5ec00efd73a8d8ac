package io.attnrt.verify;

import io.attnrt.backend.RopeStyle;
import io.attnrt.backend.SamplingParams;
import io.attnrt.tensor.DType;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The sweep for a device backend on the emulated CUDA device, where every thread is a CPU fiber: small
 * shapes, but every kernel variant — each head dim (64, 80, 96, 128, 256), GQA ratios 1/2/4/8, causal and
 * not, sliding windows, ragged batches with an empty sequence, lengths 1, 7, 63, 64, 65, 200 (on and off
 * the tiles), block sizes 1/16/32, F32/F16/BF16 caches, fully masked decode rows, ±1e4 logits, GEMV
 * (≤ 8 tokens) and GEMM (more) with every weight dtype, logits in F32, and device sampling. Same cases
 * and tolerances as {@link OpSuite}.
 */
public final class DeviceOpSuite {
    private DeviceOpSuite() {
    }

    public static List<OpCase> cases() {
        List<OpCase> c = new ArrayList<>();
        c.addAll(prefill());
        c.addAll(decode());
        c.addAll(rest());
        return List.copyOf(c);
    }

    /** What {@code verify} runs on a device: these cases, plus (unless quick) the standard sweep's others. */
    public static List<OpCase> forDevice(boolean quick) {
        Map<String, OpCase> byName = new LinkedHashMap<>();
        for (List<OpCase> part : quick ? List.of(cases()) : List.of(OpSuite.standard(), cases())) {
            for (OpCase c : part) {
                byName.putIfAbsent(c.op() + " " + c.shape(), c);
            }
        }
        return List.copyOf(byName.values());
    }

    public static List<OpCase> prefill() {
        return List.of(
                OpSuite.prefill(new int[] {1}, 4, 4, 64, true, 0, true, false),
                OpSuite.prefill(new int[] {7}, 4, 2, 80, true, 0, false, false),
                OpSuite.prefill(new int[] {63}, 4, 1, 96, false, 0, true, false),
                OpSuite.prefill(new int[] {64}, 8, 2, 128, true, 0, true, false),
                OpSuite.prefill(new int[] {65}, 8, 1, 64, true, 5, true, false),
                OpSuite.prefill(new int[] {200}, 2, 2, 64, true, 0, true, false),
                OpSuite.prefill(new int[] {200}, 2, 1, 128, false, 0, false, false),
                OpSuite.prefill(new int[] {1, 7, 65}, 4, 2, 256, true, 0, true, false),
                OpSuite.prefill(new int[] {63, 64}, 4, 4, 80, false, 16, true, false),
                OpSuite.prefill(new int[] {5, 0, 9}, 4, 2, 96, true, 0, true, false),
                OpSuite.prefill(new int[] {64}, 4, 2, 64, true, 0, true, true));
    }

    public static List<OpCase> decode() {
        return List.of(
                OpSuite.decode(new int[] {0, 1, 7, 63}, 16, 8, 8, 64, 0, DType.F32, true, false),
                OpSuite.decode(new int[] {64, 65}, 1, 8, 4, 80, 0, DType.F16, true, false),
                OpSuite.decode(new int[] {200, 7}, 32, 8, 2, 96, 0, DType.BF16, true, false),
                OpSuite.decode(new int[] {65}, 16, 8, 1, 128, 5, DType.F32, false, false),
                OpSuite.decode(new int[] {200}, 16, 4, 2, 256, 0, DType.BF16, true, false),
                OpSuite.decode(new int[] {130, 1}, 16, 8, 4, 128, 0, DType.F16, true, false),
                OpSuite.decode(new int[] {300}, 16, 8, 2, 128, 0, DType.F32, true, true));
    }

    public static List<OpCase> rest() {
        SamplingParams[] mix = {
            SamplingParams.GREEDY,
            new SamplingParams(1f, 0, 1f),
            new SamplingParams(0.7f, 40, 1f),
            new SamplingParams(0.9f, 0, 0.9f),
            new SamplingParams(1.5f, 5, 0.5f),
            new SamplingParams(1.2f, 50, 0.95f),
        };
        return List.of(
                OpSuite.kvAppend(12, 16, 8, 64, 37, DType.F32),
                OpSuite.kvAppend(9, 8, 2, 128, 50, DType.F16),
                OpSuite.kvAppend(40, 1, 4, 80, 17, DType.BF16),
                OpSuite.copyBlocks(10, 16, 2, 64, 3, DType.F32),
                OpSuite.copyBlocks(20, 8, 4, 128, 7, DType.F16),
                OpSuite.copyBlocks(8, 32, 1, 80, 1, DType.BF16),
                OpSuite.linear(1, 64, 129, DType.F32),
                OpSuite.linear(3, 200, 67, DType.F16),
                OpSuite.linear(8, 512, 100, DType.BF16),
                OpSuite.linear(1, 256, 1000, DType.BF16, true, false),
                OpSuite.linear(9, 200, 200, DType.BF16),
                OpSuite.linear(64, 64, 130, DType.BF16, true, false),
                OpSuite.linear(2, 128, 96, DType.BF16, false, true),
                OpSuite.linear(40, 128, 96, DType.BF16, false, true),
                OpSuite.linear(17, 128, 67, DType.F16),
                OpSuite.linear(33, 96, 64, DType.F32),
                // GGUF weights kept as blocks: every type through the GEMV (split-K for 1024 inputs over 33
                // rows), through decoded slices and the GEMM (130 rows: two slices when the test forces
                // 128-row slices), and in embedding lookups
                OpSuite.linearQuantized(1, 1024, 33, DType.Q8_0, false),
                OpSuite.linearQuantized(3, 96, 67, DType.Q4_0, true),
                OpSuite.linearQuantized(8, 256, 40, DType.Q4_K, true),
                OpSuite.linearQuantized(1, 512, 129, DType.Q5_K, false),
                OpSuite.linearQuantized(5, 768, 33, DType.Q6_K, true),
                OpSuite.linearQuantized(12, 64, 40, DType.Q8_0, true),
                OpSuite.linearQuantized(33, 96, 64, DType.Q4_0, true),
                OpSuite.linearQuantized(9, 256, 130, DType.Q4_K, false),
                OpSuite.linearQuantized(10, 512, 130, DType.Q5_K, true),
                OpSuite.linearQuantized(17, 256, 33, DType.Q6_K, false),
                OpSuite.gatherRowsQuantized(30, 64, 5, DType.Q8_0),
                OpSuite.gatherRowsQuantized(30, 96, 4, DType.Q4_0),
                OpSuite.gatherRowsQuantized(20, 256, 3, DType.Q4_K),
                OpSuite.gatherRowsQuantized(20, 512, 3, DType.Q5_K),
                OpSuite.gatherRowsQuantized(40, 256, 3, DType.Q6_K),
                OpSuite.rmsNorm(1, 64, DType.F32, 1e-5f, false),
                OpSuite.rmsNormHeads(3, 4, 64, DType.BF16),
                OpSuite.rmsNormHeads(1, 2, 128, DType.F32),
                OpSuite.rmsNorm(3, 4096, DType.BF16, 1e-6f, false),
                OpSuite.rmsNorm(5, 100, DType.F16, 1e-5f, true),
                OpSuite.addRmsNorm(4, 128, DType.F32, 1e-5f),
                OpSuite.addRmsNorm(17, 1000, DType.BF16, 1e-6f),
                OpSuite.rope(5, 8, 64, 1e4, RopeStyle.ROTATE_HALF, 4),
                OpSuite.rope(17, 4, 80, 5e5, RopeStyle.INTERLEAVED, 8000),
                OpSuite.rope(3, 2, 128, 5e5, RopeStyle.ROTATE_HALF, 100000),
                OpSuite.ropeQK(7, 8, 2, 64, 5e5, RopeStyle.ROTATE_HALF, 4000),
                OpSuite.ropeQK(3, 4, 4, 128, 1e4, RopeStyle.INTERLEAVED, 100),
                OpSuite.gatherRows(1000, 64, 5, DType.F32),
                OpSuite.gatherRows(100, 129, 17, DType.F16),
                OpSuite.gatherRows(500, 128, 3, DType.BF16),
                OpSuite.swiglu(3, 67, 4),
                OpSuite.swiglu(17, 1000, 100),
                OpSuite.addBias(3, 67, DType.F32),
                OpSuite.addBias(17, 1000, DType.BF16),
                OpSuite.addBias(1, 64, DType.F16),
                OpSuite.add(1, 64, false),
                OpSuite.add(17, 1000, true),
                OpSuite.argmax(6, 129),
                OpSuite.argmax(2, 32000),
                OpSuite.sample(mix, 129, 1),
                OpSuite.sample(mix, 1000, 2),
                OpSuite.sample(new SamplingParams[] {new SamplingParams(1f, 0, 0.05f),
                    new SamplingParams(0.6f, 100, 0.8f)}, 32000, 1));
    }
}
