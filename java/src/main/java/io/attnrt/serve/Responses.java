package io.attnrt.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.attnrt.text.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The JSON of one request's answer in OpenAI's formats: a whole {@code chat.completion} /
 * {@code text_completion}, or its stream of chunks. Fed the engine's events in order.
 */
final class Responses {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final boolean chat;
    private final String model;
    private final long created;
    private final int logprobs;
    private final Tokenizer tokenizer;
    private final String id;
    private final StringBuilder[] text;
    private final String[] reasons;
    /** Per choice: chat's logprobs.content entries, or the completions' parallel lists. */
    private final ArrayNode[] lpContent;
    private final ArrayNode[] lpTokens;
    private final ArrayNode[] lpValues;
    private final ArrayNode[] lpTop;
    private final ArrayNode[] lpOffsets;
    private CompletionListener.Usage usage;

    Responses(boolean chat, String model, long created, int n, int logprobs, Tokenizer tokenizer) {
        this.chat = chat;
        this.model = model;
        this.created = created;
        this.logprobs = logprobs;
        this.tokenizer = tokenizer;
        this.id = (chat ? "chatcmpl-" : "cmpl-") + Long.toHexString(ThreadLocalRandom.current().nextLong())
                + Long.toHexString(ThreadLocalRandom.current().nextLong());
        this.text = new StringBuilder[n];
        this.reasons = new String[n];
        this.lpContent = new ArrayNode[n];
        this.lpTokens = new ArrayNode[n];
        this.lpValues = new ArrayNode[n];
        this.lpTop = new ArrayNode[n];
        this.lpOffsets = new ArrayNode[n];
        for (int i = 0; i < n; i++) {
            text[i] = new StringBuilder();
            lpContent[i] = JSON.createArrayNode();
            lpTokens[i] = JSON.createArrayNode();
            lpValues[i] = JSON.createArrayNode();
            lpTop[i] = JSON.createArrayNode();
            lpOffsets[i] = JSON.createArrayNode();
        }
    }

    /** Records an event for the whole response. */
    void accept(Object e) {
        if (e instanceof OpenAiServer.Events.Token t) {
            if (t.logprobs() != null) {
                addLogprobs(t.choice(), t.token(), t.logprobs());
            }
            text[t.choice()].append(t.text());
        } else if (e instanceof OpenAiServer.Events.Finish f) {
            text[f.choice()].append(f.text());
            reasons[f.choice()] = f.reason();
        } else if (e instanceof OpenAiServer.Events.Complete c) {
            usage = c.usage();
        }
    }

    ObjectNode whole() {
        ObjectNode root = header(chat ? "chat.completion" : "text_completion");
        ArrayNode choices = root.putArray("choices");
        for (int i = 0; i < text.length; i++) {
            ObjectNode c = choices.addObject().put("index", i);
            if (chat) {
                c.putObject("message").put("role", "assistant").put("content", text[i].toString());
            } else {
                c.put("text", text[i].toString());
            }
            if (logprobs < 0) {
                c.putNull("logprobs");
            } else {
                c.set("logprobs", logprobsOf(i));
            }
            c.put("finish_reason", reasons[i]);
        }
        root.set("usage", usageJson());
        return root;
    }

    /** The chunks that open a chat stream: each choice's assistant role. */
    List<ObjectNode> opening(boolean includeUsage) {
        List<ObjectNode> out = new ArrayList<>();
        if (chat) {
            for (int i = 0; i < text.length; i++) {
                ObjectNode chunk = chunkHeader();
                ObjectNode c = chunk.putArray("choices").addObject().put("index", i);
                c.putObject("delta").put("role", "assistant").put("content", "");
                c.putNull("logprobs");
                c.putNull("finish_reason");
                if (includeUsage) {
                    chunk.putNull("usage");
                }
                out.add(chunk);
            }
        }
        return out;
    }

    /**
     * The stream chunks of one event. Every token gets its chunk, even one whose text is still held back
     * (mid-character, a possible stop string): clients see each token's timing.
     */
    List<ObjectNode> chunks(Object e, boolean includeUsage) {
        List<ObjectNode> out = new ArrayList<>();
        if (e instanceof OpenAiServer.Events.Token t) {
            int before = lpContent[t.choice()].size() + lpTokens[t.choice()].size();
            accept(e);
            {
                ObjectNode lp = null;
                if (t.logprobs() != null) {
                    lp = JSON.createObjectNode();
                    if (chat) {
                        lp.putArray("content").add(lpContent[t.choice()].get(before));
                    } else {
                        int k = lpTokens[t.choice()].size() - 1;
                        lp.putArray("tokens").add(lpTokens[t.choice()].get(k));
                        lp.putArray("token_logprobs").add(lpValues[t.choice()].get(k));
                        lp.putArray("top_logprobs").add(lpTop[t.choice()].get(k));
                        lp.putArray("text_offset").add(lpOffsets[t.choice()].get(k));
                    }
                }
                out.add(delta(t.choice(), t.text(), lp, null, includeUsage));
            }
        } else if (e instanceof OpenAiServer.Events.Finish f) {
            accept(e);
            if (!f.text().isEmpty()) {
                out.add(delta(f.choice(), f.text(), null, null, includeUsage));
            }
            out.add(delta(f.choice(), null, null, f.reason(), includeUsage));
        } else if (e instanceof OpenAiServer.Events.Complete c) {
            accept(e);
            if (includeUsage) {
                ObjectNode chunk = chunkHeader();
                chunk.putArray("choices");
                chunk.set("usage", usageJson());
                out.add(chunk);
            }
        }
        return out;
    }

    private ObjectNode delta(int choice, String content, ObjectNode lp, String reason, boolean includeUsage) {
        ObjectNode chunk = chunkHeader();
        ObjectNode c = chunk.putArray("choices").addObject().put("index", choice);
        if (chat) {
            ObjectNode d = c.putObject("delta");
            if (content != null) {
                d.put("content", content);
            }
        } else {
            c.put("text", content == null ? "" : content);
        }
        if (lp == null) {
            c.putNull("logprobs");
        } else {
            c.set("logprobs", lp);
        }
        if (reason == null) {
            c.putNull("finish_reason");
        } else {
            c.put("finish_reason", reason);
        }
        if (includeUsage) {
            chunk.putNull("usage");
        }
        return chunk;
    }

    private ObjectNode chunkHeader() {
        return header(chat ? "chat.completion.chunk" : "text_completion");
    }

    private ObjectNode header(String object) {
        return JSON.createObjectNode().put("id", id).put("object", object).put("created", created).put("model", model);
    }

    private ObjectNode usageJson() {
        ObjectNode u = JSON.createObjectNode().put("prompt_tokens", usage.promptTokens())
                .put("completion_tokens", usage.completionTokens()).put("total_tokens", usage.totalTokens());
        u.putObject("prompt_tokens_details").put("cached_tokens", usage.cachedPromptTokens());
        return u;
    }

    private void addLogprobs(int choice, int token, CompletionListener.TokenLogprobs lp) {
        String tok = piece(token);
        if (chat) {
            ObjectNode entry = entry(tok, lp.logprob());
            ArrayNode top = entry.putArray("top_logprobs");
            for (int k = 0; k < lp.topIds().length; k++) {
                top.add(entry(piece(lp.topIds()[k]), lp.topLogprobs()[k]));
            }
            lpContent[choice].add(entry);
        } else {
            lpOffsets[choice].add(text[choice].length());
            lpTokens[choice].add(tok);
            lpValues[choice].add(lp.logprob());
            ObjectNode top = JSON.createObjectNode();
            for (int k = 0; k < lp.topIds().length; k++) {
                top.put(piece(lp.topIds()[k]), lp.topLogprobs()[k]);
            }
            lpTop[choice].add(top);
        }
    }

    private ObjectNode logprobsOf(int choice) {
        ObjectNode lp = JSON.createObjectNode();
        if (chat) {
            lp.set("content", lpContent[choice]);
        } else {
            lp.set("tokens", lpTokens[choice]);
            lp.set("token_logprobs", lpValues[choice]);
            lp.set("top_logprobs", lpTop[choice]);
            lp.set("text_offset", lpOffsets[choice]);
        }
        return lp;
    }

    private static ObjectNode entry(String token, float logprob) {
        ObjectNode e = JSON.createObjectNode().put("token", token).put("logprob", logprob);
        ArrayNode bytes = e.putArray("bytes");
        for (byte b : token.getBytes(StandardCharsets.UTF_8)) {
            bytes.add(b & 0xff);
        }
        return e;
    }

    /** A token's own text (special tokens included); empty for an id past the tokenizer (embedding padding). */
    private String piece(int token) {
        return token > tokenizer.maxTokenId() ? "" : tokenizer.decode(new int[] {token}, false);
    }
}
