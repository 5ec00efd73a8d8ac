package io.attnrt.tensor;

/**
 * Element types a tensor can hold. Activations are F32 (or BF16/F16 on a GPU); weights and KV caches may be
 * F16 or BF16; weights may also be one of llama.cpp's block-quantized types (see {@link Quant}), which store
 * a row as blocks of {@link #blockSize()} elements in {@link #blockBytes()} bytes each.
 */
public enum DType {
    F32(1, 4),
    F16(1, 2),
    BF16(1, 2),
    /** 32 elements: f16 scale d, 32 × int8; x = d·q. */
    Q8_0(32, 34),
    /** 32 elements: f16 scale d, 16 bytes of nibbles; x = d·(q − 8). */
    Q4_0(32, 18),
    /** 256 elements: f16 d and dmin, 8 sub-blocks of 32 with 6-bit scales and mins, 4-bit quants. */
    Q4_K(256, 144),
    /** Q4_K with a fifth bit per quant (qh). */
    Q5_K(256, 176),
    /** 256 elements: 16 sub-blocks of 16 with int8 scales, 6-bit quants, f16 d. */
    Q6_K(256, 210);

    private final int blockSize;
    private final int blockBytes;

    DType(int blockSize, int blockBytes) {
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    /**
     * Bytes one element occupies, for the element types. A quantized type has no per-element size: asking is
     * a bug, so it throws rather than round — use {@link #bytesFor(long)}.
     */
    public int byteSize() {
        if (blockSize != 1) {
            throw new UnsupportedOperationException(this + " is block-quantized: " + blockBytes + " bytes per "
                    + blockSize + " elements, no per-element size");
        }
        return blockBytes;
    }

    /** F32, F16 and BF16: the types with a per-element size (activations, caches, dense weights). */
    public static java.util.List<DType> elementTypes() {
        return java.util.List.of(F32, F16, BF16);
    }

    /** Whether this is a block-quantized weight type. */
    public boolean isQuantized() {
        return blockSize != 1;
    }

    /** Elements per block: 1 for F32/F16/BF16. */
    public int blockSize() {
        return blockSize;
    }

    /** Bytes per block (per element for F32/F16/BF16). */
    public int blockBytes() {
        return blockBytes;
    }

    /** Bytes {@code numel} elements occupy; for a quantized type numel must be a whole number of blocks. */
    public long bytesFor(long numel) {
        if (numel % blockSize != 0) {
            throw new IllegalArgumentException(numel + " elements are not a whole number of " + this + " blocks of "
                    + blockSize);
        }
        return Math.multiplyExact(numel / blockSize, (long) blockBytes);
    }
}
