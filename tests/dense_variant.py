#!/usr/bin/env python3
# dense_variant.py: builds checkpoint variants of the dense tiny fixtures (Qwen2, Llama,
# Qwen3) for tests/e2e_dense_shapes.sh, and compares `ponder logits` outputs. Standard
# library only (CI has no numpy): tensors stay raw bytes, BF16 rows are sliced and
# repeated as they are, so every variant is exact, not re-rounded.
#
#   dense_variant.py build SRC DST [--single] [--set KEY=JSON] [--unset KEY]
#                    [--tie-copy] [--drop REGEX] [--kv-heads N] [--add-bias PROJ]
#   dense_variant.py cmp A.json B.json (--exact | --rel TOL | --differ)
#
# build reads SRC (model.safetensors.index.json and its shards, or one model.safetensors)
# and writes DST: config.json (edited), generation_config.json (copied), and the tensors,
# either in SRC's shards with a fresh index or, with --single, all in one
# model.safetensors with no index. Edits, in this order:
#   --drop REGEX     remove every tensor whose name matches (re.search)
#   --tie-copy       lm_head.weight := a copy of model.embed_tokens.weight
#   --kv-heads N     k_proj/v_proj weights and biases := kv head 0's rows repeated N
#                    times; config num_key_value_heads := N
#   --add-bias PROJ  add a zero BF16 self_attn.PROJ.bias (one entry per weight row) to
#                    every layer
#   --set/--unset    edit config.json last, so they override what the edits above set
# cmp reads the {"logits": [[...], ...]} objects and exits 0 when the condition holds:
# --exact every number equal; --rel every row's max|a-b| / max|b| <= TOL; --differ some
# number differs. It prints one line saying what it measured.
import json
import os
import re
import struct
import sys

DTYPE_BYTES = {"BF16": 2, "F16": 2, "F32": 4, "F8_E4M3": 1, "I64": 8, "I32": 4}


def die(msg):
    sys.stderr.write("dense_variant: %s\n" % msg)
    sys.exit(2)


def read_shard(path):
    with open(path, "rb") as f:
        b = f.read()
    (n,) = struct.unpack("<Q", b[:8])
    head = json.loads(b[8:8 + n])
    out = []
    for name, t in head.items():
        if name == "__metadata__":
            continue
        s, e = t["data_offsets"]
        out.append((name, t["dtype"], list(t["shape"]), b[8 + n + s:8 + n + e]))
    return out


def write_shard(path, tensors):
    head, off = {"__metadata__": {"format": "pt"}}, 0
    for name, dtype, shape, data in tensors:
        head[name] = {"dtype": dtype, "shape": shape,
                      "data_offsets": [off, off + len(data)]}
        off += len(data)
    h = json.dumps(head, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)  # as Hugging Face pads: the data starts 8-aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for t in tensors:
            f.write(t[3])


def load(src):
    """[(shard file, [(name, dtype, shape, bytes)])] in SRC's order."""
    idx = os.path.join(src, "model.safetensors.index.json")
    if os.path.exists(idx):
        files = []
        for f in json.load(open(idx))["weight_map"].values():
            if f not in files:
                files.append(f)
    else:
        files = ["model.safetensors"]
    return [(f, read_shard(os.path.join(src, f))) for f in sorted(files)]


def find(shards, name):
    for _, ts in shards:
        for i, t in enumerate(ts):
            if t[0] == name:
                return ts, i
    return None, None


def build(args):
    src, dst = args[0], args[1]
    single, sets, unsets, drops, tie, kv, biases = False, [], [], [], False, None, []
    i = 2
    while i < len(args):
        a = args[i]
        if a == "--single":
            single = True
        elif a == "--tie-copy":
            tie = True
        elif a in ("--set", "--unset", "--drop", "--kv-heads", "--add-bias"):
            if i + 1 >= len(args):
                die("%s needs a value" % a)
            v = args[i + 1]
            i += 1
            if a == "--set":
                k, _, j = v.partition("=")
                sets.append((k, json.loads(j)))
            elif a == "--unset":
                unsets.append(v)
            elif a == "--drop":
                drops.append(re.compile(v))
            elif a == "--kv-heads":
                kv = int(v)
            else:
                biases.append(v)
        else:
            die("unknown argument %s" % a)
        i += 1

    cfg = json.load(open(os.path.join(src, "config.json")))
    shards = load(src)
    for r in drops:
        shards = [(f, [t for t in ts if not r.search(t[0])]) for f, ts in shards]
    if tie:
        ets, ei = find(shards, "model.embed_tokens.weight")
        hts, hi = find(shards, "lm_head.weight")
        if ets is None or hts is None:
            die("--tie-copy needs both model.embed_tokens.weight and lm_head.weight")
        hts[hi] = ("lm_head.weight",) + tuple(ets[ei][1:])
    if kv is not None:
        hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
        for _, ts in shards:
            for j, (name, dtype, shape, data) in enumerate(ts):
                if not re.search(r"self_attn\.[kv]_proj\.(weight|bias)$", name):
                    continue
                row = len(data) // shape[0]  # bytes per output row
                head0 = data[:hd * row]
                ts[j] = (name, dtype, [kv * hd] + shape[1:], head0 * kv)
        cfg["num_key_value_heads"] = kv
    for proj in biases:
        for _, ts in shards:
            for name, dtype, shape, _ in list(ts):
                m = re.match(r"(model\.layers\.\d+\.self_attn\.%s)\.weight$" % re.escape(proj),
                             name)
                if m:
                    ts.append((m.group(1) + ".bias", "BF16", [shape[0]],
                               b"\0" * (2 * shape[0])))
    for k, v in sets:
        cfg[k] = v
    for k in unsets:
        cfg.pop(k, None)

    os.makedirs(dst, exist_ok=True)
    with open(os.path.join(dst, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    gen = os.path.join(src, "generation_config.json")
    if os.path.exists(gen):
        with open(gen) as f, open(os.path.join(dst, "generation_config.json"), "w") as g:
            g.write(f.read())
    if single:
        write_shard(os.path.join(dst, "model.safetensors"),
                    [t for _, ts in shards for t in ts])
        return
    wmap, total = {}, 0
    for f, ts in shards:
        write_shard(os.path.join(dst, f), ts)
        for t in ts:
            wmap[t[0]] = f
            total += len(t[3])
    with open(os.path.join(dst, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": wmap}, f, indent=2)


def logits(path):
    try:
        rows = json.load(open(path))["logits"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        die("%s: no logits (%s)" % (path, e))
    return [[float(x) for x in r] for r in rows]


def cmp(args):
    if len(args) < 3:
        die("cmp A.json B.json (--exact | --rel TOL | --differ)")
    a, b = logits(args[0]), logits(args[1])
    if len(a) != len(b) or any(len(x) != len(y) for x, y in zip(a, b)):
        print("shapes differ: %s vs %s" % ([len(r) for r in a], [len(r) for r in b]))
        return 1
    mode = args[2]
    if mode == "--exact":
        n = sum(x != y for ra, rb in zip(a, b) for x, y in zip(ra, rb))
        print("%d of %d numbers differ" % (n, sum(len(r) for r in a)))
        return 0 if n == 0 else 1
    if mode == "--differ":
        d = max(abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))
        print("max |a-b| %.3g" % d)
        return 0 if d > 0 else 1
    if mode == "--rel" and len(args) > 3:
        tol, worst = float(args[3]), 0.0
        for ra, rb in zip(a, b):
            d = max(abs(x - y) for x, y in zip(ra, rb))
            s = max(abs(y) for y in rb)
            r = d / s if s > 0 else (0.0 if d == 0 else float("inf"))
            worst = max(worst, r)
        print("worst row max|a-b|/max|b| %.3g (tolerance %g)" % (worst, tol))
        return 0 if worst <= tol else 1
    die("cmp: unknown mode %s" % " ".join(args[2:]))


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("build", "cmp"):
        die("usage: dense_variant.py build SRC DST [edits] | cmp A B MODE")
    if sys.argv[1] == "build":
        if len(sys.argv) < 4:
            die("build SRC DST [edits]")
        build(sys.argv[2:])
    else:
        sys.exit(cmp(sys.argv[2:]))
