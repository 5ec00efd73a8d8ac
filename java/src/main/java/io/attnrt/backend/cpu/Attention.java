package io.attnrt.backend.cpu;

import io.attnrt.backend.AttentionSpec;
import io.attnrt.backend.host.HostTensor;
import io.attnrt.tensor.DType;
import java.util.Arrays;

/**
 * FlashAttention-style attention on the CPU: scores are produced one key tile at a time and folded into
 * running softmax statistics (max m, sum l) and an output accumulator, so no L×L matrix ever exists; the
 * workspace is O(rows · (keyTile + headDim)) per worker.
 *
 * <p>A unit of work covers one KV head and all query heads of its GQA group, which then share every key
 * and value tile they load. Prefill splits each sequence into query tiles; decode splits long contexts
 * into chunks whose partial results are merged by log-sum-exp.
 */
final class Attention {
    /** Query rows (query positions × group heads) per prefill task: enough to amortise a key tile's transpose. */
    private static final int PREFILL_ROWS = 128;
    /** Smallest decode context chunk worth a task of its own. */
    private static final int MIN_SPLIT_KEYS = 256;

    private final Kernels k;
    private final WorkerPool pool;
    private final Scratch[] scratch;
    private final int tile;
    private float[] partials = new float[0];
    private float[] partialStats = new float[0];

    Attention(Kernels k, WorkerPool pool, Scratch[] scratch) {
        this.k = k;
        this.pool = pool;
        this.scratch = scratch;
        this.tile = k.keyTile();
    }

    // ------------------------------------------------------------------------------------------ prefill

    void prefill(HostTensor q, HostTensor kT, HostTensor vT, int[] seqStarts, AttentionSpec spec, HostTensor out,
                 HostTensor lse) {
        int g = spec.groupSize();
        int queryTile = Math.max(1, PREFILL_ROWS / g);
        int numKv = spec.numKvHeads();
        int seqs = seqStarts.length - 1;
        int tileCount = 0;
        for (int s = 0; s < seqs; s++) {
            tileCount += (seqStarts[s + 1] - seqStarts[s] + queryTile - 1) / queryTile;
        }
        if (tileCount == 0) {
            return;
        }
        // Causal tiles late in a sequence are the most work: hand them out first for a balanced finish.
        int[] taskSeq = new int[tileCount];
        int[] taskTile = new int[tileCount];
        int n = 0;
        int maxTiles = 0;
        for (int s = 0; s < seqs; s++) {
            maxTiles = Math.max(maxTiles, (seqStarts[s + 1] - seqStarts[s] + queryTile - 1) / queryTile);
        }
        for (int t = maxTiles - 1; t >= 0; t--) {
            for (int s = 0; s < seqs; s++) {
                int tiles = (seqStarts[s + 1] - seqStarts[s] + queryTile - 1) / queryTile;
                if (t < tiles) {
                    taskSeq[n] = s;
                    taskTile[n] = t;
                    n++;
                }
            }
        }
        float[] qa = q.f32(), ka = kT.f32(), va = vT.f32(), oa = out.f32();
        float[] la = lse == null ? null : lse.f32();
        pool.parallelFor(tileCount * numKv, (task, worker) -> {
            int pair = task / numKv;
            int kvHead = task % numKv;
            int s = taskSeq[pair];
            prefillTile(qa, ka, va, seqStarts[s], seqStarts[s + 1] - seqStarts[s], taskTile[pair] * queryTile,
                    queryTile, kvHead, spec, oa, la, scratch[worker]);
        });
    }

    private void prefillTile(float[] q, float[] kArr, float[] vArr, int base, int len, int i0, int queryTile,
                             int kvHead, AttentionSpec spec, float[] out, float[] lse, Scratch sc) {
        int d = spec.headDim(), g = spec.groupSize();
        int qWidth = spec.qWidth(), kvWidth = spec.kvWidth();
        int i1 = Math.min(len, i0 + queryTile);
        int rows = (i1 - i0) * g;
        float[] qs = sc.queries(rows * d);
        float[] acc = sc.accumulators(rows * d);
        float[] s = sc.scores(rows * tile);
        float[] kt = sc.keysT(d * tile);
        float[] m = sc.rowMax(rows);
        float[] l = sc.rowSum(rows);
        int[] vOffs = sc.valueOffsets(tile);
        int[] gatherIndex = sc.gatherIndex(k.lanes());
        // The group's heads are adjacent in a q row, so each query position contributes one g·d run.
        for (int i = i0; i < i1; i++) {
            k.copyScaled(q, (base + i) * qWidth + kvHead * g * d, spec.scale(), qs, (i - i0) * g * d, g * d);
        }
        Arrays.fill(acc, 0, rows * d, 0f);
        Arrays.fill(m, 0, rows, Float.NEGATIVE_INFINITY);
        Arrays.fill(l, 0, rows, 0f);

        boolean causal = spec.causal();
        int window = spec.window();
        int jLo = window > 0 ? Math.max(0, i0 - window + 1) : 0;
        int jHi = causal ? i1 : len;
        for (int j0 = jLo; j0 < jHi; j0 += tile) {
            int count = Math.min(tile, jHi - j0);
            int jLast = j0 + count - 1;
            // kt[c·tile + j] = key j's component c; columns past count are zero (they are masked anyway)
            k.packTransposed(kArr, (base + j0) * kvWidth + kvHead * d, kvWidth, count, d, kt, tile, gatherIndex);
            k.scoresTransposed(qs, 0, rows, d, kt, s);
            boolean allVisible = count == tile && (!causal || jLast <= i0) && (window == 0 || (i1 - 1) - j0 < window);
            if (!allVisible) {
                for (int r = 0; r < rows; r++) {
                    int i = i0 + r / g;
                    int from = window > 0 ? Math.max(0, i - window + 1 - j0) : 0;
                    int to = causal ? Math.min(count, i - j0 + 1) : count;
                    int sr = r * tile;
                    if (from >= to) {
                        Arrays.fill(s, sr, sr + tile, Float.NEGATIVE_INFINITY);
                    } else {
                        Arrays.fill(s, sr, sr + from, Float.NEGATIVE_INFINITY);
                        Arrays.fill(s, sr + to, sr + tile, Float.NEGATIVE_INFINITY);
                    }
                }
            }
            onlineSoftmax(s, tile, rows, m, l, acc, d);
            for (int j = 0; j < count; j++) {
                vOffs[j] = (base + j0 + j) * kvWidth + kvHead * d;
            }
            k.accumulatePV(s, rows, count, vArr, vOffs, acc, 0, d);
        }
        int numHeads = spec.numHeads();
        for (int r = 0; r < rows; r++) {
            int token = base + i0 + r / g;
            int head = kvHead * g + r % g;
            finish(acc, r * d, m[r], l[r], out, token * qWidth + head * d, d, lse, token * numHeads + head);
        }
    }

    /**
     * Folds a tile of scores (columns [0, width) of each row, −∞ where masked) into the running max and
     * sum, rescales the accumulators, and leaves the tile's probabilities exp(s − m) in place for P·V.
     */
    private void onlineSoftmax(float[] s, int width, int rows, float[] m, float[] l, float[] acc, int d) {
        onlineSoftmax(s, width, rows, m, l, acc, d, 0);
    }

    /** As above for the statistics and accumulators of rows {@code [rowOff, rowOff + rows)}. */
    private void onlineSoftmax(float[] s, int width, int rows, float[] m, float[] l, float[] acc, int d, int rowOff) {
        for (int i = 0; i < rows; i++) {
            int sr = i * tile;
            int r = rowOff + i;
            float tileMax = k.max(s, sr, width);
            if (tileMax == Float.NEGATIVE_INFINITY) {
                // No visible key in this tile: zero weights, and m stays −∞ (never exp(−∞ − −∞) = NaN).
                Arrays.fill(s, sr, sr + width, 0f);
                continue;
            }
            float mOld = m[r];
            float mNew = Math.max(mOld, tileMax);
            float sum = k.expShiftSum(s, sr, width, mNew);
            if (mOld == Float.NEGATIVE_INFINITY) {
                l[r] = sum;
            } else {
                float correction = (float) Math.exp(mOld - mNew);
                if (correction != 1f) {
                    k.scale(acc, r * d, d, correction);
                }
                l[r] = l[r] * correction + sum;
            }
            m[r] = mNew;
        }
    }

    /** out = acc / l and lse = m + ln l; a row that saw no key gets zeros and −∞. */
    private void finish(float[] acc, int accOff, float m, float l, float[] out, int outOff, int d, float[] lse,
                        int lseIndex) {
        if (l > 0f) {
            k.copyScaled(acc, accOff, 1f / l, out, outOff, d);
        } else {
            Arrays.fill(out, outOff, outOff + d, 0f);
        }
        if (lse != null) {
            lse[lseIndex] = l > 0f ? m + (float) Math.log(l) : Float.NEGATIVE_INFINITY;
        }
    }

    // ------------------------------------------------------------------------------------------ decode

    void decode(HostTensor q, HostTensor keyCache, HostTensor valueCache, int[] blockTables, int maxBlocksPerSeq,
                int[] contextLens, AttentionSpec spec, int blockSize, HostTensor out, HostTensor lse) {
        int b = contextLens.length;
        if (b == 0) {
            return;
        }
        int window = spec.window();
        // A task covers every KV head of one sequence's key chunk: a cached token's K (or V) row for all heads
        // is one contiguous run, where one head's rows alone are short runs a whole row stride apart (a TLB
        // page each at 8 heads × d=128), which the prefetchers follow poorly. Long contexts are split into
        // chunks when there are too few sequences to occupy every thread.
        int wanted = pool.threads() == 1 ? 1 : Math.max(1, (4 * pool.threads() + b - 1) / b);
        int[] splits = new int[b];
        int[] firstKey = new int[b];
        int[] chunkKeys = new int[b];
        int maxSplits = 1;
        int[] taskStart = new int[b + 1];
        for (int s = 0; s < b; s++) {
            int ctx = contextLens[s];
            firstKey[s] = window > 0 ? Math.max(0, ctx - window) : 0;
            int span = ctx - firstKey[s];
            int sp = Math.max(1, Math.min(wanted, span / MIN_SPLIT_KEYS));
            // chunk boundaries on key-tile multiples keep every tile but the last full
            int chunk = (span + sp - 1) / sp;
            chunk = Math.max(tile, (chunk + tile - 1) / tile * tile);
            sp = Math.max(1, (span + chunk - 1) / chunk);
            splits[s] = sp;
            chunkKeys[s] = chunk;
            maxSplits = Math.max(maxSplits, sp);
            taskStart[s + 1] = taskStart[s] + sp;
        }
        int d = spec.headDim(), numHeads = spec.numHeads();
        boolean split = maxSplits > 1;
        if (split) {
            partials = grow(partials, b * numHeads * maxSplits * d);
            partialStats = grow(partialStats, b * numHeads * maxSplits * 2);
        }
        float[] part = partials, stats = partialStats;
        int ms = maxSplits;
        float[] qa = q.f32(), oa = out.f32();
        float[] la = lse == null ? null : lse.f32();
        pool.parallelFor(taskStart[b], (task, worker) -> {
            int s = upperBound(taskStart, task) - 1;
            int chunk = task - taskStart[s];
            int k0 = firstKey[s] + chunk * chunkKeys[s];
            int k1 = Math.min(contextLens[s], k0 + chunkKeys[s]);
            Scratch sc = scratch[worker];
            float[] acc = sc.accumulators(numHeads * d);
            float[] m = sc.rowMax(numHeads);
            float[] l = sc.rowSum(numHeads);
            decodeChunk(qa, s, keyCache, valueCache, blockTables, maxBlocksPerSeq, blockSize, k0, k1, spec, sc, acc,
                    m, l);
            for (int head = 0; head < numHeads; head++) {
                if (split) {
                    int slot = (s * numHeads + head) * ms + chunk;
                    System.arraycopy(acc, head * d, part, slot * d, d);
                    stats[2 * slot] = m[head];
                    stats[2 * slot + 1] = l[head];
                } else {
                    finish(acc, head * d, m[head], l[head], oa, s * spec.qWidth() + head * d, d, la,
                            s * numHeads + head);
                }
            }
        });
        if (split) {
            pool.parallelFor(b, (s, worker) -> {
                for (int head = 0; head < numHeads; head++) {
                    combine(part, stats, (s * numHeads + head) * ms, splits[s], d, oa, s * spec.qWidth() + head * d,
                            la, s * numHeads + head);
                }
            });
        }
    }

    /** Keys [k0, k1) of one sequence for every head; head h's results in acc[h·d..], m[h], l[h]. */
    private void decodeChunk(float[] q, int seq, HostTensor keyCache, HostTensor valueCache, int[] blockTables,
                             int maxBlocksPerSeq, int blockSize, int k0, int k1, AttentionSpec spec, Scratch sc,
                             float[] acc, float[] m, float[] l) {
        int d = spec.headDim(), g = spec.groupSize(), numKv = spec.numKvHeads(), numHeads = spec.numHeads();
        int kvWidth = spec.kvWidth();
        float[] qs = sc.queries(numHeads * d);
        // heads are adjacent in a q row, kv head h's group at [h·g·d, (h+1)·g·d)
        k.copyScaled(q, seq * spec.qWidth(), spec.scale(), qs, 0, numHeads * d);
        Arrays.fill(acc, 0, numHeads * d, 0f);
        Arrays.fill(m, 0, numHeads, Float.NEGATIVE_INFINITY);
        Arrays.fill(l, 0, numHeads, 0f);
        if (k1 <= k0) {
            return;
        }
        float[] s = sc.scores(g * tile);
        int[] rowOffs = sc.keyOffsets(tile);
        int[] offs = sc.valueOffsets(tile);
        boolean f32 = keyCache.dtype() == DType.F32;
        boolean bf16 = keyCache.dtype() == DType.BF16;
        float[] keys = f32 ? keyCache.f32() : sc.keys(tile * kvWidth);
        float[] values = f32 ? valueCache.f32() : sc.values(tile * kvWidth);
        short[] keyBits = f32 ? null : keyCache.bits16();
        short[] valueBits = f32 ? null : valueCache.bits16();
        int table = seq * maxBlocksPerSeq;
        for (int j0 = k0; j0 < k1; j0 += tile) {
            int count = Math.min(tile, k1 - j0);
            for (int j = 0; j < count; j++) {
                int t = j0 + j;
                int block = blockTables[table + t / blockSize];
                int row = (block * blockSize + t % blockSize) * kvWidth;
                if (f32) {
                    rowOffs[j] = row;
                } else {
                    // 16-bit caches are widened once per tile into scratch rows, all heads of a token at once
                    k.toFloat(keyBits, row, bf16, keys, j * kvWidth, kvWidth);
                    k.toFloat(valueBits, row, bf16, values, j * kvWidth, kvWidth);
                    rowOffs[j] = j * kvWidth;
                }
            }
            for (int h = 0; h < numKv; h++) {
                // K and V rows share their layout, so one offset list serves both
                for (int j = 0; j < count; j++) {
                    offs[j] = rowOffs[j] + h * d;
                }
                k.scoresDot(qs, h * g * d, g, d, keys, offs, count, s);
                onlineSoftmax(s, count, g, m, l, acc, d, h * g);
                k.accumulatePV(s, g, count, values, offs, acc, h * g * d, d);
            }
        }
    }

    private static void combine(float[] part, float[] stats, int slot0, int n, int d, float[] out, int outOff,
                                float[] lse, int lseIndex) {
        float mMax = Float.NEGATIVE_INFINITY;
        for (int c = 0; c < n; c++) {
            if (stats[2 * (slot0 + c) + 1] > 0f) {
                mMax = Math.max(mMax, stats[2 * (slot0 + c)]);
            }
        }
        Arrays.fill(out, outOff, outOff + d, 0f);
        if (mMax == Float.NEGATIVE_INFINITY) {
            if (lse != null) {
                lse[lseIndex] = Float.NEGATIVE_INFINITY;
            }
            return;
        }
        float total = 0f;
        for (int c = 0; c < n; c++) {
            int slot = slot0 + c;
            float l = stats[2 * slot + 1];
            if (l > 0f) {
                float w = (float) Math.exp(stats[2 * slot] - mMax);
                total += l * w;
                for (int i = 0; i < d; i++) {
                    out[outOff + i] += w * part[slot * d + i];
                }
            }
        }
        float inv = 1f / total;
        for (int i = 0; i < d; i++) {
            out[outOff + i] *= inv;
        }
        if (lse != null) {
            lse[lseIndex] = mMax + (float) Math.log(total);
        }
    }

    private static int upperBound(int[] a, int key) {
        int lo = 0, hi = a.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (a[mid] <= key) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    private static float[] grow(float[] a, int n) {
        return a.length >= n ? a : new float[n];
    }
}
