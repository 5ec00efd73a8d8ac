#!/usr/bin/env python3
"""Writes two small tokenizers in Hugging Face's tokenizer.json format into test-data/tokenizers/, one of each
kind the supported model families use, with merges learned deterministically from a fixed corpus:

  byte-level-bpe/    Llama 3 / Qwen2 style: the Llama 3 pre-tokenizer regex, GPT-2 byte-to-unicode map,
                     BPE, special tokens <|begin_of_text|> <|end_of_text|> <|eot_id|>, BOS added by the
                     post-processor.
  bytes-256/         byte-level with one token per byte, id = byte value and nothing else: the tokenizer of the
                     byte-level test models (vocab 256), for end-to-end text runs.
  sentencepiece-bpe/ Llama 2 / Mistral style: "▁" for spaces (prepended), BPE with byte fallback
                     (<0x00>..<0xFF>), <unk> <s> </s>, BOS added by the post-processor.

Each folder also gets tokenizer_config.json and special_tokens_map.json as the Hub writes them. The expected
encodings (test-data/tokenizers/expected.json) come from Hugging Face's own tokenizers library, through its
Node binding: node scripts/tokenizer_reference.mjs (after npm install tokenizers).

python3 only, no packages.
"""
import json
import os
import re
from collections import Counter

CORPUS = """The quick brown fox jumps over the lazy dog. Once upon a time, in a far land, there lived a
tokenizer that split every word into pieces. Hello hello HELLO world, the world is wide; 12345 and 2024.
Attention is all you need: softmax(QK^T / sqrt(d)) V. Über naïve café — 東京 and 北京, emoji 🙂🚀.
def forward(x): return x + 1  # code\n\tindented\n\nnew paragraph   with   spaces
""" * 3

LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def learn_merges(words, base_vocab, count):
    """Plain BPE training: repeatedly merge the most frequent adjacent pair (ties by the pair's text)."""
    seqs = Counter(tuple(w) for w in words)
    vocab = dict(base_vocab)
    merges = []
    for _ in range(count):
        pairs = Counter()
        for seq, freq in seqs.items():
            for a, b in zip(seq, seq[1:]):
                pairs[(a, b)] += freq
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        if pairs[best] < 2:
            break
        merged = best[0] + best[1]
        merges.append(f"{best[0]} {best[1]}")
        vocab.setdefault(merged, len(vocab))
        new = Counter()
        for seq, freq in seqs.items():
            out, i = [], 0
            while i < len(seq):
                if i + 1 < len(seq) and (seq[i], seq[i + 1]) == best:
                    out.append(merged)
                    i += 2
                else:
                    out.append(seq[i])
                    i += 1
            new[tuple(out)] += freq
        seqs = new
    return vocab, merges


def added(id_, content, special=True):
    return {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": special}


def byte_level(out):
    b2u = bytes_to_unicode()
    base = {b2u[b]: i for i, b in enumerate(range(256))}
    # a rough stand-in for the regex split: words with their leading space, as the pre-tokenizer makes them
    words = ["".join(b2u[b] for b in w.encode("utf-8")) for w in re.findall(r" ?\w+| ?[^\w\s]+|\s+", CORPUS)]
    vocab, merges = learn_merges(words, base, 300)
    n = len(vocab)
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added(n + i, s) for i, s in enumerate(specials)],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_SPLIT}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": specials[0], "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": specials[0], "type_id": 0}},
                                    {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": specials[0], "type_id": 1}},
                                    {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {specials[0]: {"id": specials[0], "ids": [n], "tokens": [specials[0]]}}},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                  "vocab": vocab, "merges": merges},
    }
    config = {"bos_token": specials[0], "eos_token": specials[2], "clean_up_tokenization_spaces": True,
              "model_max_length": 131072, "tokenizer_class": "PreTrainedTokenizerFast",
              "added_tokens_decoder": {str(n + i): {k: v for k, v in added(n + i, s).items() if k != "id"}
                                       for i, s in enumerate(specials)}}
    write(out, "byte-level-bpe", tok, config, {"bos_token": specials[0], "eos_token": specials[2]})


def bytes_256(out):
    b2u = bytes_to_unicode()
    tok = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {b2u[b]: b for b in range(256)}, "merges": []},
    }
    write(out, "bytes-256", tok, {"tokenizer_class": "PreTrainedTokenizerFast"}, {})


def sentencepiece(out):
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    # pieces from the ASCII letters and punctuation of the corpus; anything else falls back to bytes
    chars = sorted({c for c in CORPUS.replace(" ", "▁") if c.isascii() and c.isprintable()} | {"▁"})
    for c in chars:
        vocab.setdefault(c, len(vocab))
    words = ["▁" + w for w in CORPUS.split()]
    words = [[c for c in w if c in vocab] for w in words]
    vocab, merges = learn_merges(words, vocab, 250)
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added(0, "<unk>"), added(1, "<s>"), added(2, "</s>")],
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                                                           {"type": "Replace", "pattern": {"String": " "},
                                                            "content": "▁"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                    {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": "<s>", "type_id": 1}},
                                    {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                                                     {"type": "ByteFallback"}, {"type": "Fuse"},
                                                     {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }
    config = {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
              "unk_token": "<unk>", "legacy": False, "model_max_length": 4096, "tokenizer_class": "LlamaTokenizer"}
    write(out, "sentencepiece-bpe", tok, config, {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"})


def write(out, name, tok, config, special_map):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    for file, obj in (("tokenizer.json", tok), ("tokenizer_config.json", config),
                      ("special_tokens_map.json", special_map)):
        with open(os.path.join(d, file), "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=1 if file != "tokenizer.json" else None)
            f.write("\n")
    print(f"wrote {os.path.relpath(d)} ({len(tok['model']['vocab'])} pieces, {len(tok['model']['merges'])} merges)")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.path.join(root, "test-data", "tokenizers")
    byte_level(out)
    bytes_256(out)
    sentencepiece(out)


if __name__ == "__main__":
    main()
