package io.attnrt.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code chat_template} of a model's tokenizer_config.json, rendered as transformers renders it: Jinja with
 * trim_blocks and lstrip_blocks, the variables {@code messages}, {@code add_generation_prompt},
 * {@code bos_token} and {@code eos_token}, and the functions {@code raise_exception(message)} and
 * {@code strftime_now(format)}. A template the engine cannot render fails with its error, naming the file
 * and the construct.
 */
public final class ChatTemplate {
    /** One turn of a conversation: role system, user or assistant. */
    public record Message(String role, String content) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String template;
    private final String source;
    private final String bosToken;
    private final String eosToken;
    private final Jinjava jinja;

    public ChatTemplate(String template, String source, String bosToken, String eosToken) {
        this.template = stripAroundExpressions(template);
        this.source = source;
        this.bosToken = bosToken == null ? "" : bosToken;
        this.eosToken = eosToken == null ? "" : eosToken;
        this.jinja = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true)
                .withFailOnUnknownTokens(false).build());
        jinja.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class,
                "raiseException", String.class));
        jinja.getGlobalContext().registerFunction(new ELFunctionDefinition("", "strftime_now", ChatTemplate.class,
                "strftimeNow", String.class));
    }

    /**
     * Applies the whitespace control of {@code {{-} and {@code -}}} to the template text itself. Jinjava honours
     * it for statements but not for expressions after an indented line (it keeps the indentation that
     * {@code {{- ... }}} should remove), and chat templates are written in exactly that style; the whitespace
     * removed is template text, so the result is what Jinja renders.
     */
    static String stripAroundExpressions(String template) {
        return template.replaceAll("\\s+\\{\\{-", "{{-").replaceAll("-}}\\s+", "-}}");
    }

    /** The template of {@code dir}/tokenizer_config.json, or null when it has none. */
    public static ChatTemplate fromModelDir(Path dir) {
        Path file = dir.resolve("tokenizer_config.json");
        if (!Files.isRegularFile(file)) {
            return null;
        }
        JsonNode config;
        try {
            config = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot parse " + file + ": " + e.getMessage(), e);
        }
        JsonNode t = config.get("chat_template");
        String text = null;
        if (t != null && t.isTextual()) {
            text = t.asText();
        } else if (t != null && t.isArray()) { // named templates: the "default" one
            for (JsonNode named : t) {
                if ("default".equals(named.path("name").asText()) && named.path("template").isTextual()) {
                    text = named.get("template").asText();
                }
            }
        }
        if (text == null) {
            return null;
        }
        return new ChatTemplate(text, file + " chat_template", token(config.get("bos_token")),
                token(config.get("eos_token")));
    }

    /**
     * A template that comes as text rather than in a model directory (a GGUF file's {@code tokenizer.chat_template}),
     * with the BOS and EOS token texts it may print (null: empty); errors name {@code source}.
     */
    public static ChatTemplate fromString(String template, String source, String bosToken, String eosToken) {
        if (template == null) {
            throw new IllegalArgumentException(source + ": no chat template text");
        }
        return new ChatTemplate(template, source, bosToken, eosToken);
    }

    private static String token(JsonNode n) {
        return n == null || n.isNull() ? null : n.isTextual() ? n.asText() : n.path("content").asText(null);
    }

    /** The prompt text of a conversation, ending with the assistant's header when {@code addGenerationPrompt}. */
    public String render(List<Message> messages, boolean addGenerationPrompt) {
        List<Map<String, Object>> msgs = new ArrayList<>();
        for (Message m : messages) {
            Map<String, Object> one = new LinkedHashMap<>();
            one.put("role", m.role());
            one.put("content", m.content());
            msgs.add(one);
        }
        Map<String, Object> vars = new HashMap<>();
        vars.put("messages", msgs);
        vars.put("add_generation_prompt", addGenerationPrompt);
        vars.put("bos_token", bosToken);
        vars.put("eos_token", eosToken);
        RenderResult r = jinja.renderForResult(template, vars);
        for (TemplateError e : r.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new IllegalArgumentException(source + " cannot be rendered" + (e.getLineno() > 0
                        ? " (line " + e.getLineno() + ")" : "") + ": " + describe(e));
            }
        }
        return r.getOutput();
    }

    private static String describe(TemplateError e) {
        Throwable t = e.getException();
        while (t != null && t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        if (t instanceof TemplateRaised raised) {
            return "the template raised: " + raised.getMessage();
        }
        return e.getMessage() + (e.getFieldName() != null ? " [" + e.getFieldName() + "]" : "");
    }

    /** {@code raise_exception(message)}: a template's own refusal (e.g. roles that do not alternate). */
    public static String raiseException(String message) {
        throw new TemplateRaised(message);
    }

    /** {@code strftime_now(format)}: today's date for templates that print it (Llama 3.1); common codes only. */
    public static String strftimeNow(String format) {
        String pattern = format.replace("%d", "dd").replace("%b", "MMM").replace("%B", "MMMM").replace("%Y", "yyyy")
                .replace("%m", "MM").replace("%H", "HH").replace("%M", "mm").replace("%S", "ss");
        return LocalDateTime.now().format(DateTimeFormatter.ofPattern(pattern, java.util.Locale.ROOT));
    }

    private static final class TemplateRaised extends RuntimeException {
        TemplateRaised(String message) {
            super(message);
        }
    }
}
