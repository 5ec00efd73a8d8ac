#!/usr/bin/env python3
"""Writes test-data/gguf/vocab-llama2.gguf: a vocab-only GGUF v3 (no tensors) holding the Llama 2 tokenizer
(test-data/tokenizers/families/llama2/tokenizer.json.gz) as llama.cpp's convert_hf_to_gguf.py writes a
SentencePiece vocabulary: tokenizer.ggml.model "llama", pre "default", the 32000 pieces in id order, scores,
token types (unknown 2 for <unk>, control 3 for <s> </s>, byte 6 for <0xNN>, else normal 1), bos 1, eos 2,
unk 0, add_bos_token true, add_eos_token false (tokenizer_config.json).

The tokenizer.json has no SentencePiece scores, only the merges HF derived from them, so the scores are
derived exactly as GgufTokenizerTest.llamaMetadata() does: a normal piece scores minus the rank of the first
merge that makes it (minus (number of merges + id) if none does), byte / unknown / control pieces 0 — so Java
and llama.cpp read identical metadata.

llama.cpp needs no llama.* key to load a file vocab_only: llama_model::load_hparams returns right after
general.name when vocab_only (found by trying each key, then read in llama-model.cpp), so the file holds
general.architecture / name / alignment and the tokenizer keys only. (node-llama-cpp's memory estimate, a full
load it runs first, then logs "key not found in model: llama.context_length" and falls back to a heuristic.)

python3 (stdlib; the GGUF writer is make_test_gguf.py's, which needs numpy). Deterministic output.

    python3 scripts/make_gguf_vocab.py [--out test-data/gguf/vocab-llama2.gguf]
"""

import argparse
import gzip
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_test_gguf import (GGUF_ARRAY, GGUF_BOOL, GGUF_FLOAT32, GGUF_INT32, GGUF_STRING,  # noqa: E402
                            GGUF_UINT32, gguf_bytes)

REPO = os.path.dirname(HERE)
SOURCE = os.path.join(REPO, "test-data", "tokenizers", "families", "llama2", "tokenizer.json.gz")
BYTE_PIECE = re.compile(r"<0x[0-9A-F]{2}>")


def llama2_vocab(tj):
    """(tokens, scores, token types), as GgufTokenizerTest.llamaMetadata() builds them."""
    vocab = tj["model"]["vocab"]
    by_id = [None] * len(vocab)
    for piece, i in vocab.items():
        by_id[i] = piece
    for t in tj["added_tokens"]:
        by_id[t["id"]] = t["content"]
    tokens = [t if t is not None else f"[PAD{i}]" for i, t in enumerate(by_id)]
    merges = [" ".join(m) if isinstance(m, list) else m for m in tj["model"]["merges"]]
    first_rank = {}
    for r, m in enumerate(merges):
        first_rank.setdefault(m.replace(" ", ""), r)
    scores, types = [], []
    for i, t in enumerate(tokens):
        ttype = 2 if i == 0 else 3 if i in (1, 2) else 6 if BYTE_PIECE.fullmatch(t) else 1
        types.append(ttype)
        rank = first_rank.get(t)
        scores.append(0.0 if ttype != 1 else float(-rank) if rank is not None else -float(len(merges) + i))
    return tokens, scores, types


def metadata(tokens, scores, types):
    return [
        ("general.architecture", GGUF_STRING, "llama"),
        ("general.name", GGUF_STRING, "vocab-llama2"),
        ("general.alignment", GGUF_UINT32, 32),
        ("tokenizer.ggml.model", GGUF_STRING, "llama"),
        ("tokenizer.ggml.pre", GGUF_STRING, "default"),
        ("tokenizer.ggml.tokens", GGUF_ARRAY, (GGUF_STRING, tokens)),
        ("tokenizer.ggml.scores", GGUF_ARRAY, (GGUF_FLOAT32, scores)),
        ("tokenizer.ggml.token_type", GGUF_ARRAY, (GGUF_INT32, types)),
        ("tokenizer.ggml.bos_token_id", GGUF_UINT32, 1),
        ("tokenizer.ggml.eos_token_id", GGUF_UINT32, 2),
        ("tokenizer.ggml.unknown_token_id", GGUF_UINT32, 0),
        ("tokenizer.ggml.add_bos_token", GGUF_BOOL, True),
        ("tokenizer.ggml.add_eos_token", GGUF_BOOL, False),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "test-data", "gguf", "vocab-llama2.gguf"))
    args = ap.parse_args()
    with gzip.open(SOURCE, "rt", encoding="utf-8") as f:
        tj = json.load(f)
    tokens, scores, types = llama2_vocab(tj)
    assert len(tokens) == 32000 and tokens[:3] == ["<unk>", "<s>", "</s>"], tokens[:3]
    assert types.count(6) == 256, types.count(6)
    data = gguf_bytes(metadata(tokens, scores, types), [])
    with open(args.out, "wb") as f:
        f.write(data)
    print(f"{args.out}: {len(data)} bytes, {len(tokens)} tokens")


if __name__ == "__main__":
    main()
