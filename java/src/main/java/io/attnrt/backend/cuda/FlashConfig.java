package io.attnrt.backend.cuda;

/**
 * Launch shape of {@code flash_attn_prefill_*_hdD} per head dim, as cuda/flash_attention.cu's header
 * defines it: 4 warps (128 threads), BLOCK_M = 64 query rows per CTA, key tiles of BLOCK_N rows (64, or 32
 * for D = 256) double buffered as [K0 | V0 | K1 | V1] in dynamic shared memory, rows padded to D + 8
 * elements: 8·BLOCK_N·(D + 8) bytes, plus 128·(D + 8) for the Q tile that D = 256 keeps in shared memory
 * instead of registers. Above 48 KB for D ≥ 96: the launch opts in.
 */
record FlashConfig(int blockM, int blockN, int threads, int smemBytes) {
    static final int BLOCK_M = 64;

    static FlashConfig of(int headDim) {
        int blockN = headDim == 256 ? 32 : 64;
        int pitchBytes = 2 * (headDim + 8);
        int qBytes = headDim == 256 ? BLOCK_M * pitchBytes : 0;
        return new FlashConfig(BLOCK_M, blockN, 128, 4 * blockN * pitchBytes + qBytes);
    }
}
