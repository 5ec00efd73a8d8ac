package io.attnrt.tensor;

/** Element types a tensor can hold. Activations are F32; weights and KV caches may be F16 or BF16. */
public enum DType {
    F32(4),
    F16(2),
    BF16(2);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Bytes one element occupies. */
    public int byteSize() {
        return byteSize;
    }
}
