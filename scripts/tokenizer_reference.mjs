// Expected encodings of the test tokenizers (test-data/tokenizers/*/tokenizer.json), computed by Hugging
// Face's tokenizers library itself through its Node binding, so that attnrt's tokenizer tests compare with
// the real implementation rather than with a re-implementation.
//
//   npm install tokenizers && node scripts/tokenizer_reference.mjs
//
// Writes test-data/tokenizers/expected.json.
import { createRequire } from "node:module";
import { readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(join(process.cwd(), "package.json"));
const { Tokenizer } = require("tokenizers");
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "test-data", "tokenizers");

const TEXTS = [
  "Hello world",
  "The quick brown fox jumps over the lazy dog.",
  "  leading spaces, trailing   ",
  "numbers 1234567 and 2024-12-03",
  "Über naïve café — 東京 🙂🚀 unseen: ß Ω 𝔘",
  "line one\nline two\n\n\ttabbed",
  "<|begin_of_text|>a special token in text<|eot_id|>",
  "<s>[INST] sentencepiece specials </s>",
  "don't it's we're I'LL",
  "",
];

const out = { generator: "scripts/tokenizer_reference.mjs", tokenizers: {} };
for (const name of readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
  const tok = Tokenizer.fromFile(join(root, name, "tokenizer.json"));
  const cases = [];
  for (const text of TEXTS) {
    const withSpecial = await tok.encode(text, null, { addSpecialTokens: true });
    const plain = await tok.encode(text, null, { addSpecialTokens: false });
    const ids = plain.getIds();
    cases.push({
      text,
      ids_with_special_tokens: withSpecial.getIds(),
      ids,
      tokens: plain.getTokens(),
      decoded: await tok.decode(ids, false),
    });
  }
  out.tokenizers[name] = cases;
}
writeFileSync(join(root, "expected.json"), JSON.stringify(out, null, 1) + "\n");
console.log("wrote test-data/tokenizers/expected.json");
