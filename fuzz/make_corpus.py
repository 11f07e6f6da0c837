#!/usr/bin/python3
"""make_corpus.py — write the seed corpora in fuzz/corpus/<target>/.

Small valid and invalid inputs for each fuzz target; run once, the files are
committed. Needs only the Python standard library.
"""
import json
import os
import shutil
import struct
import zlib

ROOT = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(ROOT, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def gz(b):
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(b) + c.flush()


# ---- IDX: one mode byte (bit 0: gzip the body; bits 1-2: role) + body ----
def idx(magic_ndim, dims, data):
    return bytes([0, 0, 8, magic_ndim]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)


images = idx(3, [2, 3, 3], range(18))
labels = idx(1, [2], [3, 9])
put("fuzz_idx", "images_plain", bytes([0]) + images)
put("fuzz_idx", "images_gz", bytes([1]) + images)
put("fuzz_idx", "labels_plain", bytes([2]) + labels)
put("fuzz_idx", "labels_gz", bytes([3]) + labels)
put("fuzz_idx", "dataset_images", bytes([4]) + images)
put("fuzz_idx", "images_body_is_gzip", bytes([0]) + gz(images))
put("fuzz_idx", "images_gzip_truncated", bytes([0]) + gz(images)[:-9])
put("fuzz_idx", "wrong_magic", bytes([0]) + idx(1, [2], [1, 2]))
put("fuzz_idx", "truncated_dims", bytes([0]) + images[:10])
put("fuzz_idx", "huge_dims", bytes([0]) + idx(3, [0x7FFFFFFF, 0xFFFF, 0xFFFF], []))
put("fuzz_idx", "label_out_of_range", bytes([2]) + idx(1, [2], [1, 10]))
put("fuzz_idx", "trailing_bytes", bytes([0]) + images + b"\0")


# ---- PNG ----
def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png(w, h, depth, color, rows, interlace=0, extra=b""):
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, interlace)
    raw = b"".join(b"\0" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


put("fuzz_png", "gray8_3x2", png(3, 2, 8, 0, [bytes([0, 128, 255]), bytes([1, 2, 3])]))
put("fuzz_png", "gray1_8x1", png(8, 1, 1, 0, [bytes([0b10110010])]))
put("fuzz_png", "gray16_2x2", png(2, 2, 16, 0, [bytes([0, 1, 255, 255]), bytes([128, 0, 0, 0])]))
put("fuzz_png", "rgb8_2x2", png(2, 2, 8, 2, [bytes([255, 0, 0, 0, 255, 0]), bytes([0, 0, 255, 9, 9, 9])]))
put("fuzz_png", "rgba8_2x1_interlaced", png(2, 1, 8, 6, [bytes([10, 20, 30, 40, 50, 60, 70, 80])], interlace=1))
put("fuzz_png", "palette_2x2_trns",
    png(2, 2, 8, 3, [bytes([0, 1]), bytes([1, 0])],
        extra=chunk(b"PLTE", bytes([0, 0, 0, 255, 255, 255])) + chunk(b"tRNS", bytes([128]))))
put("fuzz_png", "gray_alpha_16", png(1, 1, 16, 4, [bytes([1, 2, 3, 4])]))
put("fuzz_png", "truncated", png(3, 2, 8, 0, [bytes(3), bytes(3)])[:40])
put("fuzz_png", "not_png", b"GIF89a\x01\x00\x01\x00")
put("fuzz_png", "bad_crc", png(2, 2, 8, 0, [bytes(2), bytes(2)]).replace(b"IEND", b"IEND\0", 1)[:-1])


# ---- safetensors ----
def st(tensors, meta=None, raw_header=None):
    hdr = {}
    if meta is not None:
        hdr["__metadata__"] = meta
    data = b""
    for name, shape, values in tensors:
        b = struct.pack("<%df" % len(values), *values)
        hdr[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    h = raw_header if raw_header is not None else json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


put("fuzz_safetensors", "one_tensor", st([("0.bias", [2], [1.0, -2.0])], meta={"format": "pt"}))
put("fuzz_safetensors", "two_tensors", st([("0.weight", [2, 1, 1, 1], [0.5, 0.25]), ("0.bias", [2], [0, 1])]))
put("fuzz_safetensors", "empty", st([]))
put("fuzz_safetensors", "scalar", st([("x", [], [3.0])]))
put("fuzz_safetensors", "bad_json", st([], raw_header=b'{"a":{"dtype":"F32",'))
put("fuzz_safetensors", "bad_dtype", st([], raw_header=b'{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}')
    + bytes(8))
put("fuzz_safetensors", "offsets_past_end",
    st([], raw_header=b'{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}') + bytes(4))
put("fuzz_safetensors", "header_len_huge", struct.pack("<Q", 1 << 62) + b"{}")
# LeNet's full state_dict (init weights), so the successful load path is a seed too.
shutil.copy(os.path.join(ROOT, "..", "tests", "fixtures", "step", "init.safetensors"),
            os.path.join(CORPUS, "fuzz_safetensors", "lenet_init"))

# ---- model text ----
os.makedirs(os.path.join(CORPUS, "fuzz_model_text"), exist_ok=True)
shutil.copy(os.path.join(ROOT, "..", "models", "lenet.txt"), os.path.join(CORPUS, "fuzz_model_text", "lenet"))
put("fuzz_model_text", "all_layers",
    "net = torch.nn.Sequential(\n"
    "    nn.Conv2d(1, 4, kernel_size=(3, 5), stride=(1, 2), padding=(1, 2), dilation=1, groups=1,\n"
    "              bias=False, padding_mode='zeros'),\n"
    "    nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2, padding=1, dilation=1, ceil_mode=True),\n"
    "    nn.Conv2d(4, 8, 3, padding='same', groups=2), nn.Tanh(),\n"
    "    nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False, divisor_override=3),\n"
    "    nn.Dropout(p=0.25), nn.Flatten(start_dim=1, end_dim=-1),\n"
    "    nn.Linear(8 * 4 * 4, 10 // 1 + 2 % 3 - 2, bias=True))\n")
put("fuzz_model_text", "valid_padding", "nn.Sequential(nn.Conv2d(1, 2, 5, padding='valid'), nn.Sigmoid(), nn.Flatten(), nn.Linear(2*24*24, 3))")
put("fuzz_model_text", "syntax_error", "nn.Sequential(nn.Conv2d(1, 6, kernel_size=5,, ), nn.ReLU()")
put("fuzz_model_text", "unknown_layer", "nn.Sequential(nn.Conv3d(1, 6, 5))")
put("fuzz_model_text", "unknown_argument", "nn.Sequential(nn.Linear(784, 10, bias=True, foo=1))")
put("fuzz_model_text", "no_chain", "nn.Sequential(nn.Flatten(), nn.Linear(100, 10))")
put("fuzz_model_text", "absurd", "nn.Sequential(nn.Conv2d(1, 1048576, 1), nn.Flatten(), nn.Linear(1048576*784, 1))")
put("fuzz_model_text", "deep_nesting", "nn.Sequential(nn.Linear(" + "(" * 60 + "1" + ")" * 60 + ", 2))")
put("fuzz_model_text", "overflow", "nn.Sequential(nn.Linear(9223372036854775807 * 2, 1))")
put("fuzz_model_text", "utf8_comment", "nn.Sequential( # 输入 1 * 28 * 28\n nn.Flatten(), nn.Linear(784, 10))")
