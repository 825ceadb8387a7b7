"""DeepSeek-V3 architecture in PyTorch, small, for training the demo model on CPU.

The math follows DeepSeek-V3's reference inference/model.py (which the C engine follows):
RMSNorm; MLA with q-LoRA (q_a_proj -> q_a_layernorm -> q_b_proj), joint KV compression
(kv_a_proj_with_mqa -> latent + shared k_pe, kv_a_layernorm, kv_b_proj -> k_nope, v);
rotary embedding on INTERLEAVED pairs (x[2j], x[2j+1]) with optional YaRN frequency
correction and mscale; MoE with sigmoid scores, e_score_correction_bias, group-limited
top-k (noaux_tc), normalised weights times routed_scaling_factor, shared experts;
first_k_dense_replace dense layers; one MTP module stored as layer index
num_hidden_layers. Module names equal the Hugging Face tensor names, so
state_dict() keys are the checkpoint names (without the FP8 weight_scale_inv tensors).

Invariants: the routing bias is a buffer (not trained by gradients; updated by the
auxiliary-loss-free rule in train.py); MoE.last_load holds per-expert token counts of
the last forward so the trainer can update the bias.
"""
import json
import math
from dataclasses import dataclass, field, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    vocab_size: int = 512
    hidden_size: int = 256
    intermediate_size: int = 512
    moe_intermediate_size: int = 128
    num_hidden_layers: int = 3
    num_nextn_predict_layers: int = 1
    num_attention_heads: int = 4
    num_key_value_heads: int = 4
    n_shared_experts: int = 1
    n_routed_experts: int = 16
    routed_scaling_factor: float = 2.5
    kv_lora_rank: int = 128
    q_lora_rank: int = 96
    qk_rope_head_dim: int = 16
    v_head_dim: int = 32
    qk_nope_head_dim: int = 32
    topk_method: str = "noaux_tc"
    n_group: int = 4
    topk_group: int = 2
    num_experts_per_tok: int = 4
    moe_layer_freq: int = 1
    first_k_dense_replace: int = 1
    norm_topk_prob: bool = True
    scoring_func: str = "sigmoid"
    hidden_act: str = "silu"
    max_position_embeddings: int = 4096
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    rope_scaling: dict = None
    tie_word_embeddings: bool = False
    bos_token_id: int = 0
    eos_token_id: int = 1
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d):
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__ and k != "extra"}
        rest = {k: v for k, v in d.items() if k not in cls.__dataclass_fields__}
        return cls(**known, extra=rest)

    @classmethod
    def from_file(cls, path):
        with open(path) as f:
            return cls.from_dict(json.load(f))

    def to_dict(self):
        d = asdict(self)
        extra = d.pop("extra")
        d.update(extra)
        return d


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(cfg, seqlen, dtype=torch.float32):
    """cos/sin [seqlen, rope_dim/2] and the attention softmax scale, YaRN-aware."""
    dim = cfg.qk_rope_head_dim
    base = cfg.rope_theta
    freqs = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    scale = (cfg.qk_nope_head_dim + cfg.qk_rope_head_dim) ** -0.5
    rs = cfg.rope_scaling
    mag = 1.0
    if rs and rs.get("type", rs.get("rope_type")) == "yarn":
        factor = float(rs["factor"])
        orig = int(rs["original_max_position_embeddings"])
        if cfg.max_position_embeddings > orig:
            bfast, bslow = rs.get("beta_fast", 32), rs.get("beta_slow", 1)

            def corr_dim(rot):
                return dim * math.log(orig / (rot * 2 * math.pi)) / (2 * math.log(base))

            low = max(math.floor(corr_dim(bfast)), 0)
            high = min(math.ceil(corr_dim(bslow)), dim - 1)
            if low == high:
                high += 0.001
            ramp = ((torch.arange(dim // 2, dtype=torch.float64) - low) / (high - low)).clamp(0, 1)
            smooth = 1 - ramp
            freqs = freqs / factor * (1 - smooth) + freqs * smooth

            def gm(m):
                return 1.0 if factor <= 1 else 0.1 * m * math.log(factor) + 1.0

            # The softmax scale takes mscale_all_dim (HF name; the reference calls it
            # mscale); HF also scales cos/sin by gm(mscale)/gm(mscale_all_dim), which is 1
            # for every published config because both keys hold the same value.
            m_all = rs.get("mscale_all_dim") or rs.get("mscale") or 1.0
            m = rs.get("mscale") or m_all
            scale = scale * gm(m_all) * gm(m_all)
            mag = gm(m) / gm(m_all)
    t = torch.arange(seqlen, dtype=torch.float64)
    ang = torch.outer(t, freqs)
    return (torch.cos(ang) * mag).to(dtype), (torch.sin(ang) * mag).to(dtype), scale


def apply_rope(x, cos, sin):
    """x [..., T, H, d] with interleaved pairs; cos/sin [T, d/2]."""
    xs = x.reshape(*x.shape[:-1], -1, 2)
    x0, x1 = xs[..., 0], xs[..., 1]
    c = cos[:, None, :]
    s = sin[:, None, :]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)


class MLA(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        H = cfg.num_attention_heads
        self.qk_head = cfg.qk_nope_head_dim + cfg.qk_rope_head_dim
        if cfg.q_lora_rank:
            self.q_a_proj = nn.Linear(cfg.hidden_size, cfg.q_lora_rank, bias=False)
            self.q_a_layernorm = RMSNorm(cfg.q_lora_rank, cfg.rms_norm_eps)
            self.q_b_proj = nn.Linear(cfg.q_lora_rank, H * self.qk_head, bias=False)
        else:
            self.q_proj = nn.Linear(cfg.hidden_size, H * self.qk_head, bias=False)
        self.kv_a_proj_with_mqa = nn.Linear(cfg.hidden_size, cfg.kv_lora_rank + cfg.qk_rope_head_dim, bias=False)
        self.kv_a_layernorm = RMSNorm(cfg.kv_lora_rank, cfg.rms_norm_eps)
        self.kv_b_proj = nn.Linear(cfg.kv_lora_rank, H * (cfg.qk_nope_head_dim + cfg.v_head_dim), bias=False)
        self.o_proj = nn.Linear(H * cfg.v_head_dim, cfg.hidden_size, bias=False)

    def forward(self, x, cos, sin, scale, cache=None):
        """cache: None (full causal pass) or a dict with k, v [B, maxT, H, *], pos (int,
        the position of x[:, 0]) and valid [B, maxT] (False for left padding)."""
        cfg = self.cfg
        B, T, _ = x.shape
        H = cfg.num_attention_heads
        if cfg.q_lora_rank:
            q = self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x)))
        else:
            q = self.q_proj(x)
        q = q.view(B, T, H, self.qk_head)
        q_nope, q_pe = q.split([cfg.qk_nope_head_dim, cfg.qk_rope_head_dim], dim=-1)
        q_pe = apply_rope(q_pe, cos, sin)
        kv = self.kv_a_proj_with_mqa(x)
        c, k_pe = kv.split([cfg.kv_lora_rank, cfg.qk_rope_head_dim], dim=-1)
        k_pe = apply_rope(k_pe.unsqueeze(2), cos, sin)           # [B,T,1,r]
        kv = self.kv_b_proj(self.kv_a_layernorm(c)).view(B, T, H, cfg.qk_nope_head_dim + cfg.v_head_dim)
        k_nope, v = kv.split([cfg.qk_nope_head_dim, cfg.v_head_dim], dim=-1)
        if cache is None:
            s = torch.einsum("bthd,bshd->bhts", q_nope, k_nope) + \
                torch.einsum("bthd,bsd->bhts", q_pe, k_pe.squeeze(2))
            mask = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        else:
            p0 = cache["pos"]
            k = torch.cat([k_nope, k_pe.expand(B, T, H, cfg.qk_rope_head_dim)], dim=-1)
            cache["k"][:, p0:p0 + T] = k
            cache["v"][:, p0:p0 + T] = v
            k = cache["k"][:, :p0 + T]
            v = cache["v"][:, :p0 + T]
            s = torch.einsum("bthd,bshd->bhts", torch.cat([q_nope, q_pe], dim=-1), k)
            mask = torch.ones(T, p0 + T, dtype=torch.bool, device=x.device).triu(p0 + 1)
            mask = mask.unsqueeze(0) | ~cache["valid"][:, None, :p0 + T]
            # a padding query may see only itself: keeps its row finite (an all -inf row
            # would give NaN values that leak through 0 * NaN into real rows later)
            eye = torch.zeros(T, p0 + T, dtype=torch.bool)
            eye[:, p0:] = torch.eye(T, dtype=torch.bool)
            mask = (mask & ~eye).unsqueeze(1)
        s = s * scale
        s = s.masked_fill(mask, float("-inf"))
        p = s.softmax(-1)
        o = torch.einsum("bhts,bshd->bthd", p, v).reshape(B, T, H * cfg.v_head_dim)
        return self.o_proj(o)


class MLP(nn.Module):
    def __init__(self, dim, inter):
        super().__init__()
        self.gate_proj = nn.Linear(dim, inter, bias=False)
        self.up_proj = nn.Linear(dim, inter, bias=False)
        self.down_proj = nn.Linear(inter, dim, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Gate(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.weight = nn.Parameter(torch.empty(cfg.n_routed_experts, cfg.hidden_size))
        if cfg.topk_method == "noaux_tc":
            self.register_buffer("e_score_correction_bias",
                                 torch.zeros(cfg.n_routed_experts, dtype=torch.float32))

    def forward(self, x):
        """x [N, D] -> (weights [N, k], indices [N, k])."""
        cfg = self.cfg
        scores = F.linear(x, self.weight)
        scores = scores.softmax(-1) if cfg.scoring_func == "softmax" else scores.sigmoid()
        orig = scores
        sel = scores.detach()
        if cfg.topk_method == "noaux_tc":
            sel = sel + self.e_score_correction_bias.to(sel.dtype)
        N = x.shape[0]
        if cfg.n_group > 1:
            g = sel.view(N, cfg.n_group, -1)
            if cfg.topk_method == "noaux_tc":
                gs = g.topk(2, dim=-1)[0].sum(-1)
            else:
                gs = g.amax(-1)
            gi = gs.topk(cfg.topk_group, dim=-1)[1]
            gmask = torch.ones(N, cfg.n_group, dtype=torch.bool, device=x.device).scatter_(1, gi, False)
            sel = g.masked_fill(gmask.unsqueeze(-1), float("-inf")).flatten(1)
        idx = sel.topk(cfg.num_experts_per_tok, dim=-1)[1]
        w = orig.gather(1, idx)
        if cfg.scoring_func == "sigmoid" and cfg.norm_topk_prob:
            w = w / w.sum(-1, keepdim=True)
        return w * cfg.routed_scaling_factor, idx


class MoE(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.gate = Gate(cfg)
        self.experts = nn.ModuleList([MLP(cfg.hidden_size, cfg.moe_intermediate_size)
                                      for _ in range(cfg.n_routed_experts)])
        if cfg.n_shared_experts:
            self.shared_experts = MLP(cfg.hidden_size, cfg.moe_intermediate_size * cfg.n_shared_experts)
        self.last_load = None
        self.valid = None   # optional [N] bool mask of real tokens, set by the caller

    def forward(self, x):
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        w, idx = self.gate(x)
        y = torch.zeros_like(x)
        flat = idx.reshape(-1)
        tok = torch.arange(x.shape[0], device=x.device).repeat_interleave(idx.shape[1])
        wf = w.reshape(-1)
        order = torch.argsort(flat)
        counts = torch.bincount(flat, minlength=self.cfg.n_routed_experts)
        if self.valid is not None:
            vm = self.valid.reshape(-1)[tok]
            self.last_load = torch.bincount(flat[vm], minlength=self.cfg.n_routed_experts).detach()
        else:
            self.last_load = counts.detach()
        start = 0
        for e, n in enumerate(counts.tolist()):
            if n == 0:
                continue
            sl = order[start:start + n]
            start += n
            t = tok[sl]
            out = self.experts[e](x[t]) * wf[sl].unsqueeze(-1)
            y.index_add_(0, t, out)
        if self.cfg.n_shared_experts:
            y = y + self.shared_experts(x)
        return y.view(shape)


class Block(nn.Module):
    def __init__(self, cfg, layer_id):
        super().__init__()
        self.self_attn = MLA(cfg)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        moe = cfg.n_routed_experts and layer_id >= cfg.first_k_dense_replace and \
            layer_id % cfg.moe_layer_freq == 0
        self.mlp = MoE(cfg) if moe else MLP(cfg.hidden_size, cfg.intermediate_size)

    def forward(self, x, cos, sin, scale, cache=None):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, scale, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class SharedHead(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)


class MTPBlock(Block):
    """Layer num_hidden_layers: the depth-1 multi-token-prediction module."""

    def __init__(self, cfg, layer_id):
        super().__init__(cfg, layer_id)
        self.enorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.hnorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.eh_proj = nn.Linear(2 * cfg.hidden_size, cfg.hidden_size, bias=False)
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.shared_head = SharedHead(cfg)

    def mtp_hidden(self, h, next_ids, cos, sin, scale):
        """h [B,T,D] main final normed hidden, next_ids [B,T] = token i+1 -> normed hidden
        whose shared_head.head gives the logits for token i+2."""
        e = self.enorm(self.embed_tokens(next_ids))
        x = self.eh_proj(torch.cat([e, self.hnorm(h)], dim=-1))
        x = Block.forward(self, x, cos, sin, scale)
        return self.shared_head.norm(x)

    def mtp(self, h, next_ids, cos, sin, scale):
        return self.shared_head.head(self.mtp_hidden(h, next_ids, cos, sin, scale))


class Inner(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        layers = [Block(cfg, i) for i in range(cfg.num_hidden_layers)]
        for j in range(cfg.num_nextn_predict_layers):
            layers.append(MTPBlock(cfg, cfg.num_hidden_layers + j))
        self.layers = nn.ModuleList(layers)
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class DeepseekV3(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.model = Inner(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self._rope = None

    def rope(self, T, dtype):
        if self._rope is None or self._rope[0].shape[0] < T or self._rope[0].dtype != dtype:
            self._rope = rope_tables(self.cfg, max(T, 256), dtype)
        c, s, sc = self._rope
        return c[:T], s[:T], sc

    def moe_layers(self):
        return [m for m in self.modules() if isinstance(m, MoE)]

    def hidden(self, ids):
        """ids [B,T] -> the final normed hidden state [B,T,D]."""
        T = ids.shape[1]
        x = self.model.embed_tokens(ids)
        cos, sin, sc = self.rope(T, x.dtype)
        for layer in self.model.layers[:self.cfg.num_hidden_layers]:
            x = layer(x, cos, sin, sc)
        return self.model.norm(x)

    def forward(self, ids, want_hidden=False):
        """ids [B,T] -> logits [B,T,V] (and the final normed hidden [B,T,D])."""
        h = self.hidden(ids)
        logits = self.lm_head(h)
        return (logits, h) if want_hidden else logits

    def new_cache(self, B, max_len, valid):
        """Per-layer KV cache for generate(); valid [B, max_len] marks real tokens."""
        cfg = self.cfg
        H = cfg.num_attention_heads
        dt = self.lm_head.weight.dtype
        return [{"k": torch.zeros(B, max_len, H, cfg.qk_nope_head_dim + cfg.qk_rope_head_dim, dtype=dt),
                 "v": torch.zeros(B, max_len, H, cfg.v_head_dim, dtype=dt), "pos": 0, "valid": valid}
                for _ in range(cfg.num_hidden_layers)]

    def forward_cached(self, ids, caches):
        """ids [B,t] at positions caches[0]['pos']... -> logits [B,t,V]; advances the cache."""
        T = ids.shape[1]
        p0 = caches[0]["pos"]
        x = self.model.embed_tokens(ids)
        cos, sin, sc = self.rope(p0 + T, x.dtype)
        cos, sin = cos[p0:], sin[p0:]
        for layer, c in zip(self.model.layers[:self.cfg.num_hidden_layers], caches):
            x = layer(x, cos, sin, sc, c)
            c["pos"] = p0 + T
        return self.lm_head(self.model.norm(x))

    @torch.no_grad()
    def generate(self, prompts, max_new, stop_id, temperature=0.0, generator=None):
        """Decoding of a batch of prompts (lists of ids), left-padded: greedy, or sampled
        from softmax(logits / temperature) when temperature > 0. Returns the generated ids
        per prompt, cut after stop_id."""
        B = len(prompts)
        L = max(len(p) for p in prompts)
        total = L + max_new
        ids = torch.zeros(B, L, dtype=torch.long)
        valid = torch.zeros(B, total, dtype=torch.bool)
        for i, p in enumerate(prompts):
            ids[i, L - len(p):] = torch.tensor(p)
            valid[i, L - len(p):] = True
        caches = self.new_cache(B, total, valid)
        logits = self.forward_cached(ids, caches)[:, -1]
        out = [[] for _ in range(B)]
        done = [False] * B
        for _ in range(max_new):
            if temperature > 0:
                probs = torch.softmax(logits.float() / temperature, -1)
                nxt = torch.multinomial(probs, 1, generator=generator)[:, 0]
            else:
                nxt = logits.argmax(-1)
            for i in range(B):
                if not done[i]:
                    out[i].append(int(nxt[i]))
                    done[i] = int(nxt[i]) == stop_id
            if all(done):
                break
            logits = self.forward_cached(nxt[:, None], caches)[:, -1]
        return out

    def mtp_logits(self, h, next_ids):
        T = next_ids.shape[1]
        cos, sin, sc = self.rope(T, h.dtype)
        return self.model.layers[self.cfg.num_hidden_layers].mtp(h, next_ids, cos, sin, sc)


def init_weights(model, seed, std=0.02):
    g = torch.Generator().manual_seed(seed)
    nl = model.cfg.num_hidden_layers + model.cfg.num_nextn_predict_layers
    for name, p in model.named_parameters():
        if p.dim() == 1:
            p.data.fill_(1.0)
        else:
            s = std
            if name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
                s = std / math.sqrt(2 * nl)
            p.data.copy_(torch.randn(p.shape, generator=g) * s)


def load_hf_dir(model, d, dtype=torch.float64):
    """Load a Hugging Face DeepSeek checkpoint folder, dequantizing FP8 blocks."""
    import numpy as np
    from stfile import load_dir, E4M3
    raw, dts = load_dir(d)
    sd = {}
    for name, arr in raw.items():
        if name.endswith("weight_scale_inv"):
            continue
        dt = dts[name]
        if dt == "BF16":
            a = (arr.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
        elif dt == "F8_E4M3":
            a = E4M3[arr]
            s = raw[name + "_scale_inv"].astype(np.float64)
            bs = 128
            s_full = np.repeat(np.repeat(s, bs, 0), bs, 1)[:a.shape[0], :a.shape[1]]
            a = a * s_full
        else:
            a = arr.astype(np.float64)
        sd[name] = torch.from_numpy(np.array(a)).to(dtype)
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    extra = [k for k in sd if k not in own]
    if missing or extra:
        raise ValueError(f"checkpoint mismatch: missing {missing[:5]} extra {extra[:5]}")
    model.load_state_dict(sd)
    return model
