package io.attnrt.backend.cuda;

/**
 * Launch shape of {@code flash_attn_prefill_*_hdD} per head dim, as cuda/flash_attention.cu's header
 * defines it: 4 warps (128 threads), BLOCK_M = 64 query rows per CTA, key tiles of BLOCK_N rows double
 * buffered in dynamic shared memory of 8·BLOCK_N·(D + 8) bytes (above 48 KB for D ≥ 96: the launch opts in).
 */
record FlashConfig(int blockM, int threads, int smemBytes) {
    static FlashConfig of(int headDim) {
        int blockN = headDim == 256 ? 32 : 64;
        return new FlashConfig(64, 128, 8 * blockN * (headDim + 8));
    }
}
