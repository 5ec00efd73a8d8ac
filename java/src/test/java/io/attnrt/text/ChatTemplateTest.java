package io.attnrt.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * test-data/chat-templates/*.jinja rendered by attnrt against the renders of @huggingface/jinja, an
 * independent Jinja engine (expected.json, from scripts/chat_template_reference.mjs): ChatML with a default
 * system prompt, Llama 3-style headers with trim, [INST] turns that refuse non-alternating roles.
 */
class ChatTemplateTest {
    static final Path ROOT = Path.of("test-data", "chat-templates");

    @TempDir
    Path tmp;

    @Test
    void rendersAsTheReferenceEngineDoes() throws IOException {
        JsonNode expected = new ObjectMapper().readTree(ROOT.resolve("expected.json").toFile());
        String bos = expected.get("specials").get("bos_token").asText();
        String eos = expected.get("specials").get("eos_token").asText();
        List<List<ChatTemplate.Message>> conversations = new ArrayList<>();
        for (JsonNode c : expected.get("conversations")) {
            List<ChatTemplate.Message> turns = new ArrayList<>();
            c.forEach(m -> turns.add(new ChatTemplate.Message(m.get("role").asText(), m.get("content").asText())));
            conversations.add(turns);
        }
        int checked = 0;
        var files = expected.get("renders").fields();
        while (files.hasNext()) {
            var e = files.next();
            ChatTemplate t = new ChatTemplate(Files.readString(ROOT.resolve(e.getKey())), e.getKey(), bos, eos);
            for (int i = 0; i < e.getValue().size(); i++) {
                JsonNode r = e.getValue().get(i);
                List<ChatTemplate.Message> conversation = conversations.get(i / 2);
                boolean gen = r.get("addGenerationPrompt").asBoolean();
                String what = e.getKey() + " conversation " + (i / 2) + " add_generation_prompt " + gen;
                if (r.get("error").isNull()) {
                    assertEquals(r.get("text").asText(), t.render(conversation, gen), what);
                } else {
                    String message = assertThrows(IllegalArgumentException.class, () -> t.render(conversation, gen),
                            what).getMessage();
                    assertTrue(message.contains(r.get("error").asText()) && message.contains(e.getKey()), message);
                }
                checked++;
            }
        }
        assertEquals(30, checked);
    }

    @Test
    void theTemplateComesFromTokenizerConfigAndBrokenOnesNameTheirError() throws IOException {
        assertNull(ChatTemplate.fromModelDir(tmp));
        Files.writeString(tmp.resolve("tokenizer_config.json"), "{\"bos_token\": {\"content\": \"<B>\"}, "
                + "\"eos_token\": \"<E>\", \"chat_template\": \"{{ bos_token }}{% for m in messages %}"
                + "{{ m.role }}: {{ m.content }}{{ eos_token }}{% endfor %}\"}");
        ChatTemplate t = ChatTemplate.fromModelDir(tmp);
        assertEquals("<B>user: hi<E>", t.render(List.of(new ChatTemplate.Message("user", "hi")), true));

        Files.writeString(tmp.resolve("tokenizer_config.json"), "{\"chat_template\": [{\"name\": \"tool_use\", "
                + "\"template\": \"T\"}, {\"name\": \"default\", \"template\": \"D{{ messages | length }}\"}]}");
        assertEquals("D1", ChatTemplate.fromModelDir(tmp).render(List.of(new ChatTemplate.Message("user", "x")), false));

        ChatTemplate broken = new ChatTemplate("{% for m in messages %}{{ m.content ", "broken.jinja", "", "");
        String message = assertThrows(IllegalArgumentException.class,
                () -> broken.render(List.of(new ChatTemplate.Message("user", "x")), false)).getMessage();
        assertTrue(message.startsWith("broken.jinja cannot be rendered"), message);
    }
}
