"""Byte-level BPE tokenizer for the demo model (reads/writes Hugging Face tokenizer.json).

Layout: ids 0..6 are DeepSeek's special tokens, 7..262 the 256 byte symbols in GPT-2's
bytes_to_unicode order, then the merged tokens in merge order. No merge ever contains a
digit or a newline, so each is its own token and they act as hard boundaries for BPE; the
encoder exploits that by running BPE on the digit-free pieces only (same result as
running it over the whole text, which is what the Hugging Face pre-tokenizer
ByteLevel(use_regex=false) does).

Invariants: vocab ids are contiguous; encode() never parses special-token text (user
text stays plain); the chat helpers build the R1 template token by token.
"""
import json
import re

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
PAD = "<｜▁pad▁｜>"
USER = "<｜User｜>"
ASSISTANT = "<｜Assistant｜>"
THINK = "<think>"
END_THINK = "</think>"
SPECIALS = [BOS, EOS, PAD, USER, ASSISTANT, THINK, END_THINK]
SPECIAL_FLAG = {BOS: True, EOS: True, PAD: True, USER: True, ASSISTANT: True,
                THINK: False, END_THINK: False}


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


B2U = bytes_to_unicode()
U2B = {v: k for k, v in B2U.items()}
# Digits and newlines never take part in a merge: each is always one token.
BARRIER_SYMS = set(B2U[ord(c)] for c in "0123456789\n")
_SPLIT = re.compile(r"([0-9\n])")


def base_vocab():
    vocab = {s: i for i, s in enumerate(SPECIALS)}
    for b in range(256):
        vocab[B2U[b]] = len(vocab)
    return vocab


def to_symbols(text):
    return "".join(B2U[b] for b in text.encode("utf-8"))


def bpe_word(word, ranks, cache):
    """Apply merges (lowest rank first) to one digit-free symbol string."""
    if word in cache:
        return cache[word]
    parts = list(word)
    while len(parts) > 1:
        best, bi = None, -1
        for i in range(len(parts) - 1):
            r = ranks.get((parts[i], parts[i + 1]))
            if r is not None and (best is None or r < best):
                best, bi = r, i
        if best is None:
            break
        a, b = parts[bi], parts[bi + 1]
        out, i = [], 0
        while i < len(parts):
            if i < len(parts) - 1 and parts[i] == a and parts[i + 1] == b:
                out.append(a + b)
                i += 2
            else:
                out.append(parts[i])
                i += 1
        parts = out
    cache[word] = parts
    return parts


class Tokenizer:
    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.inv = {i: s for s, i in vocab.items()}
        self.merges = merges
        self.ranks = {tuple(m): i for i, m in enumerate(merges)}
        self.cache = {}
        self.bos, self.eos = vocab[BOS], vocab[EOS]
        self.user, self.assistant = vocab[USER], vocab[ASSISTANT]
        self.think, self.end_think = vocab[THINK], vocab[END_THINK]
        self.pad = vocab[PAD]

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m)
                  for m in d["model"]["merges"]]
        return cls(d["model"]["vocab"], merges)

    def encode(self, text):
        ids = []
        for piece in _SPLIT.split(text):
            if not piece:
                continue
            for sym in bpe_word(to_symbols(piece), self.ranks, self.cache):
                ids.append(self.vocab[sym])
        return ids

    def decode(self, ids, skip_special=False):
        out = bytearray()
        for i in ids:
            s = self.inv[i]
            if s in SPECIAL_FLAG:
                if not skip_special:
                    out += s.encode("utf-8")
                continue
            out += bytes(U2B[c] for c in s)
        return out.decode("utf-8", errors="replace")

    def prompt_ids(self, question, history=()):
        """R1 template up to and including '<think>\\n' (history: (q, answer) pairs)."""
        ids = [self.bos]
        for q, a in history:
            ids += [self.user] + self.encode(q) + [self.assistant] + self.encode(a) + [self.eos]
        ids += [self.user] + self.encode(question) + [self.assistant, self.think] + self.encode("\n")
        return ids

    def completion_ids(self, reasoning, answer):
        """Everything the assistant writes after '<think>\\n', ending with EOS."""
        return self.encode(reasoning + "\n") + [self.end_think] + self.encode("\n\n" + answer) + [self.eos]
