"""Export the float training checkpoint as a DeepSeek-V3-layout FP8 checkpoint.

Like DeepSeek's own release: every linear layer inside attention and MLP/experts
(q_a_proj, q_b_proj, kv_a_proj_with_mqa, kv_b_proj, o_proj, gate_proj, up_proj,
down_proj) is stored as F8_E4M3 with an F32 `weight_scale_inv` tensor holding one scale
per 128x128 block (scale = block amax / 448, so w ~= q * scale); embeddings, lm_head,
norms, the router gate, eh_proj and the MTP shared head stay BF16; the routing bias
e_score_correction_bias stays F32. The MTP layer (index num_hidden_layers) gets its
own copies of embed_tokens and shared_head.head, as in DeepSeek's files.

Usage: /usr/bin/python3 tools/demo/export.py [--float tools/demo/out/model.pt] [--out models/demo]
Writes config.json and model.safetensors (tokenizer files come from make_tokenizer.py).
"""
import argparse
import json
import os
import re
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stfile  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BLOCK = 128
FP8_RE = re.compile(r"\.(self_attn\.(q_a_proj|q_b_proj|kv_a_proj_with_mqa|kv_b_proj|o_proj)|"
                    r"mlp\.(experts\.\d+\.|shared_experts\.)?(gate_proj|up_proj|down_proj))\.weight$")


def quantize_blocks(w):
    """w float [out, in] -> (e4m3 codes uint8 [out, in], scales f32 [ceil(out/128), ceil(in/128)])."""
    w = np.asarray(w, dtype=np.float64)
    R, C = w.shape
    nr, nc = -(-R // BLOCK), -(-C // BLOCK)
    q = np.zeros((R, C), dtype=np.uint8)
    s = np.zeros((nr, nc), dtype=np.float32)
    for i in range(nr):
        for j in range(nc):
            blk = w[i * BLOCK:(i + 1) * BLOCK, j * BLOCK:(j + 1) * BLOCK]
            amax = float(np.abs(blk).max())
            scale = np.float32(amax / stfile.E4M3_MAX) if amax > 0 else np.float32(1.0)
            s[i, j] = scale
            q[i * BLOCK:(i + 1) * BLOCK, j * BLOCK:(j + 1) * BLOCK] = \
                stfile.to_e4m3_bits(blk / np.float64(scale))
    return q, s


def hf_config(cfg):
    d = dict(cfg)
    d.pop("extra", None)
    out = {"architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3"}
    out.update(d)
    out.update({"attention_bias": False, "torch_dtype": "bfloat16",
                "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3",
                                        "quant_method": "fp8",
                                        "weight_block_size": [BLOCK, BLOCK]}})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--float", default=os.path.join(HERE, "out/model.pt"))
    ap.add_argument("--out", default=os.path.join(ROOT, "models/demo"))
    a = ap.parse_args()
    st = torch.load(a.float)
    sd = st["model"]
    cfg = st["config"]
    tensors = {}
    n_fp8 = 0
    for name, t in sd.items():
        w = t.detach().float().numpy()
        if FP8_RE.search(name):
            q, s = quantize_blocks(w)
            tensors[name] = ("F8_E4M3", q)
            tensors[name + "_scale_inv"] = ("F32", s)
            n_fp8 += 1
        elif name.endswith("e_score_correction_bias"):
            tensors[name] = ("F32", w.astype(np.float32))
        else:
            tensors[name] = ("BF16", stfile.to_bf16_bits(w))
    os.makedirs(a.out, exist_ok=True)
    stfile.save(os.path.join(a.out, "model.safetensors"), tensors, {"format": "pt"})
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(hf_config(cfg), f, indent=2)
        f.write("\n")
    size = os.path.getsize(os.path.join(a.out, "model.safetensors"))
    print(f"{len(tensors)} tensors ({n_fp8} FP8), {size / 1e6:.2f} MB -> {a.out}")


if __name__ == "__main__":
    main()
