"""Tiny safetensors reader/writer on numpy + stdlib (test reference code, not part of the engine).

Owns: parsing a checkpoint directory as published (model.safetensors.index.json + shards, or a
single model.safetensors), lazy tensor access through one np.memmap per shard, raw-dtype -> float
conversion (F32, F16, BF16, F8_E4M3, F64) and writing small checkpoints for tests.
Does not own: model semantics (dequantisation with scales lives in ref_glm4_moe.py).

File format: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape,
data_offsets:[begin,end]}, "__metadata__": {...}}, then the data block; offsets are relative to
the start of the data block.
"""
import json
import os

import numpy as np

# Storage dtype of each safetensors dtype string. BF16 and F8_E4M3 are kept as raw bits.
_STORAGE = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"), "F8_E4M3": np.dtype("u1"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
_FROM_NUMPY = {np.dtype("<f8"): "F64", np.dtype("<f4"): "F32", np.dtype("<f2"): "F16",
               np.dtype("<i8"): "I64", np.dtype("<i4"): "I32", np.dtype("<i2"): "I16",
               np.dtype("i1"): "I8", np.dtype("?"): "BOOL"}


def _e4m3fn_table():
    """256-entry float32 table from the bit definition (models.md §2): s eeee mmm, bias 7, no Inf;
    e=0 -> (-1)^s (m/8) 2^-6 (subnormal); e=15,m=7 -> NaN; else (-1)^s (1+m/8) 2^(e-7)."""
    t = np.empty(256, dtype=np.float32)
    for b in range(256):
        s, e, m = b >> 7, (b >> 3) & 15, b & 7
        if e == 15 and m == 7:
            v = float("nan")
        elif e == 0:
            v = (m / 8.0) * 2.0 ** -6
        else:
            v = (1.0 + m / 8.0) * 2.0 ** (e - 7)
        t[b] = -v if s else v
    return t


E4M3FN = _e4m3fn_table()


def bf16_bits_to_f32(bits):
    """BF16 -> f32: the 16 bits become the high half of a 32-bit word (models.md §2)."""
    return (np.asarray(bits, dtype=np.uint32) << 16).view(np.float32)


def f32_to_bf16_bits(x):
    """f32 -> BF16 bits, round to nearest even (NaN kept NaN). For writing test checkpoints."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    return np.where(nan, np.uint16(0x7FC0), r).astype(np.uint16)


def to_float(dtype, raw, out=np.float32):
    """Convert a raw stored array (as returned by SafeTensors.raw) to floats of type `out`."""
    if dtype == "BF16":
        return bf16_bits_to_f32(raw).astype(out, copy=False)
    if dtype == "F8_E4M3":
        return E4M3FN[np.asarray(raw)].astype(out, copy=False)
    if dtype in ("F32", "F16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"):
        return np.asarray(raw).astype(out)
    raise ValueError(f"unsupported safetensors dtype {dtype}")


class SafeTensors:
    """Read-only view of a checkpoint directory (or a single .safetensors file)."""

    def __init__(self, path):
        if os.path.isdir(path):
            idx = os.path.join(path, "model.safetensors.index.json")
            if os.path.exists(idx):
                with open(idx) as f:
                    files = sorted(set(json.load(f)["weight_map"].values()))
            elif os.path.exists(os.path.join(path, "model.safetensors")):
                files = ["model.safetensors"]
            else:
                files = sorted(n for n in os.listdir(path) if n.endswith(".safetensors"))
            files = [os.path.join(path, n) for n in files]
        else:
            files = [path]
        if not files:
            raise FileNotFoundError(f"{path}: no .safetensors files")
        self._maps = {}     # file -> np.memmap (opened lazily)
        self._info = {}     # name -> (file, dtype, shape, begin, end) absolute offsets
        self.metadata = {}
        for fn in files:
            self._parse_header(fn)

    def _parse_header(self, fn):
        size = os.path.getsize(fn)
        with open(fn, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if n <= 0 or 8 + n > size:
                raise ValueError(f"{fn}: bad header length {n}")
            hdr = json.loads(f.read(n).decode("utf-8"))
        base = 8 + n
        for name, d in hdr.items():
            if name == "__metadata__":
                self.metadata.update(d or {})
                continue
            dt = d["dtype"]
            if dt not in _STORAGE:
                raise ValueError(f"{fn}: tensor {name}: unsupported dtype {dt}")
            shape = tuple(int(s) for s in d["shape"])
            b, e = d["data_offsets"]
            nbytes = int(np.prod(shape, dtype=np.int64)) * _STORAGE[dt].itemsize
            if e - b != nbytes or base + e > size or b < 0:
                raise ValueError(f"{fn}: tensor {name}: data_offsets {b},{e} do not fit shape {shape} {dt}")
            if name in self._info:
                raise ValueError(f"{fn}: tensor {name} appears in two shards")
            self._info[name] = (fn, dt, shape, base + b, base + e)

    def keys(self):
        return list(self._info)

    def __contains__(self, name):
        return name in self._info

    def dtype(self, name):
        return self._info[name][1]

    def shape(self, name):
        return self._info[name][2]

    def raw(self, name):
        """The stored array (memory-mapped, read-only): BF16 as uint16 bits, F8_E4M3 as uint8 codes."""
        if name not in self._info:
            raise KeyError(f"tensor {name} not in checkpoint")
        fn, dt, shape, b, e = self._info[name]
        if e == b:
            return np.zeros(shape, dtype=_STORAGE[dt])
        if fn not in self._maps:
            self._maps[fn] = np.memmap(fn, dtype=np.uint8, mode="r")
        return self._maps[fn][b:e].view(_STORAGE[dt]).reshape(shape)

    def get(self, name, out=np.float32):
        """Tensor converted to floats (no scale applied)."""
        return to_float(self.dtype(name), self.raw(name), out)


def _encode(value):
    """(dtype string, storage array) for a value given as ndarray or ("BF16"/"F8_E4M3"/..., raw array)."""
    if isinstance(value, tuple):
        dt, arr = value
        arr = np.ascontiguousarray(arr, dtype=_STORAGE[dt])
        return dt, arr
    arr = np.ascontiguousarray(value)
    if arr.dtype not in _FROM_NUMPY:
        raise ValueError(f"give uint8/uint16 data as (dtype, array); got {arr.dtype}")
    return _FROM_NUMPY[arr.dtype], arr


def save_file(tensors, fn, metadata=None):
    """Write one .safetensors file. tensors: {name: ndarray | (dtype_str, storage ndarray)}."""
    hdr, blobs, off = {}, [], 0
    for name in sorted(tensors):
        dt, arr = _encode(tensors[name])
        data = arr.tobytes()
        hdr[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    if metadata:
        hdr["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(hdr, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(fn, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for data in blobs:
            f.write(data)


def save_checkpoint(dirname, tensors, shards=1):
    """Write tensors as model.safetensors (shards=1) or as N shards + model.safetensors.index.json."""
    os.makedirs(dirname, exist_ok=True)
    if shards <= 1:
        save_file(tensors, os.path.join(dirname, "model.safetensors"), {"format": "pt"})
        return
    names = sorted(tensors)
    weight_map = {}
    for i in range(shards):
        part = names[i::shards]
        fn = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        save_file({n: tensors[n] for n in part}, os.path.join(dirname, fn), {"format": "pt"})
        weight_map.update({n: fn for n in part})
    with open(os.path.join(dirname, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=1)
