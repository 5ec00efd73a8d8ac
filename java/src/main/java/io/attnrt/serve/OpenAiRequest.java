package io.attnrt.serve;

import com.fasterxml.jackson.databind.JsonNode;
import io.attnrt.backend.SamplingParams;
import io.attnrt.text.ChatTemplate;
import java.util.ArrayList;
import java.util.List;

/**
 * One {@code /v1/chat/completions} or {@code /v1/completions} body, checked field by field: a wrong type
 * or value is an {@link ApiException} naming the field. Fields attnrt does not know are ignored, as OpenAI's
 * server ignores them.
 */
final class OpenAiRequest {
    /** OpenAI's bounds where it has them. */
    static final int MAX_STOP_STRINGS = 4;
    static final int MAX_TOP_LOGPROBS = 20;

    final boolean chat;
    final String model;
    final List<ChatTemplate.Message> messages;
    /** Completions: the prompt as text, or null when given as token ids. */
    final String promptText;
    final int[] promptIds;
    final Integer maxTokens;
    final SamplingParams sampling;
    final Long seed;
    final int n;
    final List<String> stop;
    /** −1: none; chat: top_logprobs when logprobs is true; completions: the logprobs integer. */
    final int logprobs;
    final boolean stream;
    final boolean includeUsage;

    OpenAiRequest(JsonNode body, boolean chat) {
        if (body == null || !body.isObject()) {
            throw ApiException.invalid(null, "the request body must be a JSON object");
        }
        this.chat = chat;
        this.model = optionalString(body, "model");
        if (chat) {
            this.messages = messages(body.get("messages"));
            this.promptText = null;
            this.promptIds = null;
        } else {
            this.messages = null;
            JsonNode p = body.get("prompt");
            if (p != null && p.isArray() && p.size() == 1 && (p.get(0).isTextual() || p.get(0).isArray())) {
                p = p.get(0); // a batch of one prompt
            }
            if (p == null || p.isNull()) {
                throw ApiException.invalid("prompt", "prompt is required");
            } else if (p.isTextual()) {
                this.promptText = p.asText();
                this.promptIds = null;
            } else if (p.isArray() && p.size() > 0 && allInts(p)) {
                this.promptText = null;
                this.promptIds = new int[p.size()];
                for (int i = 0; i < p.size(); i++) {
                    promptIds[i] = p.get(i).asInt();
                }
            } else if (p.isArray() && p.size() > 1) {
                throw ApiException.invalid("prompt", "a list of several prompts is not supported; send one request "
                        + "per prompt");
            } else {
                throw ApiException.invalid("prompt", "prompt must be a string or a non-empty array of token ids");
            }
        }
        Integer max = optionalInt(body, chat ? "max_completion_tokens" : "max_tokens", 1, Integer.MAX_VALUE);
        if (max == null) {
            max = optionalInt(body, "max_tokens", 1, Integer.MAX_VALUE);
        }
        this.maxTokens = max;
        double temperature = optionalNumber(body, "temperature", 0, 2, 1.0);
        double topP = optionalNumber(body, "top_p", 0, 1, 1.0);
        if (topP == 0) {
            throw ApiException.invalid("top_p", "top_p must be greater than 0 and at most 1, got 0");
        }
        Integer topK = optionalInt(body, "top_k", -1, Integer.MAX_VALUE);
        this.sampling = new SamplingParams((float) temperature, topK == null || topK < 0 ? 0 : topK, (float) topP);
        JsonNode s = body.get("seed");
        if (s != null && !s.isNull() && !s.canConvertToLong()) {
            throw ApiException.invalid("seed", "seed must be an integer");
        }
        this.seed = s == null || s.isNull() ? null : s.asLong();
        Integer nn = optionalInt(body, "n", 1, 128);
        this.n = nn == null ? 1 : nn;
        this.stop = stop(body.get("stop"));
        this.logprobs = logprobs(body, chat);
        this.stream = optionalBoolean(body, "stream", false);
        JsonNode so = body.get("stream_options");
        if (so != null && !so.isNull() && !so.isObject()) {
            throw ApiException.invalid("stream_options", "stream_options must be an object");
        }
        this.includeUsage = so != null && so.isObject() && optionalBoolean(so, "include_usage", false);
        if (so != null && !so.isNull() && !stream) {
            throw ApiException.invalid("stream_options", "stream_options is only allowed when stream is true");
        }
    }

    private static List<ChatTemplate.Message> messages(JsonNode m) {
        if (m == null || m.isNull()) {
            throw ApiException.invalid("messages", "messages is required");
        }
        if (!m.isArray() || m.isEmpty()) {
            throw ApiException.invalid("messages", "messages must be a non-empty array");
        }
        List<ChatTemplate.Message> out = new ArrayList<>();
        for (int i = 0; i < m.size(); i++) {
            JsonNode msg = m.get(i);
            String where = "messages[" + i + "]";
            if (!msg.isObject()) {
                throw ApiException.invalid(where, where + " must be an object");
            }
            JsonNode role = msg.get("role");
            if (role == null || !role.isTextual()) {
                throw ApiException.invalid(where + ".role", where + ".role must be a string");
            }
            String r = role.asText();
            if (!List.of("system", "developer", "user", "assistant").contains(r)) {
                throw ApiException.invalid(where + ".role", where + ".role must be system, developer, user or "
                        + "assistant, got '" + r + "'");
            }
            out.add(new ChatTemplate.Message(r.equals("developer") ? "system" : r, content(msg.get("content"), where)));
        }
        return out;
    }

    /** A string, or an array of text parts (other part types are refused: this server reads only text). */
    private static String content(JsonNode c, String where) {
        if (c == null || c.isNull()) {
            throw ApiException.invalid(where + ".content", where + ".content is required");
        }
        if (c.isTextual()) {
            return c.asText();
        }
        if (c.isArray()) {
            StringBuilder sb = new StringBuilder();
            for (int k = 0; k < c.size(); k++) {
                JsonNode part = c.get(k);
                if (!part.isObject() || !"text".equals(part.path("type").asText()) || !part.path("text").isTextual()) {
                    throw ApiException.invalid(where + ".content[" + k + "]", where + ".content[" + k
                            + "] must be a {\"type\": \"text\", \"text\": ...} part; this server reads text only");
                }
                sb.append(part.get("text").asText());
            }
            return sb.toString();
        }
        throw ApiException.invalid(where + ".content", where + ".content must be a string or an array of text parts");
    }

    private static List<String> stop(JsonNode s) {
        if (s == null || s.isNull()) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        if (s.isTextual()) {
            out.add(s.asText());
        } else if (s.isArray()) {
            for (JsonNode e : s) {
                if (!e.isTextual()) {
                    throw ApiException.invalid("stop", "stop must be a string or an array of strings");
                }
                out.add(e.asText());
            }
        } else {
            throw ApiException.invalid("stop", "stop must be a string or an array of strings");
        }
        if (out.size() > MAX_STOP_STRINGS) {
            throw ApiException.invalid("stop", "at most " + MAX_STOP_STRINGS + " stop sequences, got " + out.size());
        }
        if (out.stream().anyMatch(String::isEmpty)) {
            throw ApiException.invalid("stop", "stop sequences must not be empty");
        }
        return out;
    }

    private static int logprobs(JsonNode body, boolean chat) {
        if (chat) {
            boolean on = optionalBoolean(body, "logprobs", false);
            Integer top = optionalInt(body, "top_logprobs", 0, MAX_TOP_LOGPROBS);
            if (top != null && !on) {
                throw ApiException.invalid("top_logprobs", "top_logprobs needs logprobs set to true");
            }
            return on ? (top == null ? 0 : top) : -1;
        }
        Integer lp = optionalInt(body, "logprobs", 0, MAX_TOP_LOGPROBS);
        return lp == null ? -1 : lp;
    }

    private static boolean allInts(JsonNode a) {
        for (JsonNode e : a) {
            if (!e.isIntegralNumber() || !e.canConvertToInt()) {
                return false;
            }
        }
        return true;
    }

    private static String optionalString(JsonNode body, String field) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw ApiException.invalid(field, field + " must be a string");
        }
        return v.asText();
    }

    private static boolean optionalBoolean(JsonNode body, String field, boolean dflt) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isBoolean()) {
            throw ApiException.invalid(field, field + " must be a boolean");
        }
        return v.asBoolean();
    }

    private static Integer optionalInt(JsonNode body, String field, int min, int max) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw ApiException.invalid(field, field + " must be an integer");
        }
        long x = v.asLong();
        if (x < min || x > max) {
            throw ApiException.invalid(field, field + " must be " + (max == Integer.MAX_VALUE ? "at least " + min
                    : "between " + min + " and " + max) + ", got " + x);
        }
        return (int) x;
    }

    private static double optionalNumber(JsonNode body, String field, double min, double max, double dflt) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isNumber()) {
            throw ApiException.invalid(field, field + " must be a number");
        }
        double x = v.asDouble();
        if (!(x >= min && x <= max)) {
            throw ApiException.invalid(field, field + " must be between " + min + " and " + max + ", got " + x);
        }
        return x;
    }
}
