package io.attnrt.text;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The tokenizer and chat template of a GGUF file, from its metadata (llama.cpp's {@code tokenizer.*} keys).
 *
 * <p>The vocabulary is translated into the tokenizer.json that tokenizes the way llama.cpp does, and Hugging Face's
 * tokenizers library runs it: that library is well tested on exactly these two model types, a second hand-written
 * BPE would not be. {@code tokenizer.ggml.model} {@code llama} (SentencePiece BPE) becomes a BPE model with byte
 * fallback whose merges come from the piece scores, shaped like the tokenizer.json of HF's Llama 2;
 * {@code gpt2} (byte-level BPE) keeps its merges and gets the split regex llama.cpp uses for the file's
 * {@code tokenizer.ggml.pre}. Control, user-defined and unknown-typed tokens are matched in the raw text before
 * the model, as llama.cpp matches them.
 *
 * <p>The metadata is untrusted: anything missing, mistyped, out of range or inconsistent is refused with an
 * {@link IllegalArgumentException} naming the key and the file's label.
 */
public final class GgufTokenizer {
    static final String MODEL = "tokenizer.ggml.model";
    static final String PRE = "tokenizer.ggml.pre";
    static final String TOKENS = "tokenizer.ggml.tokens";
    static final String SCORES = "tokenizer.ggml.scores";
    static final String TOKEN_TYPE = "tokenizer.ggml.token_type";
    static final String MERGES = "tokenizer.ggml.merges";
    static final String BOS = "tokenizer.ggml.bos_token_id";
    static final String EOS = "tokenizer.ggml.eos_token_id";
    static final String UNK = "tokenizer.ggml.unknown_token_id";
    static final String PAD = "tokenizer.ggml.padding_token_id";
    static final String EOT = "tokenizer.ggml.eot_token_id";
    static final String EOM = "tokenizer.ggml.eom_token_id";
    static final String ADD_BOS = "tokenizer.ggml.add_bos_token";
    static final String ADD_EOS = "tokenizer.ggml.add_eos_token";
    static final String ADD_SPACE_PREFIX = "tokenizer.ggml.add_space_prefix";
    static final String CHAT_TEMPLATE = "tokenizer.chat_template";

    // llama.cpp's token types (gguf-py TokenType); 0 is "undefined", which llama.cpp treats as normal text.
    static final int NORMAL = 1;
    static final int UNKNOWN = 2;
    static final int CONTROL = 3;
    static final int USER_DEFINED = 4;
    static final int UNUSED = 5;
    static final int BYTE = 6;

    /**
     * Token texts llama.cpp ends a generation on whatever the file's eos_token_id says: chat models often name
     * {@code <|endoftext|>} as EOS but end their turns with {@code <|im_end|>} or {@code <|eot_id|>}.
     */
    private static final List<String> END_OF_TURN = List.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<|endoftext|>",
            "<end_of_turn>");

    /** Llama 3's split, as its tokenizer.json writes it; llama.cpp's "llama-bpe" regex is its expansion. */
    static final String LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    /** Qwen2/3's split (single digits), as its tokenizer.json writes it; llama.cpp's "qwen2" is its expansion. */
    static final String QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    /**
     * llama.cpp's fallback for a BPE file without (or with "default") pre-tokenizer name: four regexes, each
     * splitting the pieces the one before left, unmatched text kept as pieces of its own.
     */
    static final List<String> DEFAULT_SPLITS = List.of("[\\p{P}\\$\\+<=>\\^~\\|]+",
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", "\\p{N}+",
            "[0-9][0-9][0-9]");

    private static final ObjectMapper JSON = new ObjectMapper();

    private GgufTokenizer() {
    }

    /** The tokenizer of a GGUF file's metadata; {@code label} (e.g. the file name) is what errors name. */
    public static Tokenizer fromMetadata(Map<String, Object> md, String label) {
        Translation t = translate(md, label);
        return Tokenizer.fromJson(t.json(), label, t.stopTokenIds());
    }

    /** The tokenizer.json text and stop tokens the metadata translates to (what the tests look inside). */
    record Translation(String json, int[] stopTokenIds) {
    }

    /**
     * The file's {@code tokenizer.chat_template}, with the BOS and EOS token texts it may print; null when the file
     * has none.
     */
    public static ChatTemplate chatTemplate(Map<String, Object> md, String label) {
        if (md == null) {
            throw new IllegalArgumentException(label + ": no GGUF metadata");
        }
        Object t = md.get(CHAT_TEMPLATE);
        if (t == null) {
            return null;
        }
        if (!(t instanceof String template)) {
            throw wrongType(label, CHAT_TEMPLATE, "a string", t);
        }
        Vocab v = Vocab.read(md, label);
        return ChatTemplate.fromString(template, label + " " + CHAT_TEMPLATE,
                v.bos == null ? null : v.tokens.get(v.bos), v.eos == null ? null : v.tokens.get(v.eos));
    }

    /** {@link #chatTemplate(Map, String)} with errors naming "GGUF metadata". */
    public static ChatTemplate chatTemplate(Map<String, Object> md) {
        return chatTemplate(md, "GGUF metadata");
    }

    static Translation translate(Map<String, Object> md, String label) {
        if (md == null) {
            throw new IllegalArgumentException(label + ": no GGUF metadata");
        }
        Vocab v = Vocab.read(md, label);
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        root.set("added_tokens", addedTokens(v));
        if (v.spm) {
            spm(root, v, md, label);
        } else {
            byteLevel(root, v, md, label);
        }
        root.set("post_processor", postProcessor(v));
        try {
            return new Translation(JSON.writeValueAsString(root), v.stopTokens());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The vocabulary and special ids of the metadata, checked. */
    private static final class Vocab {
        final String label;
        final boolean spm;
        final List<String> tokens;
        final int[] types;
        final double[] scores;
        final Map<String, Integer> ids;
        final Integer bos;
        final Integer eos;
        final Integer unk;
        final Integer eot;
        final Integer eom;
        final boolean addBos;
        final boolean addEos;

        private Vocab(Map<String, Object> md, String label) {
            this.label = label;
            Object model = md.get(MODEL);
            if (model == null) {
                throw new IllegalArgumentException(label + ": " + MODEL + " is missing (no tokenizer in this file)");
            }
            if (!(model instanceof String m)) {
                throw wrongType(label, MODEL, "a string", model);
            }
            if (!m.equals("llama") && !m.equals("gpt2")) {
                throw new IllegalArgumentException(label + ": " + MODEL + " " + quote(m) + " is not a tokenizer "
                        + "attnrt reads (llama: SentencePiece BPE, gpt2: byte-level BPE)");
            }
            spm = m.equals("llama");
            tokens = strings(md, TOKENS, label, true);
            int n = tokens.size();
            if (n == 0) {
                throw new IllegalArgumentException(label + ": " + TOKENS + " is empty");
            }
            ids = new HashMap<>(n * 2);
            for (int i = 0; i < n; i++) {
                Integer before = ids.putIfAbsent(tokens.get(i), i);
                if (before != null) {
                    // A tokenizer.json vocabulary maps each text to one id: the later id could never be produced
                    // and would decode as nothing.
                    throw new IllegalArgumentException(label + ": " + TOKENS + " holds " + quote(tokens.get(i))
                            + " twice (ids " + before + " and " + i + ")");
                }
            }
            types = new int[n];
            List<?> typeList = list(md, TOKEN_TYPE, label, false);
            if (typeList == null) {
                Arrays.fill(types, NORMAL);
            } else {
                sameLength(label, TOKEN_TYPE, typeList.size(), n);
                for (int i = 0; i < n; i++) {
                    if (!(typeList.get(i) instanceof Long l)) {
                        throw wrongType(label, TOKEN_TYPE + "[" + i + "]", "an integer", typeList.get(i));
                    }
                    if (l < 0 || l > BYTE) {
                        throw new IllegalArgumentException(label + ": " + TOKEN_TYPE + "[" + i + "] is " + l
                                + ", not a token type (0..6)");
                    }
                    types[i] = l == 0 ? NORMAL : (int) (long) l;
                    if (types[i] == BYTE && spm && !tokens.get(i).matches("<0x[0-9A-Fa-f]{2}>")) {
                        throw new IllegalArgumentException(label + ": " + TOKEN_TYPE + "[" + i + "] says byte but "
                                + TOKENS + "[" + i + "] is " + quote(tokens.get(i)) + ", not <0xNN>");
                    }
                }
            }
            List<?> scoreList = list(md, SCORES, label, spm); // SentencePiece merges come from the scores
            scores = new double[n];
            if (scoreList != null) {
                sameLength(label, SCORES, scoreList.size(), n);
                for (int i = 0; i < n; i++) {
                    if (!(scoreList.get(i) instanceof Double d)) {
                        throw wrongType(label, SCORES + "[" + i + "]", "a float", scoreList.get(i));
                    }
                    if (d.isNaN()) {
                        throw new IllegalArgumentException(label + ": " + SCORES + "[" + i + "] is NaN");
                    }
                    scores[i] = d;
                }
            }
            // llama.cpp's defaults for SentencePiece files that leave the ids out; none for gpt2 (its 11 is GPT-2's).
            bos = tokenId(md, BOS, label, n, spm ? 1 : null);
            eos = tokenId(md, EOS, label, n, spm ? 2 : null);
            unk = tokenId(md, UNK, label, n, spm ? 0 : null);
            tokenId(md, PAD, label, n, null); // checked only: nothing here pads
            eot = tokenId(md, EOT, label, n, null);
            eom = tokenId(md, EOM, label, n, null);
            // llama.cpp adds BOS for llama and for llama-bpe (Llama 3) files unless the file says otherwise.
            boolean llama3 = !spm && md.get(PRE) instanceof String p && isLlama3(p);
            addBos = bool(md, ADD_BOS, label, spm || llama3);
            addEos = bool(md, ADD_EOS, label, false);
            if (addBos && bos == null) {
                throw new IllegalArgumentException(label + ": " + ADD_BOS + " is true but " + BOS + " is missing");
            }
            if (addEos && eos == null) {
                throw new IllegalArgumentException(label + ": " + ADD_EOS + " is true but " + EOS + " is missing");
            }
        }

        static Vocab read(Map<String, Object> md, String label) {
            return new Vocab(md, label);
        }

        int[] stopTokens() {
            Set<Integer> stop = new LinkedHashSet<>();
            for (Integer id : new Integer[] {eos, eot, eom}) {
                if (id != null) {
                    stop.add(id);
                }
            }
            for (String text : END_OF_TURN) { // whatever their type: llama.cpp makes them control tokens if not
                Integer id = ids.get(text);
                if (id != null) {
                    stop.add(id);
                }
            }
            return stop.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    /** The names llama.cpp's llama-vocab.cpp maps to its Llama 3 pre-tokenizer (for the architectures attnrt runs). */
    static boolean isLlama3(String pre) {
        return pre.equals("llama-bpe") || pre.equals("llama3") || pre.equals("llama-v3") || pre.equals("falcon3")
                || pre.equals("pixtral");
    }

    /** Control, unknown and user-defined tokens: matched in the raw text before the model, as llama.cpp does. */
    private static ArrayNode addedTokens(Vocab v) {
        ArrayNode added = JSON.createArrayNode();
        for (int i = 0; i < v.types.length; i++) {
            int type = v.types[i];
            if ((type != CONTROL && type != USER_DEFINED && type != UNKNOWN) || v.tokens.get(i).isEmpty()) {
                continue;
            }
            ObjectNode t = added.addObject();
            t.put("id", i);
            t.put("content", v.tokens.get(i));
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            // GGUF stores these texts as they appear in the input (the converter pre-normalizes them).
            t.put("normalized", false);
            t.put("special", type != USER_DEFINED);
        }
        return added;
    }

    /** SentencePiece BPE as HF's Llama 2 tokenizer.json writes it: ▁ for spaces, byte fallback, score merges. */
    private static void spm(ObjectNode root, Vocab v, Map<String, Object> md, String label) {
        boolean spacePrefix = bool(md, ADD_SPACE_PREFIX, label, true);
        ObjectNode normalizer = root.putObject("normalizer");
        normalizer.put("type", "Sequence");
        ArrayNode norms = normalizer.putArray("normalizers");
        if (spacePrefix) {
            norms.addObject().put("type", "Prepend").put("prepend", "\u2581");
        }
        ObjectNode replace = norms.addObject().put("type", "Replace");
        replace.putObject("pattern").put("String", " ");
        replace.put("content", "\u2581");
        root.putNull("pre_tokenizer");

        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        if (v.unk != null) {
            model.put("unk_token", v.tokens.get(v.unk));
        } else {
            model.putNull("unk_token");
        }
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", true);
        model.put("byte_fallback", true);
        model.put("ignore_merges", false);
        putVocab(model, v);
        ArrayNode merges = model.putArray("merges");
        for (int[] m : scoreMerges(v)) {
            merges.addArray().add(v.tokens.get(m[0])).add(v.tokens.get(m[1]));
        }

        ObjectNode decoder = root.putObject("decoder");
        decoder.put("type", "Sequence");
        ArrayNode decs = decoder.putArray("decoders");
        ObjectNode space = decs.addObject().put("type", "Replace");
        space.putObject("pattern").put("String", "\u2581");
        space.put("content", " ");
        decs.addObject().put("type", "ByteFallback");
        decs.addObject().put("type", "Fuse");
        if (spacePrefix) { // the space the normalizer put in front is not the text's
            decs.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);
        }
    }

    /**
     * The merges SentencePiece's BPE amounts to: it joins the adjacent pair whose joined text is the
     * highest-scoring piece. So every way of cutting a piece into two pieces is a merge, ranked by the piece's
     * score, ties by piece id and then the two halves' ids (HF's convert_slow_tokenizer order). Returns
     * {left id, right id} in rank order.
     */
    private static List<int[]> scoreMerges(Vocab v) {
        List<int[]> merges = new ArrayList<>(); // {left, right, merged}
        for (int id = 0; id < v.tokens.size(); id++) {
            String piece = v.tokens.get(id);
            // Cut between code points: a cut inside a surrogate pair is no piece.
            for (int cut = piece.offsetByCodePoints(0, Math.min(1, piece.length())); cut > 0 && cut < piece.length();
                    cut = piece.offsetByCodePoints(cut, 1)) {
                Integer l = v.ids.get(piece.substring(0, cut));
                Integer r = v.ids.get(piece.substring(cut));
                if (l != null && r != null) {
                    merges.add(new int[] {l, r, id});
                }
            }
        }
        merges.sort((a, b) -> {
            int c = Double.compare(v.scores[b[2]], v.scores[a[2]]);
            if (c != 0) {
                return c;
            }
            c = Integer.compare(a[2], b[2]);
            return c != 0 ? c : a[0] != b[0] ? Integer.compare(a[0], b[0]) : Integer.compare(a[1], b[1]);
        });
        return merges;
    }

    /** Byte-level BPE (GPT-2, Llama 3, Qwen): the file's merges and llama.cpp's split for its pre-tokenizer. */
    private static void byteLevel(ObjectNode root, Vocab v, Map<String, Object> md, String label) {
        Object preValue = md.get(PRE);
        if (preValue != null && !(preValue instanceof String)) {
            throw wrongType(label, PRE, "a string", preValue);
        }
        String pre = preValue == null ? "default" : (String) preValue;
        root.putNull("normalizer"); // llama.cpp normalizes nothing (HF's Qwen applies NFC; llama.cpp does not)
        ObjectNode preTok = root.putObject("pre_tokenizer");
        boolean ignoreMerges = false;
        switch (pre) {
            case "gpt-2" -> byteLevelPre(preTok, true);
            case "default" -> {
                preTok.put("type", "Sequence");
                ArrayNode seq = preTok.putArray("pretokenizers");
                for (String regex : DEFAULT_SPLITS) {
                    split(seq.addObject(), regex);
                }
                byteLevelPre(seq.addObject(), false);
            }
            // DeepSeek-R1's Qwen distills (architecture qwen2) name their pre-tokenizer apart; llama.cpp maps it to qwen2's
            case "qwen2", "deepseek-r1-qwen" -> splitThenBytes(preTok, QWEN2_SPLIT);
            default -> {
                if (!isLlama3(pre)) {
                    throw new IllegalArgumentException(label + ": " + PRE + " " + quote(pre) + " is not a "
                            + "pre-tokenizer attnrt knows (default, gpt-2, llama-bpe/llama3/llama-v3/falcon3/pixtral, "
                            + "qwen2/deepseek-r1-qwen)");
                }
                splitThenBytes(preTok, LLAMA3_SPLIT);
                ignoreMerges = true; // llama.cpp (and Llama 3's tokenizer.json) take a whole-word piece as is
            }
        }

        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", ignoreMerges);
        putVocab(model, v);
        ArrayNode merges = model.putArray("merges");
        List<String> fileMerges = strings(md, MERGES, label, true);
        for (int i = 0; i < fileMerges.size(); i++) {
            String m = fileMerges.get(i);
            int space = m.indexOf(' ', 1); // llama.cpp's cut: a first half of one space is allowed
            String left = space < 0 ? null : m.substring(0, space);
            String right = space < 0 ? null : m.substring(space + 1);
            if (left == null || right.isEmpty() || !v.ids.containsKey(left) || !v.ids.containsKey(right)
                    || !v.ids.containsKey(left + right)) {
                throw new IllegalArgumentException(label + ": " + MERGES + "[" + i + "] " + quote(m)
                        + " is not two tokens of " + TOKENS + " whose join is one");
            }
            merges.addArray().add(left).add(right);
        }

        ObjectNode decoder = root.putObject("decoder");
        decoder.put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true)
                .put("use_regex", true);
    }

    private static void splitThenBytes(ObjectNode preTok, String regex) {
        preTok.put("type", "Sequence");
        ArrayNode seq = preTok.putArray("pretokenizers");
        split(seq.addObject(), regex);
        byteLevelPre(seq.addObject(), false);
    }

    private static void split(ObjectNode s, String regex) {
        s.put("type", "Split");
        s.putObject("pattern").put("Regex", regex);
        s.put("behavior", "Isolated");
        s.put("invert", false);
    }

    private static void byteLevelPre(ObjectNode b, boolean gpt2Regex) {
        b.put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true)
                .put("use_regex", gpt2Regex);
    }

    private static void putVocab(ObjectNode model, Vocab v) {
        // Every token, special ones included, sits in the model's vocabulary under its GGUF id: HF gives an added
        // token the id the vocabulary has for its text, and numbers one it lacks after the vocabulary instead.
        ObjectNode vocab = model.putObject("vocab");
        for (int i = 0; i < v.tokens.size(); i++) {
            vocab.put(v.tokens.get(i), i);
        }
    }

    /** BOS (and EOS) around the text when the caller asks for special tokens and the file wants them. */
    private static ObjectNode postProcessor(Vocab v) {
        if (!v.addBos && !v.addEos) {
            return null;
        }
        ObjectNode p = JSON.createObjectNode();
        p.put("type", "TemplateProcessing");
        ArrayNode single = p.putArray("single");
        ArrayNode pair = p.putArray("pair");
        ObjectNode specials = JSON.createObjectNode();
        for (int seq = 0; seq < 2; seq++) {
            ArrayNode out = seq == 0 ? single : pair;
            for (int part = 0; part <= seq; part++) {
                if (v.addBos) {
                    special(out, v.tokens.get(v.bos), part);
                }
                out.addObject().putObject("Sequence").put("id", part == 0 ? "A" : "B").put("type_id", part);
                if (v.addEos) {
                    special(out, v.tokens.get(v.eos), part);
                }
            }
        }
        for (Integer id : new Integer[] {v.addBos ? v.bos : null, v.addEos ? v.eos : null}) {
            if (id != null) {
                String text = v.tokens.get(id);
                ObjectNode s = specials.putObject(text);
                s.put("id", text);
                s.putArray("ids").add(id);
                s.putArray("tokens").add(text);
            }
        }
        p.set("special_tokens", specials);
        return p;
    }

    private static void special(ArrayNode out, String text, int typeId) {
        out.addObject().putObject("SpecialToken").put("id", text).put("type_id", typeId);
    }

    private static List<?> list(Map<String, Object> md, String key, String label, boolean required) {
        Object o = md.get(key);
        if (o == null) {
            if (required) {
                throw new IllegalArgumentException(label + ": " + key + " is missing");
            }
            return null;
        }
        if (!(o instanceof List<?> l)) {
            throw wrongType(label, key, "an array", o);
        }
        return l;
    }

    @SuppressWarnings("unchecked")
    private static List<String> strings(Map<String, Object> md, String key, String label, boolean required) {
        List<?> l = list(md, key, label, required);
        if (l == null) {
            return null;
        }
        for (int i = 0; i < l.size(); i++) {
            if (!(l.get(i) instanceof String)) {
                throw wrongType(label, key + "[" + i + "]", "a string", l.get(i));
            }
        }
        return (List<String>) l;
    }

    private static void sameLength(String label, String key, int size, int tokens) {
        if (size != tokens) {
            throw new IllegalArgumentException(label + ": " + key + " has " + size + " entries but " + TOKENS + " has "
                    + tokens);
        }
    }

    private static Integer tokenId(Map<String, Object> md, String key, String label, int n, Integer fallback) {
        Object o = md.get(key);
        if (o == null) {
            return fallback != null && fallback < n ? fallback : null;
        }
        if (!(o instanceof Long id)) {
            throw wrongType(label, key, "an integer", o);
        }
        if (id < 0 || id >= n) {
            throw new IllegalArgumentException(label + ": " + key + " is " + id + ", outside " + TOKENS + " (ids 0.."
                    + (n - 1) + ")");
        }
        return (int) (long) id;
    }

    private static boolean bool(Map<String, Object> md, String key, String label, boolean fallback) {
        Object o = md.get(key);
        if (o == null) {
            return fallback;
        }
        if (!(o instanceof Boolean b)) {
            throw wrongType(label, key, "a boolean", o);
        }
        return b;
    }

    private static IllegalArgumentException wrongType(String label, String key, String want, Object got) {
        String what = got == null ? "null" : got instanceof String s ? "the string " + quote(s)
                : got instanceof List<?> l ? "an array of " + l.size() : got.getClass().getSimpleName() + " " + got;
        return new IllegalArgumentException(label + ": " + key + " should be " + want + " but is " + what);
    }

    /** An untrusted string for an error message: quoted, control characters escaped, at most 64 characters. */
    static String quote(String s) {
        String cut = s.length() > 64 ? s.substring(0, s.offsetByCodePoints(0, Math.min(64, s.codePointCount(0,
                s.length())))) : s;
        StringBuilder b = new StringBuilder("\"");
        cut.codePoints().forEach(c -> {
            if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
                b.append(String.format("\\u%04x", c));
            } else {
                b.appendCodePoint(c);
            }
        });
        return b.append(cut.length() < s.length() ? "\"..." : "\"").toString();
    }
}
