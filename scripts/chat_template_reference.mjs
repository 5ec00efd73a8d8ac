// Expected renders of test-data/chat-templates/*.jinja, computed by @huggingface/jinja (the Jinja engine of
// transformers.js), so attnrt's Java rendering is compared with an independent implementation.
//
//   npm install @huggingface/jinja && node scripts/chat_template_reference.mjs
//
// Writes test-data/chat-templates/expected.json.
import { createRequire } from "node:module";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(join(process.cwd(), "package.json"));
const { Template } = require("@huggingface/jinja");
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "test-data", "chat-templates");

const CONVERSATIONS = [
  [{ role: "user", content: "Hello!" }],
  [{ role: "system", content: "Answer in one word." }, { role: "user", content: "  Sky colour?  " }],
  [{ role: "user", content: "2+2?" }, { role: "assistant", content: "4" }, { role: "user", content: "And 3+3?" }],
  [{ role: "user", content: "Ünïcödé 東京 🙂\nsecond line" }],
  [{ role: "user", content: "one" }, { role: "user", content: "two in a row" }],
];
const SPECIALS = { bos_token: "<s>", eos_token: "</s>" };

const out = { generator: "scripts/chat_template_reference.mjs", specials: SPECIALS, conversations: CONVERSATIONS, renders: {} };
for (const file of readdirSync(root).filter((f) => f.endsWith(".jinja")).sort()) {
  const template = new Template(readFileSync(join(root, file), "utf8"));
  out.renders[file] = [];
  for (const messages of CONVERSATIONS) {
    for (const addGenerationPrompt of [true, false]) {
      let text = null, error = null;
      try {
        // raise_exception is one of the engine's globals, as in transformers
        text = template.render({ messages, add_generation_prompt: addGenerationPrompt, ...SPECIALS });
      } catch (e) {
        error = String(e.message);
      }
      out.renders[file].push({ addGenerationPrompt, text, error });
    }
  }
}
writeFileSync(join(root, "expected.json"), JSON.stringify(out, null, 1) + "\n");
console.log("wrote test-data/chat-templates/expected.json");
