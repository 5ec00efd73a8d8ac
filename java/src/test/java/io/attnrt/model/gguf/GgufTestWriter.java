package io.attnrt.model.gguf;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes small GGUF files byte by byte for the reader's tests, including ones that lie: every field can be
 * given any value, so a test can state exactly which field is wrong.
 */
final class GgufTestWriter {
    private final List<Object[]> kvs = new ArrayList<>();
    private final List<Object[]> tensors = new ArrayList<>();
    long version = 3;
    Long tensorCountOverride;
    Long kvCountOverride;
    int alignment = 32;

    static byte[] le(int bytes, long v) {
        ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v);
        byte[] out = new byte[bytes];
        System.arraycopy(b.array(), 0, out, 0, bytes);
        return out;
    }

    static byte[] string(String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        return concat(le(8, utf8.length), utf8);
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            o.writeBytes(p);
        }
        return o.toByteArray();
    }

    /** A key with a raw value type and raw value bytes. */
    GgufTestWriter kv(String key, int type, byte[] value) {
        kvs.add(new Object[] {key, type, value});
        return this;
    }

    /** Drops every entry of {@code key}. */
    GgufTestWriter without(String key) {
        kvs.removeIf(e -> e[0].equals(key));
        return this;
    }

    GgufTestWriter u32(String key, long v) {
        return kv(key, 4, le(4, v));
    }

    GgufTestWriter f32(String key, float v) {
        return kv(key, 6, le(4, Float.floatToIntBits(v)));
    }

    GgufTestWriter str(String key, String v) {
        return kv(key, 8, string(v));
    }

    /** A tensor info with ggml dims (innermost first) and raw data appended at the next aligned offset. */
    GgufTestWriter tensor(String name, int type, long[] ne, byte[] data) {
        tensors.add(new Object[] {name, type, ne, data, null});
        return this;
    }

    /** As {@link #tensor}, but the info claims {@code offset} whatever the data's real place. */
    GgufTestWriter tensorAt(String name, int type, long[] ne, byte[] data, long offset) {
        tensors.add(new Object[] {name, type, ne, data, offset});
        return this;
    }

    byte[] bytes() {
        ByteArrayOutputStream infos = new ByteArrayOutputStream();
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (Object[] t : tensors) {
            long[] ne = (long[]) t[2];
            byte[] d = (byte[]) t[3];
            while (data.size() % alignment != 0) {
                data.write(0);
            }
            long offset = t[4] != null ? (Long) t[4] : data.size();
            data.writeBytes(d);
            infos.writeBytes(string((String) t[0]));
            infos.writeBytes(le(4, ne.length));
            for (long n : ne) {
                infos.writeBytes(le(8, n));
            }
            infos.writeBytes(le(4, (Integer) t[1]));
            infos.writeBytes(le(8, offset));
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(le(4, GgufFile.MAGIC));
        out.writeBytes(le(4, version));
        out.writeBytes(le(8, tensorCountOverride != null ? tensorCountOverride : tensors.size()));
        out.writeBytes(le(8, kvCountOverride != null ? kvCountOverride : kvs.size()));
        for (Object[] e : kvs) {
            out.writeBytes(string((String) e[0]));
            out.writeBytes(le(4, (Integer) e[1]));
            out.writeBytes((byte[]) e[2]);
        }
        out.writeBytes(infos.toByteArray());
        while (out.size() % alignment != 0) {
            out.write(0);
        }
        out.writeBytes(data.toByteArray());
        return out.toByteArray();
    }

    /** A valid little llama model: hidden 32, 1 layer, 2 heads of 16, vocab 8, F32 and one Q8_0 weight. */
    static GgufTestWriter tinyLlama() {
        GgufTestWriter w = new GgufTestWriter()
                .str("general.architecture", "llama")
                .u32("llama.embedding_length", 32).u32("llama.block_count", 1).u32("llama.feed_forward_length", 64)
                .u32("llama.attention.head_count", 2).u32("llama.attention.head_count_kv", 1)
                .u32("llama.context_length", 64).f32("llama.attention.layer_norm_rms_epsilon", 1e-5f)
                .f32("llama.rope.freq_base", 10000f);
        String[] tokens = {"<unk>", "<s>", "</s>", "a", "b", "\u2581", "\u2581a", "ab"};
        ByteArrayOutputStream toks = new ByteArrayOutputStream();
        ByteArrayOutputStream scores = new ByteArrayOutputStream();
        ByteArrayOutputStream types = new ByteArrayOutputStream();
        for (int i = 0; i < tokens.length; i++) {
            toks.writeBytes(string(tokens[i]));
            scores.writeBytes(le(4, Float.floatToIntBits(-i)));
            types.writeBytes(le(4, i < 3 ? 3 : 1));
        }
        w.str("tokenizer.ggml.model", "llama")
                .kv("tokenizer.ggml.tokens", 9, concat(le(4, 8), le(8, tokens.length), toks.toByteArray()))
                .kv("tokenizer.ggml.scores", 9, concat(le(4, 6), le(8, tokens.length), scores.toByteArray()))
                .kv("tokenizer.ggml.token_type", 9, concat(le(4, 5), le(8, tokens.length), types.toByteArray()))
                .u32("tokenizer.ggml.bos_token_id", 1).u32("tokenizer.ggml.eos_token_id", 2);
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        w.tensor("token_embd.weight", 0, new long[] {32, 8}, floats(r, 32 * 8));
        w.tensor("blk.0.attn_norm.weight", 0, new long[] {32}, floats(r, 32));
        w.tensor("blk.0.attn_q.weight", 8, new long[] {32, 32}, q8(r, 32 * 32));
        w.tensor("blk.0.attn_k.weight", 0, new long[] {32, 16}, floats(r, 32 * 16));
        w.tensor("blk.0.attn_v.weight", 0, new long[] {32, 16}, floats(r, 32 * 16));
        w.tensor("blk.0.attn_output.weight", 0, new long[] {32, 32}, floats(r, 32 * 32));
        w.tensor("blk.0.ffn_norm.weight", 0, new long[] {32}, floats(r, 32));
        w.tensor("blk.0.ffn_gate.weight", 0, new long[] {32, 64}, floats(r, 32 * 64));
        w.tensor("blk.0.ffn_up.weight", 0, new long[] {32, 64}, floats(r, 32 * 64));
        w.tensor("blk.0.ffn_down.weight", 0, new long[] {64, 32}, floats(r, 64 * 32));
        w.tensor("output_norm.weight", 0, new long[] {32}, floats(r, 32));
        return w;
    }

    static byte[] floats(java.util.SplittableRandom r, int n) {
        ByteBuffer b = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            b.putFloat((float) (r.nextDouble() - 0.5) * 0.3f);
        }
        return b.array();
    }

    static byte[] q8(java.util.SplittableRandom r, int n) {
        byte[] b = new byte[n / 32 * 34];
        io.attnrt.tensor.Quant.fillRandom(io.attnrt.tensor.DType.Q8_0, b, r.nextLong(), 0.1);
        return b;
    }
}
