package io.attnrt.text;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * A model directory's tokenizer: {@code tokenizer.json} run by Hugging Face's own tokenizers library (Rust,
 * through DJL's binding), so text becomes exactly the ids the model was trained on — byte-level BPE (Llama 3,
 * Qwen), SentencePiece-style BPE with byte fallback (Llama 2, Mistral), added and special tokens matched
 * before the model, BOS/EOS from the file's post-processor. {@code tokenizer_config.json},
 * {@code generation_config.json} and {@code config.json} supply the stop tokens.
 *
 * <p>Holds a native handle: {@link #close()} it when done.
 */
public final class Tokenizer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Truncation, padding and their length limit off: the runtime decides what fits the context. */
    private static final Map<String, String> OPTIONS = Map.of("truncation", "false", "padding", "false",
            "addSpecialTokens", "true", "modelMaxLength", String.valueOf(Integer.MAX_VALUE));

    private final HuggingFaceTokenizer hf;
    private final Path file;
    /** What errors name: the tokenizer.json path, or the label of a tokenizer built in memory. */
    private final String source;
    private final int[] stopTokenIds;
    private final int maxTokenId;

    private Tokenizer(HuggingFaceTokenizer hf, Path file, String source, int[] stopTokenIds, int maxTokenId) {
        this.hf = hf;
        this.file = file;
        this.source = source;
        this.stopTokenIds = stopTokenIds;
        this.maxTokenId = maxTokenId;
    }

    /** Whether {@code dir} holds a tokenizer.json. */
    public static boolean presentIn(Path dir) {
        return dir != null && Files.isRegularFile(dir.resolve("tokenizer.json"));
    }

    /** Loads {@code dir/tokenizer.json}; errors name the file. */
    public static Tokenizer load(Path dir) {
        Path file = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("no tokenizer.json in " + dir);
        }
        HuggingFaceTokenizer hf;
        try (InputStream in = Files.newInputStream(file)) {
            hf = HuggingFaceTokenizer.newInstance(in, OPTIONS);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + " is not a tokenizer the Hugging Face tokenizers library "
                    + "accepts: " + e.getMessage(), e);
        }
        try {
            return new Tokenizer(hf, file, file.toString(), stopTokens(dir, hf, file), maxTokenId(readJson(file)));
        } catch (RuntimeException e) {
            hf.close();
            throw e;
        }
    }

    /**
     * A tokenizer from tokenizer.json text built in memory (e.g. translated from a GGUF file's vocabulary), with
     * the stop tokens its source names; errors name {@code label}.
     */
    static Tokenizer fromJson(String json, String label, int[] stopTokenIds) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot parse the tokenizer.json of " + label + ": " + e.getMessage(), e);
        }
        int max = maxTokenId(root);
        for (int id : stopTokenIds) {
            if (id < 0 || id > max) {
                throw new IllegalArgumentException(label + ": stop token id " + id + " is outside the vocabulary (ids 0.."
                        + max + ")");
            }
        }
        HuggingFaceTokenizer hf;
        try (InputStream in = new ByteArrayInputStream(json.getBytes(StandardCharsets.UTF_8))) {
            hf = HuggingFaceTokenizer.newInstance(in, OPTIONS);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the tokenizer of " + label + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(label + " is not a tokenizer the Hugging Face tokenizers library "
                    + "accepts: " + e.getMessage(), e);
        }
        return new Tokenizer(hf, null, label, stopTokenIds.clone(), max);
    }

    /**
     * The ids that end a generation: {@code eos_token_id} of generation_config.json (a number or a list, as
     * Llama 3 instruct models list {@code <|end_of_text|>}, {@code <|eom_id|>} and {@code <|eot_id|>}), else
     * of config.json, plus tokenizer_config.json's {@code eos_token} mapped through the vocabulary.
     */
    private static int[] stopTokens(Path dir, HuggingFaceTokenizer hf, Path file) {
        Set<Integer> ids = new LinkedHashSet<>();
        JsonNode generation = readJson(dir.resolve("generation_config.json"));
        JsonNode config = readJson(dir.resolve("config.json"));
        JsonNode eos = generation != null && generation.hasNonNull("eos_token_id") ? generation.get("eos_token_id")
                : config != null ? config.get("eos_token_id") : null;
        if (eos != null && eos.isIntegralNumber()) {
            ids.add(eos.intValue());
        } else if (eos != null && eos.isArray()) {
            eos.forEach(n -> {
                if (n.isIntegralNumber()) {
                    ids.add(n.intValue());
                }
            });
        }
        JsonNode tokenizerConfig = readJson(dir.resolve("tokenizer_config.json"));
        JsonNode eosToken = tokenizerConfig == null ? null : tokenizerConfig.get("eos_token");
        String eosText = eosToken == null ? null : eosToken.isTextual() ? eosToken.asText()
                : eosToken.hasNonNull("content") ? eosToken.get("content").asText() : null;
        if (eosText != null) {
            long[] one = hf.encode(eosText, false, false).getIds();
            if (one.length != 1) {
                throw new IllegalArgumentException(dir.resolve("tokenizer_config.json") + ": eos_token " + eosToken
                        + " is not a single token of " + file);
            }
            ids.add((int) one[0]);
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The largest id of the vocabulary and the added tokens. */
    private static int maxTokenId(JsonNode root) {
        int max = -1;
        for (JsonNode v : root.path("model").path("vocab")) { // BPE: {"piece": id}; Unigram: [["piece", score]]
            if (v.isIntegralNumber()) {
                max = Math.max(max, v.intValue());
            }
        }
        if (root.path("model").path("vocab").isArray()) {
            max = Math.max(max, root.path("model").path("vocab").size() - 1);
        }
        for (JsonNode t : root.path("added_tokens")) {
            max = Math.max(max, t.path("id").asInt(-1));
        }
        return max;
    }

    private static JsonNode readJson(Path p) {
        if (!Files.isRegularFile(p)) {
            return null;
        }
        try {
            return JSON.readTree(p.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot parse " + p + ": " + e.getMessage(), e);
        }
    }

    /** Text to ids, with the special tokens the tokenizer's post-processor adds (BOS for Llama). */
    public int[] encode(String text) {
        return encode(text, true);
    }

    public int[] encode(String text, boolean addSpecialTokens) {
        return toInts(hf.encode(text, addSpecialTokens, false).getIds());
    }

    /** Ids and the piece each id stands for. */
    public record Pieces(int[] ids, String[] pieces) {
    }

    public Pieces pieces(String text, boolean addSpecialTokens) {
        Encoding e = hf.encode(text, addSpecialTokens, false);
        return new Pieces(toInts(e.getIds()), e.getTokens());
    }

    /** Ids to text; special tokens are kept unless {@code skipSpecialTokens}. */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] > maxTokenId) {
                throw new IllegalArgumentException("token id " + ids[i] + " at position " + i + " is outside the "
                        + "vocabulary of " + source + " (ids 0.." + maxTokenId + ")");
            }
            l[i] = ids[i];
        }
        return hf.decode(l, skipSpecialTokens);
    }

    /** The largest token id the tokenizer can produce. */
    public int maxTokenId() {
        return maxTokenId;
    }

    /**
     * Refuses a tokenizer that can produce ids the model has no embedding row for (fewer ids than rows is
     * normal: Qwen pads its embedding to a multiple of 128).
     */
    public void checkFits(int embeddingRows) {
        if (maxTokenId >= embeddingRows) {
            throw new IllegalArgumentException(source + " has token ids up to " + maxTokenId + " but the model's "
                    + "embedding has only " + embeddingRows + " rows (vocab_size): tokenizer and weights do not match");
        }
    }

    /** The token ids that end a generation (possibly empty). */
    public int[] stopTokenIds() {
        return stopTokenIds.clone();
    }

    /** The tokenizer.json this was loaded from; null for one built in memory (see {@link #source()}). */
    public Path file() {
        return file;
    }

    /** What this tokenizer came from, as its errors name it: the tokenizer.json path or a label. */
    public String source() {
        return source;
    }

    /** Incremental decoding for streamed output, continuing after {@code context} (e.g. the prompt). */
    public TextStream stream(int[] context) {
        return new TextStream(this, context);
    }

    private static int[] toInts(long[] ids) {
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    @Override
    public void close() {
        hf.close();
    }
}
