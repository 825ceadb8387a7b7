#!/usr/bin/python3
"""peer_dense_gguf.py: a dense Hugging Face checkpoint as a GGUF for the llama.cpp peer.

    /usr/bin/python3 tools/peer_dense_gguf.py HF_DIR OUT.gguf [--outtype q8_0|f16|f32]

Converts a Qwen2ForCausalLM, LlamaForCausalLM or Qwen3ForCausalLM checkpoint (the
DeepSeek-R1 distills; tools/synth-checkpoint --shape qwen2-1.5b|qwen2-7b|llama3-8b|qwen3-8b
writes them) into the GGUF that the llama.cpp release bundled with node-llama-cpp 3.22.1
loads as general.architecture qwen2, llama or qwen3. It is an instrument for
tools/peer_bench.py, not part of ponder. Needs numpy (apt-get install python3-numpy; hence
/usr/bin/python3) and reuses the safetensors reader, FP8 dequantisation, Q8_0 encoder,
GGUF writer and minimal vocabulary of ../shared/peer/llama.cpp/hf2gguf.py (the DeepSeek
converter; PEER_SRC names another folder holding it).

What follows llama.cpp's own converter (convert_hf_to_gguf.py of that release:
conversion/base.py TextModel, llama.py LlamaModel, qwen.py Qwen2Model / Qwen3Model):
- BF16/F16 weights are widened to float32, FP8 e4m3 ones dequantised with their
  weight_scale_inv blocks (quantization_config.weight_block_size), then written as
  --outtype: q8_0 (default) quantises every 2-D .weight, the embeddings and the output
  head included (F16 where a row is not a multiple of 32); norms, biases and rope_freqs
  stay F32. f16 and f32 are for checking against reference logits.
- llama: q_proj/k_proj rows (and biases) are permuted from Hugging Face's rotate_half
  order to the interleaved pairs that llama.cpp's NORM rope expects (LlamaModel.permute);
  llama3 rope scaling becomes the rope_freqs tensor of per-frequency divisors
  (LlamaModel.generate_extra_tensors). qwen2/qwen3 use NEOX rope: rows go as they are.
- qwen3: YaRN writes rope.scaling.{type,factor,original_context_length} (and
  yarn_attn_factor from attn_factor, which llama.cpp, like Hugging Face, then ignores:
  the cos/sin factor is 0.1*ln(factor)+1); head_dim becomes attention.key_length and
  value_length; q_norm/k_norm become attn_q_norm/attn_k_norm.
- tied embeddings (tie_word_embeddings): no output tensor; llama.cpp uses token_embd.
- A tokenizer must be present for the loader: hf2gguf's minimal "gpt2" vocabulary of
  vocab_size entries (ids 0/1 control tokens bos/eos). Feed token ids only.
"""
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PEER_SRC = os.environ.get("PEER_SRC",
                          os.path.join(HERE, "..", "..", "shared", "peer", "llama.cpp"))
sys.path.insert(0, PEER_SRC)
import hf2gguf as h  # noqa: E402  (needs the path above)

ARCHS = {"Qwen2ForCausalLM": "qwen2", "LlamaForCausalLM": "llama", "Qwen3ForCausalLM": "qwen3"}
OUTTYPES = {"f32": (0, h.GGML_F32), "f16": (1, h.GGML_F16), "q8_0": (7, h.GGML_Q8_0)}


def permute(w, n_head):
    """HF rotate_half rows -> llama.cpp interleaved pairs, per head (LlamaModel.permute)."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def llama3_rope_freqs(cfg, head_dim):
    """The rope_freqs divisors for llama3 rope scaling, as LlamaModel computes them."""
    rs = cfg["rope_scaling"]
    base = float(cfg.get("rope_theta", 10000.0))
    freqs = 1.0 / (base ** (np.arange(0, head_dim, 2, dtype=np.float32) / head_dim))
    factor = rs.get("factor", 8.0)
    low, high = rs.get("low_freq_factor", 1.0), rs.get("high_freq_factor", 4.0)
    old_ctx = rs.get("original_max_position_embeddings", 8192)
    out = []
    for f in freqs:
        wavelen = 2 * math.pi / f
        if wavelen < old_ctx / high:
            out.append(1.0)
        elif wavelen > old_ctx / low:
            out.append(factor)
        else:
            smooth = (old_ctx / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.asarray(out, dtype=np.float32)


def rope_kvs(A, cfg):
    """rope.scaling.* keys for yarn and linear; llama3 goes into a tensor instead."""
    rs = cfg.get("rope_scaling") or {}
    kind = rs.get("rope_type", rs.get("type"))
    if kind == "linear":
        return [(f"{A}.rope.scaling.type", h.T_STR, "linear"),
                (f"{A}.rope.scaling.factor", h.T_F32, float(rs["factor"]))]
    if kind != "yarn":
        if kind not in (None, "default", "llama3"):
            sys.exit(f"peer_dense_gguf: rope_scaling type {kind} is not handled")
        return []
    kvs = [(f"{A}.rope.scaling.type", h.T_STR, "yarn"),
           (f"{A}.rope.scaling.factor", h.T_F32, float(rs["factor"])),
           (f"{A}.rope.scaling.original_context_length", h.T_U32,
            int(rs["original_max_position_embeddings"]))]
    attn = rs.get("attention_factor", rs.get("attn_factor"))
    if attn is not None:
        kvs.append((f"{A}.rope.scaling.yarn_attn_factor", h.T_F32, float(attn)))
    for key in ("beta_fast", "beta_slow"):
        if rs.get(key) is not None:
            kvs.append((f"{A}.rope.scaling.yarn_{key}", h.T_F32, float(rs[key])))
    return kvs


def header_kvs(A, cfg, name, ftype, head_dim):
    """general.*, the architecture's hyperparameters and the minimal tokenizer."""
    kvs = [("general.architecture", h.T_STR, A),
           ("general.name", h.T_STR, name),
           (f"{A}.block_count", h.T_U32, cfg["num_hidden_layers"]),
           (f"{A}.context_length", h.T_U32, cfg["max_position_embeddings"]),
           (f"{A}.embedding_length", h.T_U32, cfg["hidden_size"]),
           (f"{A}.feed_forward_length", h.T_U32, cfg["intermediate_size"]),
           (f"{A}.attention.head_count", h.T_U32, cfg["num_attention_heads"]),
           (f"{A}.attention.head_count_kv", h.T_U32,
            cfg.get("num_key_value_heads", cfg["num_attention_heads"])),
           (f"{A}.rope.freq_base", h.T_F32, float(cfg.get("rope_theta", 10000.0))),
           (f"{A}.attention.layer_norm_rms_epsilon", h.T_F32,
            float(cfg.get("rms_norm_eps", 1e-6)))]
    kvs += rope_kvs(A, cfg)
    if "head_dim" in cfg:
        kvs += [(f"{A}.attention.key_length", h.T_U32, head_dim),
                (f"{A}.attention.value_length", h.T_U32, head_dim)]
    kvs.append(("general.file_type", h.T_U32, ftype))
    if A == "llama":
        kvs += [(f"{A}.vocab_size", h.T_U32, cfg["vocab_size"]),
                (f"{A}.rope.dimension_count", h.T_U32, head_dim)]
    toks, types = h.minimal_vocab(cfg["vocab_size"])
    kvs += [("tokenizer.ggml.model", h.T_STR, "gpt2"),
            ("tokenizer.ggml.pre", h.T_STR, "default"),
            ("tokenizer.ggml.tokens", h.T_ARR, (h.T_STR, toks)),
            ("tokenizer.ggml.token_type", h.T_ARR, (h.T_I32, types)),
            ("tokenizer.ggml.merges", h.T_ARR, (h.T_STR, [])),
            ("tokenizer.ggml.bos_token_id", h.T_U32, 0),
            ("tokenizer.ggml.eos_token_id", h.T_U32, 1),
            ("tokenizer.ggml.add_bos_token", h.T_BOOL, False),
            ("tokenizer.ggml.add_eos_token", h.T_BOOL, False)]
    return kvs


def tensor_list(A, cfg, st, wtype, head_dim):
    """(gguf name, numpy shape, ggml type, producer) for every tensor, in file order, and
    the Hugging Face names they come from."""
    H = cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads", H)
    out, used = [], set()

    def qtype(gname, shape):
        if len(shape) < 2 or gname.endswith("_norm.weight") or not gname.endswith(".weight"):
            return h.GGML_F32
        if wtype == h.GGML_Q8_0 and shape[-1] % h.QK8_0:
            return h.GGML_F16  # upstream: a row Q8_0 cannot hold falls back to F16
        return wtype

    def add(gname, hname, n_perm=0):
        shape = st.shape(hname)
        if n_perm:
            def prod(hname=hname, n=n_perm):
                return np.ascontiguousarray(permute(h.load_f32(st, hname), n))
        else:
            def prod(hname=hname):
                return h.load_f32(st, hname)
        out.append((gname, shape, qtype(gname, shape), prod))
        used.add(hname)

    def maybe(gname, hname, n_perm=0):
        if hname in st.meta:
            add(gname, hname, n_perm)

    add("token_embd.weight", "model.embed_tokens.weight")
    if A == "llama" and (cfg.get("rope_scaling") or {}).get("rope_type") == "llama3":
        freqs = llama3_rope_freqs(cfg, head_dim)
        out.append(("rope_freqs.weight", freqs.shape, h.GGML_F32, lambda f=freqs: f))
    permute_q, permute_k = (H, KV) if A == "llama" else (0, 0)
    for i in range(cfg["num_hidden_layers"]):
        p, g = f"model.layers.{i}.", f"blk.{i}."
        add(g + "attn_norm.weight", p + "input_layernorm.weight")
        for x, n_perm in (("q", permute_q), ("k", permute_k), ("v", 0)):
            add(g + f"attn_{x}.weight", p + f"self_attn.{x}_proj.weight", n_perm)
            maybe(g + f"attn_{x}.bias", p + f"self_attn.{x}_proj.bias", n_perm)
        maybe(g + "attn_q_norm.weight", p + "self_attn.q_norm.weight")
        maybe(g + "attn_k_norm.weight", p + "self_attn.k_norm.weight")
        add(g + "attn_output.weight", p + "self_attn.o_proj.weight")
        maybe(g + "attn_output.bias", p + "self_attn.o_proj.bias")
        add(g + "ffn_norm.weight", p + "post_attention_layernorm.weight")
        for x in ("gate", "up", "down"):
            add(g + f"ffn_{x}.weight", p + f"mlp.{x}_proj.weight")
    add("output_norm.weight", "model.norm.weight")
    if not cfg.get("tie_word_embeddings", False):
        add("output.weight", "lm_head.weight")
    return out, used


def convert(hf_dir, out_path, outtype="q8_0"):
    cfg = json.load(open(os.path.join(hf_dir, "config.json")))
    arch = (cfg.get("architectures") or ["?"])[0]
    if arch not in ARCHS:
        sys.exit(f"peer_dense_gguf: {arch} is not a dense family this converts "
                 f"({', '.join(ARCHS)}); DeepSeek checkpoints go through hf2gguf.py")
    A = ARCHS[arch]
    ftype, wtype = OUTTYPES[outtype]
    st = h.SafeTensors(hf_dir)
    qc = cfg.get("quantization_config") or {}
    if qc.get("weight_block_size"):
        st.block = tuple(qc["weight_block_size"])
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    name = os.path.basename(os.path.normpath(hf_dir))
    kvs = header_kvs(A, cfg, name, ftype, head_dim)
    tensors, used = tensor_list(A, cfg, st, wtype, head_dim)
    left = sorted(n for n in st.names() if n not in used and not n.endswith("weight_scale_inv"))
    if left:  # a tensor this does not map would change the model: never drop one silently
        sys.exit(f"peer_dense_gguf: {len(left)} tensors not mapped, e.g. {left[:3]}")
    h.write_gguf(out_path, kvs, tensors)
    print(f"wrote {out_path}: {A}, {len(tensors)} tensors, {os.path.getsize(out_path)} bytes",
          file=sys.stderr)


def main():
    a = sys.argv[1:]
    outtype = "q8_0"
    if "--outtype" in a:
        k = a.index("--outtype")
        if k + 1 >= len(a) or a[k + 1] not in OUTTYPES:
            sys.exit("peer_dense_gguf: --outtype takes q8_0, f16 or f32")
        outtype = a[k + 1]
        del a[k:k + 2]
    if len(a) != 2 or a[0].startswith("-"):
        sys.exit(__doc__)
    convert(a[0], a[1], outtype)


if __name__ == "__main__":
    main()
