package io.attnrt.backend.cuda;

/** Launch shape of {@code paged_attn_decode_*}, as cuda/paged_attention.cu's header defines it. */
final class PagedConfig {
    private PagedConfig() {
    }

    static int threads(int headDim) {
        throw new UnsupportedOperationException("filled in from cuda/paged_attention.cu");
    }

    static int smemBytes(int headDim, int groupSize) {
        throw new UnsupportedOperationException("filled in from cuda/paged_attention.cu");
    }
}
