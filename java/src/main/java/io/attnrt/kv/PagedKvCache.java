package io.attnrt.kv;

import io.attnrt.backend.Backend;
import io.attnrt.tensor.DType;
import io.attnrt.backend.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A paged KV cache in the style of vLLM's PagedAttention. Keys and values live in fixed-size blocks of a
 * pool on the backend (device memory for a GPU backend); each sequence owns a block table mapping its
 * logical blocks to physical ones, like a page table. Block tables, lengths and reference counts stay on
 * the host.
 *
 * <p>Per layer there is a key cache and a value cache tensor of shape
 * {@code [numBlocks, blockSize, numKvHeads, headDim]}. Token t of a sequence lives in physical block
 * {@code blockTable[t / blockSize]} at offset {@code t % blockSize}.
 *
 * <p>Sequences can {@link #fork}: the child shares every block of the parent (beam search, parallel
 * sampling, shared prompts). A shared block is copied only when one of its holders writes into it
 * (copy-on-write); full shared blocks are never written, so they stay shared.
 *
 * <p>Appending is two-step. {@link #prepareAppend} reserves everything a batch needs — new blocks and
 * copy-on-write copies — or throws {@link KvCacheExhaustedException} having changed nothing; the caller
 * then writes the K/V rows of every layer into the returned slots with {@link Backend#kvAppend}.
 *
 * <p>Thread safety: every public method is {@code synchronized}, so the bookkeeping stays consistent if
 * several threads call in. That does not make a batch atomic end to end: the caller should not free or
 * append to a sequence while another thread is still writing the slots of an earlier plan for it. The
 * intended use is one scheduler thread.
 */
public final class PagedKvCache implements AutoCloseable {
    /** Tokens per block when the caller does not choose: 16, as in vLLM. */
    public static final int DEFAULT_BLOCK_SIZE = 16;

    private static final Logger log = LoggerFactory.getLogger(PagedKvCache.class);

    private final Backend backend;
    private final int numLayers;
    private final int numKvHeads;
    private final int headDim;
    private final int blockSize;
    private final int numBlocks;
    private final DType cacheDtype;
    private final Tensor[] keyCaches;
    private final Tensor[] valueCaches;
    /** Every layer's K pool then every layer's V pool: what one copy-on-write copyBlocks call copies in. */
    private final Tensor[] allCaches;
    private final BlockAllocator allocator;
    private final Map<Integer, Sequence> sequences = new HashMap<>();
    private static final int[] NO_INTS = new int[0];
    private final Plan plan = new Plan();
    /** Counters stamping per-call scratch (see {@link #checkBatchIds} and {@link #plan}), so nothing is cleared. */
    private long batchChecks;
    private long planCount;
    /** Per block: references an earlier copy in the plan stamped {@code releasedStamp[b]} already dropped. */
    private long[] releasedStamp;
    private int[] releasedCount;
    /** References held outside the block tables, per block (the prefix cache's). */
    private final int[] pins;
    private BlockReclaimer reclaimer;
    private int nextSequenceId;
    private boolean closed;

    /** One sequence's page table. {@code blocks[0..numBlocks)} are live; the rest is spare capacity. */
    private static final class Sequence {
        int[] blocks;
        int numBlocks;
        int length;
        /** The batch check that last saw this sequence, and at which batch position (duplicate detection). */
        long seenInBatch;
        int batchPosition;

        Sequence(int[] blocks, int numBlocks, int length) {
            this.blocks = blocks;
            this.numBlocks = numBlocks;
            this.length = length;
        }

        void addBlock(int block) {
            if (numBlocks == blocks.length) {
                blocks = Arrays.copyOf(blocks, Math.max(4, blocks.length * 2));
            }
            blocks[numBlocks++] = block;
        }
    }

    /** A cache with {@link #DEFAULT_BLOCK_SIZE} tokens per block. */
    public PagedKvCache(Backend backend, int numLayers, int numKvHeads, int headDim, int numBlocks,
                        DType cacheDtype) {
        this(backend, numLayers, numKvHeads, headDim, DEFAULT_BLOCK_SIZE, numBlocks, cacheDtype);
    }

    /**
     * Allocates the whole pool on the backend (zero-filled).
     *
     * @param blockSize tokens per block
     * @param numBlocks physical blocks in the pool, shared by all sequences; see {@link #numBlocksForBudget}
     */
    public PagedKvCache(Backend backend, int numLayers, int numKvHeads, int headDim, int blockSize, int numBlocks,
                        DType cacheDtype) {
        if (backend == null) {
            throw new IllegalArgumentException("paged KV cache: backend is null");
        }
        if (cacheDtype == null) {
            throw new IllegalArgumentException("paged KV cache: cache dtype is null");
        }
        checkGeometry(numLayers, numKvHeads, headDim, blockSize);
        if (numBlocks < 1) {
            throw new IllegalArgumentException("paged KV cache: numBlocks must be >= 1, got " + numBlocks);
        }
        if ((long) numBlocks * blockSize > Integer.MAX_VALUE) {
            // Slots are int indices block·blockSize + offset.
            throw new IllegalArgumentException("paged KV cache: " + numBlocks + " blocks of " + blockSize
                    + " tokens exceed the int slot range");
        }
        this.backend = backend;
        this.numLayers = numLayers;
        this.numKvHeads = numKvHeads;
        this.headDim = headDim;
        this.blockSize = blockSize;
        this.numBlocks = numBlocks;
        this.cacheDtype = cacheDtype;
        this.allocator = new BlockAllocator(numBlocks, blockSize);
        this.pins = new int[numBlocks];
        this.keyCaches = new Tensor[numLayers];
        this.valueCaches = new Tensor[numLayers];
        try {
            for (int l = 0; l < numLayers; l++) {
                keyCaches[l] = backend.allocate(cacheDtype, numBlocks, blockSize, numKvHeads, headDim);
                valueCaches[l] = backend.allocate(cacheDtype, numBlocks, blockSize, numKvHeads, headDim);
            }
        } catch (RuntimeException | Error e) {
            // Do not leak the layers already allocated (device memory on a GPU backend).
            freeTensors();
            throw e;
        }
        this.allCaches = new Tensor[2 * numLayers];
        System.arraycopy(keyCaches, 0, allCaches, 0, numLayers);
        System.arraycopy(valueCaches, 0, allCaches, numLayers, numLayers);
        log.debug("paged KV cache on {}: {} layers, {} blocks of {} tokens, {} KV heads x {} dims, {} ({} bytes)",
                backend.name(), numLayers, numBlocks, blockSize, numKvHeads, headDim, cacheDtype,
                bytesPerBlock(numLayers, numKvHeads, headDim, blockSize, cacheDtype) * numBlocks);
    }

    // ---------------------------------------------------------------- sizing

    /** Bytes one block takes across all layers, keys and values. */
    public static long bytesPerBlock(int numLayers, int numKvHeads, int headDim, int blockSize, DType cacheDtype) {
        checkGeometry(numLayers, numKvHeads, headDim, blockSize);
        return 2L * numLayers * blockSize * numKvHeads * headDim * cacheDtype.byteSize();
    }

    /**
     * The most blocks that fit in {@code byteBudget} bytes (keys and values of every layer), capped so that
     * slot indices fit in an int.
     *
     * @throws IllegalArgumentException if the budget does not hold even one block
     */
    public static int numBlocksForBudget(long byteBudget, int numLayers, int numKvHeads, int headDim, int blockSize,
                                         DType cacheDtype) {
        long perBlock = bytesPerBlock(numLayers, numKvHeads, headDim, blockSize, cacheDtype);
        long blocks = byteBudget / perBlock;
        if (blocks < 1) {
            throw new IllegalArgumentException("a KV cache budget of " + byteBudget + " bytes holds no block: one block of "
                    + blockSize + " tokens over " + numLayers + " layers needs " + perBlock + " bytes");
        }
        return (int) Math.min(blocks, Integer.MAX_VALUE / blockSize);
    }

    private static void checkGeometry(int numLayers, int numKvHeads, int headDim, int blockSize) {
        if (numLayers < 1 || numKvHeads < 1 || headDim < 1 || blockSize < 1) {
            throw new IllegalArgumentException("paged KV cache needs layers, KV heads, head dim and block size >= 1, got "
                    + numLayers + "/" + numKvHeads + "/" + headDim + "/" + blockSize);
        }
    }

    // ---------------------------------------------------------------- accessors

    public Backend backend() {
        return backend;
    }

    /** Key cache of layer {@code layer}: [numBlocks, blockSize, numKvHeads, headDim]. */
    public synchronized Tensor keyCache(int layer) {
        checkOpen();
        return keyCaches[checkLayer(layer)];
    }

    /** Value cache of layer {@code layer}: [numBlocks, blockSize, numKvHeads, headDim]. */
    public synchronized Tensor valueCache(int layer) {
        checkOpen();
        return valueCaches[checkLayer(layer)];
    }

    public int numLayers() {
        return numLayers;
    }

    public int numKvHeads() {
        return numKvHeads;
    }

    public int headDim() {
        return headDim;
    }

    public int blockSize() {
        return blockSize;
    }

    public int totalBlocks() {
        return numBlocks;
    }

    public DType cacheDtype() {
        return cacheDtype;
    }

    public synchronized int freeBlocks() {
        return allocator.freeBlocks();
    }

    /** References held on physical block {@code block}: 0 free, 1 private, more when shared by forks. */
    public synchronized int refCount(int block) {
        return allocator.refCount(block);
    }

    /** Live sequences. */
    public synchronized int numSequences() {
        return sequences.size();
    }

    public synchronized boolean contains(int seq) {
        return sequences.containsKey(seq);
    }

    // ---------------------------------------------------------------- sequences

    /** A new empty sequence (length 0, no blocks). Ids are never reused. */
    public synchronized int newSequence() {
        checkOpen();
        int id = nextId();
        sequences.put(id, new Sequence(new int[4], 0, 0));
        return id;
    }

    /**
     * A new sequence that starts with {@code fullBlocks} (full blocks holding another sequence's prefix, e.g.
     * from a {@link PrefixCache}): each gains a reference, and the length is {@code fullBlocks.length ·
     * blockSize}. Full blocks are never written again, so the sharing needs no copy.
     */
    public synchronized int newSequence(int[] fullBlocks) {
        checkOpen();
        for (int b : fullBlocks) {
            if (b < 0 || b >= numBlocks || allocator.refCount(b) == 0) {
                throw new IllegalArgumentException("newSequence: block " + b + " is not a live block of this cache");
            }
        }
        for (int b : fullBlocks) {
            allocator.retain(b);
        }
        int id = nextId();
        sequences.put(id, new Sequence(Arrays.copyOf(fullBlocks, Math.max(4, fullBlocks.length)), fullBlocks.length,
                fullBlocks.length * blockSize));
        return id;
    }

    /**
     * Keeps a live block alive outside any block table (a cached prefix). {@link #unpin} drops it again;
     * {@link #checkInvariants} counts pins with the table entries.
     */
    public synchronized void pin(int block) {
        checkOpen();
        if (block < 0 || block >= numBlocks || allocator.refCount(block) == 0) {
            throw new IllegalArgumentException("pin: block " + block + " is not a live block of this cache");
        }
        allocator.retain(block);
        pins[block]++;
    }

    public synchronized void unpin(int block) {
        checkOpen();
        if (block < 0 || block >= numBlocks || pins[block] == 0) {
            throw new IllegalArgumentException("unpin: block " + block + " is not pinned");
        }
        pins[block]--;
        allocator.release(block);
    }

    /** Gives up pinned blocks nobody else references when an append finds too few free blocks. */
    public interface BlockReclaimer {
        /** Unpins up to {@code wanted} blocks that only the pin keeps alive; returns how many it freed. */
        int reclaim(int wanted);
    }

    public synchronized void setReclaimer(BlockReclaimer reclaimer) {
        this.reclaimer = reclaimer;
    }

    /**
     * A new sequence sharing every block of {@code parent} (each block's reference count goes up by one),
     * with the parent's length. Needs no free block: the first write into a shared partial block copies it.
     */
    public synchronized int fork(int parent) {
        checkOpen();
        Sequence p = sequence(parent, "fork");
        int id = nextId();
        for (int i = 0; i < p.numBlocks; i++) {
            allocator.retain(p.blocks[i]);
        }
        sequences.put(id, new Sequence(Arrays.copyOf(p.blocks, Math.max(4, p.numBlocks)), p.numBlocks, p.length));
        return id;
    }

    /** Ends a sequence, releasing its blocks (a block shared with a fork stays with the other holders). */
    public synchronized void free(int seq) {
        checkOpen();
        Sequence s = sequence(seq, "free");
        sequences.remove(seq);
        for (int i = 0; i < s.numBlocks; i++) {
            allocator.release(s.blocks[i]);
        }
    }

    /**
     * Shortens {@code seq} to its first {@code newLength} tokens (a chat turn that diverges from what is
     * cached, a rejected draft), releasing the blocks past the new end; a block shared with a fork stays
     * with its other holders. The K/V rows kept are untouched. When the new last block is partly filled and
     * still shared, the next append into it copies it first, as after a fork.
     *
     * @throws IllegalArgumentException unless 0 ≤ newLength ≤ length; nothing changed
     */
    public synchronized void truncate(int seq, int newLength) {
        checkOpen();
        Sequence s = sequence(seq, "truncate");
        if (newLength < 0 || newLength > s.length) {
            throw new IllegalArgumentException("truncate: sequence " + seq + " has length " + s.length
                    + "; new length " + newLength + " is outside [0, " + s.length + "]");
        }
        int keep = (newLength + blockSize - 1) / blockSize;
        for (int i = keep; i < s.numBlocks; i++) {
            allocator.release(s.blocks[i]);
        }
        s.numBlocks = keep;
        s.length = newLength;
    }

    /** Tokens cached for {@code seq}. */
    public synchronized int length(int seq) {
        checkOpen();
        return sequence(seq, "length").length;
    }

    /** The physical blocks of {@code seq} in logical order (a copy). */
    public synchronized int[] blockTable(int seq) {
        checkOpen();
        Sequence s = sequence(seq, "blockTable");
        return Arrays.copyOf(s.blocks, s.numBlocks);
    }

    // ---------------------------------------------------------------- appending

    /**
     * Free blocks {@link #prepareAppend} would take for this batch (new blocks plus copy-on-write copies),
     * without changing anything — for a scheduler deciding what fits. Validates like prepareAppend.
     */
    public synchronized int blocksNeeded(int[] seqs, int[] newTokens) {
        checkOpen();
        return plan(seqs, newTokens, "blocksNeeded").totalBlocks;
    }

    /**
     * Reserves room for {@code newTokens[i]} more tokens of sequence {@code seqs[i]}, for the whole batch at
     * once: allocates the blocks past each sequence's end, copies (on the backend, every layer's keys and
     * values) each shared block the batch will write into, updates block tables and lengths, and returns
     * the slots the new tokens go to. Either the whole batch is reserved or nothing changes.
     *
     * @param seqs      distinct live sequence ids
     * @param newTokens tokens to add per sequence, ≥ 0
     * @throws KvCacheExhaustedException when the free blocks cannot cover the whole batch; nothing changed
     * @throws IllegalArgumentException on an unknown or repeated id, a negative count, or mismatched arrays;
     *                                  nothing changed
     */
    public synchronized AppendPlan prepareAppend(int[] seqs, int[] newTokens) {
        checkOpen();
        Plan plan = plan(seqs, newTokens, "prepareAppend");
        int free = allocator.freeBlocks();
        if (plan.totalBlocks > free && reclaimer != null) {
            // Pinned blocks are full ones, never the partial last block a copy-on-write decision looks at,
            // so the plan still holds after they go.
            reclaimer.reclaim(plan.totalBlocks - free);
            free = allocator.freeBlocks();
        }
        if (plan.totalBlocks > free) {
            throw new KvCacheExhaustedException(plan.describeNeeds(seqs, newTokens), plan.totalBlocks, free, blockSize);
        }

        int[] fresh = plan.totalBlocks == 0 ? NO_INTS : new int[plan.totalBlocks];
        for (int i = 0; i < fresh.length; i++) {
            fresh[i] = allocator.allocate();
        }
        // Copy-on-write copies use the first fresh blocks, in batch order.
        int[] copySrc = plan.copies == 0 ? NO_INTS : new int[plan.copies];
        int[] copyDst = plan.copies == 0 ? NO_INTS : Arrays.copyOf(fresh, plan.copies);
        for (int i = 0, c = 0; i < seqs.length; i++) {
            if (plan.copy[i]) {
                Sequence s = sequences.get(seqs[i]);
                copySrc[c++] = s.blocks[s.numBlocks - 1];
            }
        }
        if (plan.copies > 0) {
            try {
                backend.copyBlocks(allCaches, copySrc, copyDst);
            } catch (RuntimeException | Error e) {
                // Tables still point at the originals, so giving the fresh blocks back restores every state.
                for (int b : fresh) {
                    allocator.release(b);
                }
                throw e;
            }
        }

        int[] slots = new int[plan.totalTokens];
        int nextFresh = plan.copies;
        for (int i = 0, c = 0, t = 0; i < seqs.length; i++) {
            Sequence s = sequences.get(seqs[i]);
            if (plan.copy[i]) {
                allocator.release(s.blocks[s.numBlocks - 1]);
                s.blocks[s.numBlocks - 1] = copyDst[c++];
            }
            for (int b = 0; b < plan.newBlocks[i]; b++) {
                s.addBlock(fresh[nextFresh++]);
            }
            for (int k = 0; k < newTokens[i]; k++, t++) {
                int pos = s.length + k;
                slots[t] = s.blocks[pos / blockSize] * blockSize + pos % blockSize;
            }
            s.length += newTokens[i];
        }
        return new AppendPlan(slots, plan.totalBlocks - plan.copies, plan.copies);
    }

    /**
     * Block tables and context lengths of {@code seqs}, in order, for {@link Backend#attentionDecode}.
     *
     * @throws IllegalArgumentException on an unknown or repeated id
     */
    public synchronized BlockTables decodeTables(int[] seqs) {
        checkOpen();
        if (seqs == null) {
            throw new IllegalArgumentException("decodeTables: seqs is null");
        }
        checkBatchIds(seqs, "decodeTables");
        int stride = 1;
        for (int id : seqs) {
            stride = Math.max(stride, sequences.get(id).numBlocks);
        }
        int[] tables = new int[Math.multiplyExact(seqs.length, stride)];
        int[] lens = new int[seqs.length];
        for (int b = 0; b < seqs.length; b++) {
            Sequence s = sequences.get(seqs[b]);
            System.arraycopy(s.blocks, 0, tables, b * stride, s.numBlocks);
            lens[b] = s.length;
        }
        return new BlockTables(tables, stride, lens);
    }

    /**
     * What a batch append needs, computed without changing any state. One instance per cache, reused by every
     * (synchronized) call: the per-step bookkeeping allocates nothing but the slots it returns.
     */
    private static final class Plan {
        boolean[] copy = new boolean[0];
        int[] newBlocks = new int[0];
        int copies;
        int totalBlocks;
        int totalTokens;

        String describeNeeds(int[] seqs, int[] newTokens) {
            List<String> parts = new ArrayList<>();
            for (int i = 0; i < seqs.length; i++) {
                if (newBlocks[i] > 0 || copy[i]) {
                    parts.add(seqs[i] + " (+" + newTokens[i] + " tokens: " + newBlocks[i] + " new"
                            + (copy[i] ? " + 1 copy-on-write" : "") + ")");
                }
            }
            return parts.size() == 1 ? "sequence " + parts.get(0) : "sequences " + parts;
        }
    }

    private Plan plan(int[] seqs, int[] newTokens, String op) {
        if (seqs == null || newTokens == null) {
            throw new IllegalArgumentException(op + ": seqs and newTokens must not be null");
        }
        if (seqs.length != newTokens.length) {
            throw new IllegalArgumentException(op + ": " + seqs.length + " sequence ids but " + newTokens.length
                    + " token counts");
        }
        checkBatchIds(seqs, op);
        for (int i = 0; i < seqs.length; i++) {
            if (newTokens[i] < 0) {
                throw new IllegalArgumentException(op + ": negative token count " + newTokens[i] + " for sequence "
                        + seqs[i] + " (batch position " + i + ")");
            }
            if ((long) sequences.get(seqs[i]).length + newTokens[i] > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(op + ": sequence " + seqs[i] + " of length "
                        + sequences.get(seqs[i]).length + " cannot take " + newTokens[i] + " more tokens");
            }
        }
        Plan p = plan;
        if (p.copy.length < seqs.length) {
            p.copy = new boolean[seqs.length];
            p.newBlocks = new int[seqs.length];
        }
        Arrays.fill(p.copy, 0, seqs.length, false);
        Arrays.fill(p.newBlocks, 0, seqs.length, 0);
        p.copies = 0;
        // Copies made earlier in the batch drop the original's count; a later holder left as the only one
        // writes in place. Tracking that (per block, stamped by plan so nothing needs clearing) keeps the
        // reservation exact rather than an over-estimate.
        long stamp = ++planCount;
        long blocks = 0;
        long tokens = 0;
        for (int i = 0; i < seqs.length; i++) {
            Sequence s = sequences.get(seqs[i]);
            int n = newTokens[i];
            tokens += n;
            if (n == 0) {
                continue;
            }
            // Only the last block can be partly filled, so it is the only existing block a write can hit.
            if (s.length % blockSize != 0) {
                int last = s.blocks[s.numBlocks - 1];
                int released = releasedStamp != null && releasedStamp[last] == stamp ? releasedCount[last] : 0;
                int holders = allocator.refCount(last) - released;
                if (holders > 1) {
                    p.copy[i] = true;
                    p.copies++;
                    if (releasedStamp == null) {
                        releasedStamp = new long[numBlocks];
                        releasedCount = new int[numBlocks];
                    }
                    releasedCount[last] = released + 1;
                    releasedStamp[last] = stamp;
                }
            }
            long needed = ((long) s.length + n + blockSize - 1) / blockSize;
            p.newBlocks[i] = (int) (needed - s.numBlocks);
            blocks += p.newBlocks[i] + (p.copy[i] ? 1 : 0);
        }
        if (tokens > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(op + ": batch of " + tokens + " tokens is too large");
        }
        // More than the pool can ever hold still reports as exhaustion, with the true count capped.
        p.totalBlocks = (int) Math.min(blocks, Integer.MAX_VALUE);
        p.totalTokens = (int) tokens;
        return p;
    }

    private void checkBatchIds(int[] seqs, String op) {
        long check = ++batchChecks;
        for (int i = 0; i < seqs.length; i++) {
            Sequence s = sequence(seqs[i], op);
            if (s.seenInBatch == check) {
                throw new IllegalArgumentException(op + ": sequence " + seqs[i] + " appears twice in one batch, at "
                        + s.batchPosition + " and " + i);
            }
            s.seenInBatch = check;
            s.batchPosition = i;
        }
    }

    // ---------------------------------------------------------------- lifecycle and checks

    /** Frees the pool on the backend. Later calls throw {@link IllegalStateException}; closing twice is a no-op. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        sequences.clear();
        freeTensors();
    }

    /**
     * Checks the bookkeeping: every block's reference count equals the number of block-table entries that
     * name it across live sequences; the free list holds exactly the blocks nobody references; each table
     * has exactly the blocks its length needs. A debugging aid for tests; O(blocks + table entries).
     *
     * @throws IllegalStateException describing the first inconsistency
     */
    public synchronized void checkInvariants() {
        checkOpen();
        allocator.checkInvariants();
        int[] references = Arrays.copyOf(pins, numBlocks);
        for (Map.Entry<Integer, Sequence> e : sequences.entrySet()) {
            Sequence s = e.getValue();
            long needed = ((long) s.length + blockSize - 1) / blockSize;
            if (s.numBlocks != needed) {
                throw new IllegalStateException("sequence " + e.getKey() + " of length " + s.length + " holds "
                        + s.numBlocks + " blocks, needs " + needed);
            }
            for (int i = 0; i < s.numBlocks; i++) {
                references[s.blocks[i]]++;
            }
        }
        int[] counts = allocator.refCountsSnapshot();
        for (int b = 0; b < numBlocks; b++) {
            if (counts[b] != references[b]) {
                throw new IllegalStateException("block " + b + " has reference count " + counts[b] + " but "
                        + (references[b] - pins[b]) + " block-table entries and " + pins[b] + " pins");
            }
        }
    }

    @Override
    public synchronized String toString() {
        return "PagedKvCache[" + numLayers + " layers, " + numBlocks + " blocks x " + blockSize + " tokens, "
                + cacheDtype + ", " + (closed ? "closed" : allocator.freeBlocks() + " free, "
                + sequences.size() + " sequences " + new TreeSet<>(sequences.keySet())) + "]";
    }

    private Sequence sequence(int id, String op) {
        Sequence s = sequences.get(id);
        if (s == null) {
            throw new IllegalArgumentException(op + ": unknown sequence id " + id
                    + (id >= 0 && id < nextSequenceId ? " (it was freed)" : ""));
        }
        return s;
    }

    private int nextId() {
        if (nextSequenceId == Integer.MAX_VALUE) {
            throw new IllegalStateException("paged KV cache ran out of sequence ids");
        }
        return nextSequenceId++;
    }

    private int checkLayer(int layer) {
        if (layer < 0 || layer >= numLayers) {
            throw new IllegalArgumentException("layer " + layer + " is outside [0, " + numLayers + ")");
        }
        return layer;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("paged KV cache is closed");
        }
    }

    private void freeTensors() {
        for (Tensor[] caches : new Tensor[][] {keyCaches, valueCaches}) {
            for (int l = 0; l < caches.length; l++) {
                if (caches[l] != null) {
                    backend.free(caches[l]);
                    caches[l] = null;
                }
            }
        }
    }
}
