package io.attnrt.backend.cpu;

import static io.attnrt.backend.cpu.SimdKernels.F;
import static io.attnrt.backend.cpu.SimdKernels.KEY_TILE;
import static io.attnrt.backend.cpu.SimdKernels.L;
import static io.attnrt.backend.cpu.SimdKernels.VECTOR_REGISTERS;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;

/**
 * The attention kernels of {@link SimdKernels}: scores of query rows against a key tile (transposed for
 * prefill, by dot products through an offset list for paged decode) and the P·V accumulation. Query rows
 * are grouped as the register file allows — 4 rows share each key or value vector loaded where there are 32
 * vector registers, 2 where there are 16 — and a row is never computed twice.
 */
final class SimdAttention {
    private SimdAttention() {
    }


    static void scoresTransposed(float[] q, int qOff, int rows, int d, float[] kt, float[] s) {
        if (VECTOR_REGISTERS < 32) {
            // 4 rows × 4 vectors of keys would hold 21 registers: the key tile in two halves of 2 vectors
            scoresTransposedHalf(q, qOff, rows, d, kt, s, 0);
            scoresTransposedHalf(q, qOff, rows, d, kt, s, 2 * L);
            return;
        }
        for (int r = 0; r < rows; r += 4) {
            int q0 = qOff + r * d;
            int q1 = qOff + Math.min(r + 1, rows - 1) * d;
            int q2 = qOff + Math.min(r + 2, rows - 1) * d;
            int q3 = qOff + Math.min(r + 3, rows - 1) * d;
            FloatVector z = FloatVector.zero(F);
            FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
            FloatVector a20 = z, a21 = z, a22 = z, a23 = z, a30 = z, a31 = z, a32 = z, a33 = z;
            for (int c = 0; c < d; c++) {
                int kc = c * KEY_TILE;
                FloatVector k0 = FloatVector.fromArray(F, kt, kc);
                FloatVector k1 = FloatVector.fromArray(F, kt, kc + L);
                FloatVector k2 = FloatVector.fromArray(F, kt, kc + 2 * L);
                FloatVector k3 = FloatVector.fromArray(F, kt, kc + 3 * L);
                FloatVector b = FloatVector.broadcast(F, q[q0 + c]);
                a00 = k0.fma(b, a00);
                a01 = k1.fma(b, a01);
                a02 = k2.fma(b, a02);
                a03 = k3.fma(b, a03);
                b = FloatVector.broadcast(F, q[q1 + c]);
                a10 = k0.fma(b, a10);
                a11 = k1.fma(b, a11);
                a12 = k2.fma(b, a12);
                a13 = k3.fma(b, a13);
                b = FloatVector.broadcast(F, q[q2 + c]);
                a20 = k0.fma(b, a20);
                a21 = k1.fma(b, a21);
                a22 = k2.fma(b, a22);
                a23 = k3.fma(b, a23);
                b = FloatVector.broadcast(F, q[q3 + c]);
                a30 = k0.fma(b, a30);
                a31 = k1.fma(b, a31);
                a32 = k2.fma(b, a32);
                a33 = k3.fma(b, a33);
            }
            // Clamped rows recompute the last row: storing it again writes identical values.
            int s0 = r * KEY_TILE;
            int s1 = Math.min(r + 1, rows - 1) * KEY_TILE;
            int s2 = Math.min(r + 2, rows - 1) * KEY_TILE;
            int s3 = Math.min(r + 3, rows - 1) * KEY_TILE;
            a00.intoArray(s, s0);
            a01.intoArray(s, s0 + L);
            a02.intoArray(s, s0 + 2 * L);
            a03.intoArray(s, s0 + 3 * L);
            a10.intoArray(s, s1);
            a11.intoArray(s, s1 + L);
            a12.intoArray(s, s1 + 2 * L);
            a13.intoArray(s, s1 + 3 * L);
            a20.intoArray(s, s2);
            a21.intoArray(s, s2 + L);
            a22.intoArray(s, s2 + 2 * L);
            a23.intoArray(s, s2 + 3 * L);
            a30.intoArray(s, s3);
            a31.intoArray(s, s3 + L);
            a32.intoArray(s, s3 + 2 * L);
            a33.intoArray(s, s3 + 3 * L);
        }
    }

    // Lane swaps and "low half" masks of the transpose-add tree in scoresDot16: lane i ↔ i ^ h.
    /** Key columns [j0, j0 + 2L) of the tile for all rows, 4 rows × 2 vectors at a time (11 registers live). */
    private static void scoresTransposedHalf(float[] q, int qOff, int rows, int d, float[] kt, float[] s, int j0) {
        for (int r = 0; r < rows; r += 4) {
            int q0 = qOff + r * d;
            int q1 = qOff + Math.min(r + 1, rows - 1) * d;
            int q2 = qOff + Math.min(r + 2, rows - 1) * d;
            int q3 = qOff + Math.min(r + 3, rows - 1) * d;
            FloatVector z = FloatVector.zero(F);
            FloatVector a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z;
            for (int c = 0; c < d; c++) {
                int kc = c * KEY_TILE + j0;
                FloatVector k0 = FloatVector.fromArray(F, kt, kc);
                FloatVector k1 = FloatVector.fromArray(F, kt, kc + L);
                FloatVector b = FloatVector.broadcast(F, q[q0 + c]);
                a00 = k0.fma(b, a00);
                a01 = k1.fma(b, a01);
                b = FloatVector.broadcast(F, q[q1 + c]);
                a10 = k0.fma(b, a10);
                a11 = k1.fma(b, a11);
                b = FloatVector.broadcast(F, q[q2 + c]);
                a20 = k0.fma(b, a20);
                a21 = k1.fma(b, a21);
                b = FloatVector.broadcast(F, q[q3 + c]);
                a30 = k0.fma(b, a30);
                a31 = k1.fma(b, a31);
            }
            // clamped rows recompute the last row: storing it again writes identical values
            int s0 = r * KEY_TILE + j0, s1 = Math.min(r + 1, rows - 1) * KEY_TILE + j0;
            int s2 = Math.min(r + 2, rows - 1) * KEY_TILE + j0, s3 = Math.min(r + 3, rows - 1) * KEY_TILE + j0;
            a00.intoArray(s, s0);
            a01.intoArray(s, s0 + L);
            a10.intoArray(s, s1);
            a11.intoArray(s, s1 + L);
            a20.intoArray(s, s2);
            a21.intoArray(s, s2 + L);
            a30.intoArray(s, s3);
            a31.intoArray(s, s3 + L);
        }
    }

    private static final VectorShuffle<Float> SWAP8 = swap(8), SWAP4 = swap(4), SWAP2 = swap(2), SWAP1 = swap(1);
    private static final VectorMask<Float> LOW8 = low(8), LOW4 = low(4), LOW2 = low(2), LOW1 = low(1);

    private static VectorShuffle<Float> swap(int h) {
        return VectorShuffle.fromOp(F, i -> h < L ? i ^ h : i); // identity where h is not a lane distance (unused)
    }

    private static VectorMask<Float> low(int h) {
        boolean[] bits = new boolean[L];
        for (int i = 0; i < L; i++) {
            bits[i] = (i & h) == 0;
        }
        return VectorMask.fromArray(F, bits, 0);
    }

    static void scoresDot(float[] q, int qOff, int rows, int d, float[] k, int[] kOffs, int count, float[] s) {
        if (L == 16 && d % L == 0) {
            scoresDot16(q, qOff, rows, d, k, kOffs, count, s);
            return;
        }
        if (L == 8 && d % L == 0) {
            scoresDot8(q, qOff, rows, d, k, kOffs, count, s);
            return;
        }
        int dv = d - d % L;
        int r = 0;
        // whole groups of 4 rows share each key load; the rows past them go alone, 4 keys at a time, so a
        // row is never computed twice (one row per KV head in multi-head attention)
        for (; r + 4 <= rows; r += 4) {
            int r1 = r + 1, r2 = r + 2, r3 = r + 3;
            int q0 = qOff + r * d, q1 = qOff + r1 * d, q2 = qOff + r2 * d, q3 = qOff + r3 * d;
            for (int j = 0; j < count; j++) {
                int kj = kOffs[j];
                FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
                for (int c = 0; c < dv; c += L) {
                    FloatVector kv = FloatVector.fromArray(F, k, kj + c);
                    a0 = FloatVector.fromArray(F, q, q0 + c).fma(kv, a0);
                    a1 = FloatVector.fromArray(F, q, q1 + c).fma(kv, a1);
                    a2 = FloatVector.fromArray(F, q, q2 + c).fma(kv, a2);
                    a3 = FloatVector.fromArray(F, q, q3 + c).fma(kv, a3);
                }
                float s0 = a0.reduceLanes(VectorOperators.ADD), s1 = a1.reduceLanes(VectorOperators.ADD);
                float s2 = a2.reduceLanes(VectorOperators.ADD), s3 = a3.reduceLanes(VectorOperators.ADD);
                for (int c = dv; c < d; c++) {
                    float kc = k[kj + c];
                    s0 += q[q0 + c] * kc;
                    s1 += q[q1 + c] * kc;
                    s2 += q[q2 + c] * kc;
                    s3 += q[q3 + c] * kc;
                }
                s[r * KEY_TILE + j] = s0;
                s[r1 * KEY_TILE + j] = s1;
                s[r2 * KEY_TILE + j] = s2;
                s[r3 * KEY_TILE + j] = s3;
            }
        }
        for (; r < rows; r++) {
            scoresDot1Row(q, qOff + r * d, d, dv, k, kOffs, count, s, r * KEY_TILE);
        }
    }

    /**
     * scoresDot for 8 lanes (AVX2) and d a multiple of 8, as {@link #scoresDot16}: 8 keys at a time against one
     * query row in 8 accumulators (10 registers live, within AVX2's 16), then 7 folds leave key j's dot product
     * in lane j — no per-key horizontal reductions. Keys past count repeat the last key.
     */
    private static void scoresDot8(float[] q, int qOff, int rows, int d, float[] k, int[] kOffs, int count,
                                   float[] s) {
        for (int j0 = 0; j0 < count; j0 += 8) {
            int last = count - 1;
            int o0 = kOffs[j0], o1 = kOffs[Math.min(j0 + 1, last)], o2 = kOffs[Math.min(j0 + 2, last)];
            int o3 = kOffs[Math.min(j0 + 3, last)], o4 = kOffs[Math.min(j0 + 4, last)];
            int o5 = kOffs[Math.min(j0 + 5, last)], o6 = kOffs[Math.min(j0 + 6, last)];
            int o7 = kOffs[Math.min(j0 + 7, last)];
            for (int r = 0; r < rows; r++) {
                int qr = qOff + r * d;
                FloatVector z = FloatVector.zero(F);
                FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
                for (int c = 0; c < d; c += 8) {
                    FloatVector qv = FloatVector.fromArray(F, q, qr + c);
                    a0 = FloatVector.fromArray(F, k, o0 + c).fma(qv, a0);
                    a1 = FloatVector.fromArray(F, k, o1 + c).fma(qv, a1);
                    a2 = FloatVector.fromArray(F, k, o2 + c).fma(qv, a2);
                    a3 = FloatVector.fromArray(F, k, o3 + c).fma(qv, a3);
                    a4 = FloatVector.fromArray(F, k, o4 + c).fma(qv, a4);
                    a5 = FloatVector.fromArray(F, k, o5 + c).fma(qv, a5);
                    a6 = FloatVector.fromArray(F, k, o6 + c).fma(qv, a6);
                    a7 = FloatVector.fromArray(F, k, o7 + c).fma(qv, a7);
                }
                // the folds of scoresDot16 from h = 4 down (written inline for the same reason)
                a0 = a4.blend(a0, LOW4).add(a0.blend(a4, LOW4).rearrange(SWAP4));
                a1 = a5.blend(a1, LOW4).add(a1.blend(a5, LOW4).rearrange(SWAP4));
                a2 = a6.blend(a2, LOW4).add(a2.blend(a6, LOW4).rearrange(SWAP4));
                a3 = a7.blend(a3, LOW4).add(a3.blend(a7, LOW4).rearrange(SWAP4));
                a0 = a2.blend(a0, LOW2).add(a0.blend(a2, LOW2).rearrange(SWAP2));
                a1 = a3.blend(a1, LOW2).add(a1.blend(a3, LOW2).rearrange(SWAP2));
                a1.blend(a0, LOW1).add(a0.blend(a1, LOW1).rearrange(SWAP1)).intoArray(s, r * KEY_TILE + j0);
            }
        }
    }

    /** One query row against keys 4 at a time: 4 independent FMA chains, each key loaded once. */
    private static void scoresDot1Row(float[] q, int q0, int d, int dv, float[] k, int[] kOffs, int count, float[] s,
                                      int sOff) {
        int j = 0;
        for (; j + 4 <= count; j += 4) {
            int k0 = kOffs[j], k1 = kOffs[j + 1], k2 = kOffs[j + 2], k3 = kOffs[j + 3];
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            for (int c = 0; c < dv; c += L) {
                FloatVector qv = FloatVector.fromArray(F, q, q0 + c);
                a0 = FloatVector.fromArray(F, k, k0 + c).fma(qv, a0);
                a1 = FloatVector.fromArray(F, k, k1 + c).fma(qv, a1);
                a2 = FloatVector.fromArray(F, k, k2 + c).fma(qv, a2);
                a3 = FloatVector.fromArray(F, k, k3 + c).fma(qv, a3);
            }
            float s0 = a0.reduceLanes(VectorOperators.ADD), s1 = a1.reduceLanes(VectorOperators.ADD);
            float s2 = a2.reduceLanes(VectorOperators.ADD), s3 = a3.reduceLanes(VectorOperators.ADD);
            for (int c = dv; c < d; c++) {
                float qc = q[q0 + c];
                s0 += qc * k[k0 + c];
                s1 += qc * k[k1 + c];
                s2 += qc * k[k2 + c];
                s3 += qc * k[k3 + c];
            }
            s[sOff + j] = s0;
            s[sOff + j + 1] = s1;
            s[sOff + j + 2] = s2;
            s[sOff + j + 3] = s3;
        }
        for (; j < count; j++) {
            int kj = kOffs[j];
            FloatVector a = FloatVector.zero(F);
            for (int c = 0; c < dv; c += L) {
                a = FloatVector.fromArray(F, q, q0 + c).fma(FloatVector.fromArray(F, k, kj + c), a);
            }
            float sj = a.reduceLanes(VectorOperators.ADD);
            for (int c = dv; c < d; c++) {
                sj += q[q0 + c] * k[kj + c];
            }
            s[sOff + j] = sj;
        }
    }

    /**
     * scoresDot for 16 lanes and d a multiple of 16: 16 keys at a time against one query row, 16 vector
     * accumulators, then a transpose-add tree (15 folds) that leaves key j's dot product in lane j. Replaces
     * 16 horizontal reduceLanes, which JDK 17 compiles to a serial lane-by-lane sum, by 4 instructions a fold.
     * Keys past count repeat the last key; their scores land in columns the caller ignores.
     */
    private static void scoresDot16(float[] q, int qOff, int rows, int d, float[] k, int[] kOffs, int count,
                                    float[] s) {
        for (int j0 = 0; j0 < count; j0 += 16) {
            int last = count - 1;
            int o0 = kOffs[j0], o1 = kOffs[Math.min(j0 + 1, last)], o2 = kOffs[Math.min(j0 + 2, last)];
            int o3 = kOffs[Math.min(j0 + 3, last)], o4 = kOffs[Math.min(j0 + 4, last)];
            int o5 = kOffs[Math.min(j0 + 5, last)], o6 = kOffs[Math.min(j0 + 6, last)];
            int o7 = kOffs[Math.min(j0 + 7, last)], o8 = kOffs[Math.min(j0 + 8, last)];
            int o9 = kOffs[Math.min(j0 + 9, last)], o10 = kOffs[Math.min(j0 + 10, last)];
            int o11 = kOffs[Math.min(j0 + 11, last)], o12 = kOffs[Math.min(j0 + 12, last)];
            int o13 = kOffs[Math.min(j0 + 13, last)], o14 = kOffs[Math.min(j0 + 14, last)];
            int o15 = kOffs[Math.min(j0 + 15, last)];
            for (int r = 0; r < rows; r++) {
                int qr = qOff + r * d;
                FloatVector z = FloatVector.zero(F);
                FloatVector a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
                FloatVector a8 = z, a9 = z, a10 = z, a11 = z, a12 = z, a13 = z, a14 = z, a15 = z;
                for (int c = 0; c < d; c += 16) {
                    FloatVector qv = FloatVector.fromArray(F, q, qr + c);
                    a0 = FloatVector.fromArray(F, k, o0 + c).fma(qv, a0);
                    a1 = FloatVector.fromArray(F, k, o1 + c).fma(qv, a1);
                    a2 = FloatVector.fromArray(F, k, o2 + c).fma(qv, a2);
                    a3 = FloatVector.fromArray(F, k, o3 + c).fma(qv, a3);
                    a4 = FloatVector.fromArray(F, k, o4 + c).fma(qv, a4);
                    a5 = FloatVector.fromArray(F, k, o5 + c).fma(qv, a5);
                    a6 = FloatVector.fromArray(F, k, o6 + c).fma(qv, a6);
                    a7 = FloatVector.fromArray(F, k, o7 + c).fma(qv, a7);
                    a8 = FloatVector.fromArray(F, k, o8 + c).fma(qv, a8);
                    a9 = FloatVector.fromArray(F, k, o9 + c).fma(qv, a9);
                    a10 = FloatVector.fromArray(F, k, o10 + c).fma(qv, a10);
                    a11 = FloatVector.fromArray(F, k, o11 + c).fma(qv, a11);
                    a12 = FloatVector.fromArray(F, k, o12 + c).fma(qv, a12);
                    a13 = FloatVector.fromArray(F, k, o13 + c).fma(qv, a13);
                    a14 = FloatVector.fromArray(F, k, o14 + c).fma(qv, a14);
                    a15 = FloatVector.fromArray(F, k, o15 + c).fma(qv, a15);
                }
                // Each fold (b.blend(a, low) + a.blend(b, low).rearrange(swap)) gives lanes i with bit h clear
                // a[i] + a[i ^ h] and the others b[i] + b[i ^ h]: after the first, lanes 0-7 of a0 hold key 0's
                // partial sums and 8-15 key 8's, and so on down to one lane per key. Written out inline: as a
                // helper it is not inlined into this big method and C2 boxes its vectors.
                a0 = a8.blend(a0, LOW8).add(a0.blend(a8, LOW8).rearrange(SWAP8));
                a1 = a9.blend(a1, LOW8).add(a1.blend(a9, LOW8).rearrange(SWAP8));
                a2 = a10.blend(a2, LOW8).add(a2.blend(a10, LOW8).rearrange(SWAP8));
                a3 = a11.blend(a3, LOW8).add(a3.blend(a11, LOW8).rearrange(SWAP8));
                a4 = a12.blend(a4, LOW8).add(a4.blend(a12, LOW8).rearrange(SWAP8));
                a5 = a13.blend(a5, LOW8).add(a5.blend(a13, LOW8).rearrange(SWAP8));
                a6 = a14.blend(a6, LOW8).add(a6.blend(a14, LOW8).rearrange(SWAP8));
                a7 = a15.blend(a7, LOW8).add(a7.blend(a15, LOW8).rearrange(SWAP8));
                a0 = a4.blend(a0, LOW4).add(a0.blend(a4, LOW4).rearrange(SWAP4));
                a1 = a5.blend(a1, LOW4).add(a1.blend(a5, LOW4).rearrange(SWAP4));
                a2 = a6.blend(a2, LOW4).add(a2.blend(a6, LOW4).rearrange(SWAP4));
                a3 = a7.blend(a3, LOW4).add(a3.blend(a7, LOW4).rearrange(SWAP4));
                a0 = a2.blend(a0, LOW2).add(a0.blend(a2, LOW2).rearrange(SWAP2));
                a1 = a3.blend(a1, LOW2).add(a1.blend(a3, LOW2).rearrange(SWAP2));
                a1.blend(a0, LOW1).add(a0.blend(a1, LOW1).rearrange(SWAP1)).intoArray(s, r * KEY_TILE + j0);
            }
        }
    }

    /**
     * Rows in groups sized for the register file, never recomputing one: four at a time where there are 32
     * vector registers (AVX-512, NEON), two at a time where there are 16 (AVX2: a 4-row tile's 16 accumulators
     * plus its loads would spill), and a last odd row alone — so multi-head attention (one row per KV head)
     * costs one row's work, not a clamped 4-row tile's.
     */
    static void accumulatePV(float[] p, int rows, int count, float[] v, int[] vOffs, float[] acc, int accOff, int d) {
        int r = 0;
        if (VECTOR_REGISTERS >= 32) {
            for (; r + 4 <= rows; r += 4) {
                pv4Rows(p, r, count, v, vOffs, acc, accOff, d);
            }
        }
        for (; r + 2 <= rows; r += 2) {
            pv2Rows(p, r, count, v, vOffs, acc, accOff, d);
        }
        if (r < rows) {
            pv1Row(p, r, count, v, vOffs, acc, accOff, d);
        }
    }

    /** Rows r, r+1 over 4L-wide column blocks: 8 accumulators, 4 loads and 1 broadcast live (13 registers). */
    private static void pv2Rows(float[] p, int r, int count, float[] v, int[] vOffs, float[] acc, int accOff, int d) {
        int d4 = d - d % (4 * L), dv = d - d % L;
        int p0 = r * KEY_TILE, p1 = p0 + KEY_TILE, o0 = accOff + r * d, o1 = o0 + d;
        for (int c = 0; c < d4; c += 4 * L) {
            FloatVector a00 = FloatVector.fromArray(F, acc, o0 + c), a01 = FloatVector.fromArray(F, acc, o0 + c + L);
            FloatVector a02 = FloatVector.fromArray(F, acc, o0 + c + 2 * L);
            FloatVector a03 = FloatVector.fromArray(F, acc, o0 + c + 3 * L);
            FloatVector a10 = FloatVector.fromArray(F, acc, o1 + c), a11 = FloatVector.fromArray(F, acc, o1 + c + L);
            FloatVector a12 = FloatVector.fromArray(F, acc, o1 + c + 2 * L);
            FloatVector a13 = FloatVector.fromArray(F, acc, o1 + c + 3 * L);
            for (int j = 0; j < count; j++) {
                int vj = vOffs[j] + c;
                FloatVector v0 = FloatVector.fromArray(F, v, vj), v1 = FloatVector.fromArray(F, v, vj + L);
                FloatVector v2 = FloatVector.fromArray(F, v, vj + 2 * L), v3 = FloatVector.fromArray(F, v, vj + 3 * L);
                FloatVector b = FloatVector.broadcast(F, p[p0 + j]);
                a00 = v0.fma(b, a00);
                a01 = v1.fma(b, a01);
                a02 = v2.fma(b, a02);
                a03 = v3.fma(b, a03);
                b = FloatVector.broadcast(F, p[p1 + j]);
                a10 = v0.fma(b, a10);
                a11 = v1.fma(b, a11);
                a12 = v2.fma(b, a12);
                a13 = v3.fma(b, a13);
            }
            a00.intoArray(acc, o0 + c);
            a01.intoArray(acc, o0 + c + L);
            a02.intoArray(acc, o0 + c + 2 * L);
            a03.intoArray(acc, o0 + c + 3 * L);
            a10.intoArray(acc, o1 + c);
            a11.intoArray(acc, o1 + c + L);
            a12.intoArray(acc, o1 + c + 2 * L);
            a13.intoArray(acc, o1 + c + 3 * L);
        }
        for (int c = d4; c < dv; c += L) {
            FloatVector a0 = FloatVector.fromArray(F, acc, o0 + c), a1 = FloatVector.fromArray(F, acc, o1 + c);
            for (int j = 0; j < count; j++) {
                FloatVector vv = FloatVector.fromArray(F, v, vOffs[j] + c);
                a0 = vv.fma(FloatVector.broadcast(F, p[p0 + j]), a0);
                a1 = vv.fma(FloatVector.broadcast(F, p[p1 + j]), a1);
            }
            a0.intoArray(acc, o0 + c);
            a1.intoArray(acc, o1 + c);
        }
        pvTail(p, r, 2, count, v, vOffs, acc, accOff, d, dv);
    }

    /**
     * Row r alone over 4L-wide column blocks. Even and odd keys feed separate accumulators (8 independent FMA
     * chains, 13 registers live) so the FMA latency stays hidden with a single row.
     */
    private static void pv1Row(float[] p, int r, int count, float[] v, int[] vOffs, float[] acc, int accOff, int d) {
        int d4 = d - d % (4 * L), dv = d - d % L;
        int p0 = r * KEY_TILE, o0 = accOff + r * d;
        for (int c = 0; c < d4; c += 4 * L) {
            FloatVector a0 = FloatVector.fromArray(F, acc, o0 + c), a1 = FloatVector.fromArray(F, acc, o0 + c + L);
            FloatVector a2 = FloatVector.fromArray(F, acc, o0 + c + 2 * L);
            FloatVector a3 = FloatVector.fromArray(F, acc, o0 + c + 3 * L);
            FloatVector e0 = FloatVector.zero(F), e1 = e0, e2 = e0, e3 = e0;
            int j = 0;
            for (; j + 2 <= count; j += 2) {
                int vj = vOffs[j] + c, vk = vOffs[j + 1] + c;
                FloatVector b = FloatVector.broadcast(F, p[p0 + j]);
                a0 = FloatVector.fromArray(F, v, vj).fma(b, a0);
                a1 = FloatVector.fromArray(F, v, vj + L).fma(b, a1);
                a2 = FloatVector.fromArray(F, v, vj + 2 * L).fma(b, a2);
                a3 = FloatVector.fromArray(F, v, vj + 3 * L).fma(b, a3);
                b = FloatVector.broadcast(F, p[p0 + j + 1]);
                e0 = FloatVector.fromArray(F, v, vk).fma(b, e0);
                e1 = FloatVector.fromArray(F, v, vk + L).fma(b, e1);
                e2 = FloatVector.fromArray(F, v, vk + 2 * L).fma(b, e2);
                e3 = FloatVector.fromArray(F, v, vk + 3 * L).fma(b, e3);
            }
            if (j < count) {
                int vj = vOffs[j] + c;
                FloatVector b = FloatVector.broadcast(F, p[p0 + j]);
                a0 = FloatVector.fromArray(F, v, vj).fma(b, a0);
                a1 = FloatVector.fromArray(F, v, vj + L).fma(b, a1);
                a2 = FloatVector.fromArray(F, v, vj + 2 * L).fma(b, a2);
                a3 = FloatVector.fromArray(F, v, vj + 3 * L).fma(b, a3);
            }
            a0.add(e0).intoArray(acc, o0 + c);
            a1.add(e1).intoArray(acc, o0 + c + L);
            a2.add(e2).intoArray(acc, o0 + c + 2 * L);
            a3.add(e3).intoArray(acc, o0 + c + 3 * L);
        }
        for (int c = d4; c < dv; c += L) {
            FloatVector a0 = FloatVector.fromArray(F, acc, o0 + c);
            for (int j = 0; j < count; j++) {
                a0 = FloatVector.fromArray(F, v, vOffs[j] + c).fma(FloatVector.broadcast(F, p[p0 + j]), a0);
            }
            a0.intoArray(acc, o0 + c);
        }
        pvTail(p, r, 1, count, v, vOffs, acc, accOff, d, dv);
    }

    /** Columns [dv, d) past the last whole vector, for rows r..r+n-1, in scalar. */
    private static void pvTail(float[] p, int r, int n, int count, float[] v, int[] vOffs, float[] acc, int accOff,
                               int d, int dv) {
        for (int k = 0; k < n && dv < d; k++) {
            int pr = (r + k) * KEY_TILE, or = accOff + (r + k) * d;
            for (int j = 0; j < count; j++) {
                float pj = p[pr + j];
                int vj = vOffs[j];
                for (int c = dv; c < d; c++) {
                    acc[or + c] += pj * v[vj + c];
                }
            }
        }
    }

    /** Rows r..r+3: 16 accumulators, each V vector loaded once for four rows (needs 32 vector registers). */
    private static void pv4Rows(float[] p, int r, int count, float[] v, int[] vOffs, float[] acc, int accOff, int d) {
        int d4 = d - d % (4 * L);
        int dv = d - d % L;
        int r1 = r + 1, r2 = r + 2, r3 = r + 3;
        int p0 = r * KEY_TILE, p1 = r1 * KEY_TILE, p2 = r2 * KEY_TILE, p3 = r3 * KEY_TILE;
        int o0 = accOff + r * d, o1 = accOff + r1 * d, o2 = accOff + r2 * d, o3 = accOff + r3 * d;
        for (int c = 0; c < d4; c += 4 * L) {
            FloatVector a00 = FloatVector.fromArray(F, acc, o0 + c);
            FloatVector a01 = FloatVector.fromArray(F, acc, o0 + c + L);
            FloatVector a02 = FloatVector.fromArray(F, acc, o0 + c + 2 * L);
            FloatVector a03 = FloatVector.fromArray(F, acc, o0 + c + 3 * L);
            FloatVector a10 = FloatVector.fromArray(F, acc, o1 + c);
            FloatVector a11 = FloatVector.fromArray(F, acc, o1 + c + L);
            FloatVector a12 = FloatVector.fromArray(F, acc, o1 + c + 2 * L);
            FloatVector a13 = FloatVector.fromArray(F, acc, o1 + c + 3 * L);
            FloatVector a20 = FloatVector.fromArray(F, acc, o2 + c);
            FloatVector a21 = FloatVector.fromArray(F, acc, o2 + c + L);
            FloatVector a22 = FloatVector.fromArray(F, acc, o2 + c + 2 * L);
            FloatVector a23 = FloatVector.fromArray(F, acc, o2 + c + 3 * L);
            FloatVector a30 = FloatVector.fromArray(F, acc, o3 + c);
            FloatVector a31 = FloatVector.fromArray(F, acc, o3 + c + L);
            FloatVector a32 = FloatVector.fromArray(F, acc, o3 + c + 2 * L);
            FloatVector a33 = FloatVector.fromArray(F, acc, o3 + c + 3 * L);
            for (int j = 0; j < count; j++) {
                int vj = vOffs[j] + c;
                FloatVector v0 = FloatVector.fromArray(F, v, vj);
                FloatVector v1 = FloatVector.fromArray(F, v, vj + L);
                FloatVector v2 = FloatVector.fromArray(F, v, vj + 2 * L);
                FloatVector v3 = FloatVector.fromArray(F, v, vj + 3 * L);
                FloatVector b = FloatVector.broadcast(F, p[p0 + j]);
                a00 = v0.fma(b, a00);
                a01 = v1.fma(b, a01);
                a02 = v2.fma(b, a02);
                a03 = v3.fma(b, a03);
                b = FloatVector.broadcast(F, p[p1 + j]);
                a10 = v0.fma(b, a10);
                a11 = v1.fma(b, a11);
                a12 = v2.fma(b, a12);
                a13 = v3.fma(b, a13);
                b = FloatVector.broadcast(F, p[p2 + j]);
                a20 = v0.fma(b, a20);
                a21 = v1.fma(b, a21);
                a22 = v2.fma(b, a22);
                a23 = v3.fma(b, a23);
                b = FloatVector.broadcast(F, p[p3 + j]);
                a30 = v0.fma(b, a30);
                a31 = v1.fma(b, a31);
                a32 = v2.fma(b, a32);
                a33 = v3.fma(b, a33);
            }
            a00.intoArray(acc, o0 + c);
            a01.intoArray(acc, o0 + c + L);
            a02.intoArray(acc, o0 + c + 2 * L);
            a03.intoArray(acc, o0 + c + 3 * L);
            a10.intoArray(acc, o1 + c);
            a11.intoArray(acc, o1 + c + L);
            a12.intoArray(acc, o1 + c + 2 * L);
            a13.intoArray(acc, o1 + c + 3 * L);
            a20.intoArray(acc, o2 + c);
            a21.intoArray(acc, o2 + c + L);
            a22.intoArray(acc, o2 + c + 2 * L);
            a23.intoArray(acc, o2 + c + 3 * L);
            a30.intoArray(acc, o3 + c);
            a31.intoArray(acc, o3 + c + L);
            a32.intoArray(acc, o3 + c + 2 * L);
            a33.intoArray(acc, o3 + c + 3 * L);
        }
        for (int c = d4; c < dv; c += L) {
            FloatVector a0 = FloatVector.fromArray(F, acc, o0 + c), a1 = FloatVector.fromArray(F, acc, o1 + c);
            FloatVector a2 = FloatVector.fromArray(F, acc, o2 + c), a3 = FloatVector.fromArray(F, acc, o3 + c);
            for (int j = 0; j < count; j++) {
                FloatVector vv = FloatVector.fromArray(F, v, vOffs[j] + c);
                a0 = vv.fma(FloatVector.broadcast(F, p[p0 + j]), a0);
                a1 = vv.fma(FloatVector.broadcast(F, p[p1 + j]), a1);
                a2 = vv.fma(FloatVector.broadcast(F, p[p2 + j]), a2);
                a3 = vv.fma(FloatVector.broadcast(F, p[p3 + j]), a3);
            }
            a0.intoArray(acc, o0 + c);
            a1.intoArray(acc, o1 + c);
            a2.intoArray(acc, o2 + c);
            a3.intoArray(acc, o3 + c);
        }
        pvTail(p, r, 4, count, v, vOffs, acc, accOff, d, dv);
    }
}
