"""Build models/demo/tokenizer.json and tokenizer_config.json.

Learns byte-level BPE merges on text from data.py (fixed seed), never merging digits or
newlines, until the vocabulary (specials + 256 bytes + merges) reaches --vocab ids. The
chat template is DeepSeek-R1's (the format ponder's renderer detects), read from the
shared fixture when present, else from the copy embedded in models/demo.

Usage: /usr/bin/python3 tools/demo/make_tokenizer.py [--out models/demo] [--vocab 512]
"""
import argparse
import collections
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import tok  # noqa: E402

R1_CONFIG = "/work/shared/fixtures/tokenizer/deepseek-r1/tokenizer_config.json"


def corpus_pieces(n, seed):
    """Frequency of every digit/newline-free piece of the training-like text."""
    rng = random.Random(seed)
    cnt = collections.Counter()
    for _ in range(n):
        _, hist, q, reas, ans = data.example(rng)
        for text in [q, reas + "\n", "\n\n" + ans] + [t for turn in hist for t in turn]:
            for piece in tok._SPLIT.split(text):
                if piece and piece not in "0123456789\n":
                    cnt[tok.to_symbols(piece)] += 1
    return cnt


def learn_merges(pieces, n_merges):
    words = {w: list(w) for w in pieces}
    merges = []
    for _ in range(n_merges):
        pairs = collections.Counter()
        for w, parts in words.items():
            f = pieces[w]
            for a, b in zip(parts, parts[1:]):
                pairs[(a, b)] += f
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], [-ord(c) for c in kv[0][0] + "\0" + kv[0][1]]))
        (a, b), c = best
        if c < 2:
            break
        merges.append((a, b))
        for w, parts in words.items():
            out, i = [], 0
            while i < len(parts):
                if i < len(parts) - 1 and parts[i] == a and parts[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(parts[i])
                    i += 1
            words[w] = out
    return merges


def tokenizer_json(vocab, merges):
    added = [{"id": vocab[s], "content": s, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": tok.SPECIAL_FLAG[s]}
             for s in tok.SPECIALS]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False,
                          "trim_offsets": True, "use_regex": False},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True,
                           "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True,
                    "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }


def chat_template(out_dir):
    for p in (R1_CONFIG, os.path.join(out_dir, "tokenizer_config.json")):
        if os.path.exists(p):
            with open(p, encoding="utf-8") as f:
                return json.load(f)["chat_template"]
    raise SystemExit("no R1 chat template found (need the shared fixture or an existing models/demo)")


def tokenizer_config(template):
    def tokd(s):
        return {"__type": "AddedToken", "content": s, "lstrip": False, "normalized": False,
                "rstrip": False, "single_word": False}
    return {
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": tokd(tok.BOS),
        "eos_token": tokd(tok.EOS),
        "pad_token": tokd(tok.EOS),
        "clean_up_tokenization_spaces": False,
        "legacy": True,
        "model_max_length": 4096,
        "sp_model_kwargs": {},
        "unk_token": None,
        "tokenizer_class": "LlamaTokenizerFast",
        "chat_template": template,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="models/demo")
    ap.add_argument("--vocab", type=int, default=512)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--examples", type=int, default=4000)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    template = chat_template(a.out)
    vocab = tok.base_vocab()
    pieces = corpus_pieces(a.examples, a.seed)
    merges = learn_merges(pieces, a.vocab - len(vocab))
    for x, y in merges:
        vocab[x + y] = len(vocab)
    with open(os.path.join(a.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(vocab, merges), f, ensure_ascii=False, indent=1)
    with open(os.path.join(a.out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_config(template), f, ensure_ascii=False, indent=2)
    print(f"vocab {len(vocab)} ({len(merges)} merges) -> {a.out}")


if __name__ == "__main__":
    main()
