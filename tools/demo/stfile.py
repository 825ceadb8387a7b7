"""Minimal safetensors reader/writer in pure Python + numpy (no torch needed).

Reads F32, F64, BF16, F16, F8_E4M3, I64, I32 tensors into numpy arrays (BF16 and F8 are
decoded to float32 on request) and writes F32/BF16/F8_E4M3 tensors. The F8 e4m3 ("fn"
variant: no infinities, 0x7f/0xff are NaN, max 448) decoding uses a 256-entry table
computed here, so the same table can be used to quantize (nearest representable value).
Invariants: header offsets are checked against the file size; tensors are little-endian;
the writer sorts names and aligns the header to 8 bytes like the reference library.
"""
import json
import struct

import numpy as np


def _e4m3_table():
    """Value of every e4m3fn byte (bias 7, 3 mantissa bits, subnormals, NaN at S.1111.111)."""
    t = np.zeros(256, dtype=np.float64)
    for b in range(256):
        s = -1.0 if b & 0x80 else 1.0
        e = (b >> 3) & 0xF
        m = b & 0x7
        if e == 0xF and m == 0x7:
            t[b] = np.nan
        elif e == 0:
            t[b] = s * (m / 8.0) * 2.0 ** -6
        else:
            t[b] = s * (1.0 + m / 8.0) * 2.0 ** (e - 7)
    return t


E4M3 = _e4m3_table()
E4M3_MAX = 448.0

_NP = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64,
       "I32": np.int32, "U8": np.uint8, "I8": np.int8, "BF16": np.uint16,
       "F8_E4M3": np.uint8}


def read_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
    return n, hdr


def load(path, raw=False):
    """Return {name: numpy array}. BF16/F8 become float32 unless raw (then uint16/uint8)."""
    n, hdr = read_header(path)
    with open(path, "rb") as f:
        buf = f.read()
    base = 8 + n
    out = {}
    for name, info in hdr.items():
        if name == "__metadata__":
            continue
        dt = info["dtype"]
        a, b = info["data_offsets"]
        if not (0 <= a <= b and base + b <= len(buf)):
            raise ValueError(f"{path}: tensor {name} offsets {a}..{b} outside the file")
        arr = np.frombuffer(buf, dtype=_NP[dt], count=(b - a) // np.dtype(_NP[dt]).itemsize,
                            offset=base + a).reshape(info["shape"])
        if not raw:
            if dt == "BF16":
                arr = (arr.astype(np.uint32) << 16).view(np.float32)
            elif dt == "F8_E4M3":
                arr = E4M3[arr].astype(np.float32)
        out[name] = arr
        out.setdefault("__dtypes__", {})[name] = dt
    return out


def load_dir(d):
    """Load every tensor of a checkpoint folder (single file or shards + index)."""
    import os
    idx = os.path.join(d, "model.safetensors.index.json")
    files = []
    if os.path.exists(idx):
        with open(idx) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    out, dts = {}, {}
    for fn in files:
        t = load(os.path.join(d, fn), raw=True)
        dts.update(t.pop("__dtypes__"))
        out.update(t)
    return out, dts


def to_bf16_bits(x):
    """float32 array -> uint16 bf16 bits, round to nearest even."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    u = x.view(np.uint32).astype(np.uint64)
    r = ((u >> 16) & 1) + 0x7FFF
    return ((u + r) >> 16).astype(np.uint16)


def bf16_round(x):
    return (to_bf16_bits(x).astype(np.uint32) << 16).view(np.float32)


_POS = E4M3[:0x7F]          # non-negative finite codes 0x00..0x7e, increasing


def to_e4m3_bits(x):
    """float array (already scaled into [-448, 448]) -> nearest e4m3fn codes (ties to even)."""
    x = np.asarray(x, dtype=np.float64)
    a = np.minimum(np.abs(x), E4M3_MAX)
    hi = np.searchsorted(_POS, a, side="left")          # first code >= a
    hi = np.minimum(hi, len(_POS) - 1)
    lo = np.maximum(hi - 1, 0)
    dlo = a - _POS[lo]
    dhi = _POS[hi] - a
    pick_hi = (dhi < dlo) | ((dhi == dlo) & (hi % 2 == 0))
    code = np.where(pick_hi, hi, lo).astype(np.uint8)
    code = np.where(a == _POS[hi], hi, code).astype(np.uint8)
    sign = (x < 0) & (code != 0)
    return (code | (sign.astype(np.uint8) << 7)).astype(np.uint8)


def save(path, tensors, metadata=None):
    """tensors: {name: (dtype_string, numpy array already in that storage type)}."""
    hdr = {}
    off = 0
    names = sorted(tensors)
    blobs = []
    for name in names:
        dt, arr = tensors[name]
        arr = np.ascontiguousarray(arr, dtype=_NP[dt])
        data = arr.tobytes()
        hdr[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(data)]}
        off += len(data)
        blobs.append(data)
    if metadata:
        hdr["__metadata__"] = metadata
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
