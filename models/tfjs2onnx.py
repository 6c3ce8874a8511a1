#!/usr/bin/python3
"""Convert a TensorFlow.js graph model (model.json + weight shards) to ONNX.

Usage:
  tfjs2onnx.py MODEL.json OUT.onnx --outputs TFNAME[=ONNXNAME][,...] [--check OUT.check.json]

The whole graph is converted to NCHW: the ONNX input is "input" with shape
[1, 3, H, W] (float32), and 4-D outputs are NCHW too ([1, C, H, W]). Outputs
of Reshape nodes keep the shape TensorFlow gives them (the converter puts a
Transpose back to NHWC in front of every Reshape).

Only the nodes the requested outputs depend on are converted, so a graph
can be cut (CenterNet is cut at its heatmap and size outputs; box decoding
happens in Go). Supported ops are the ones used by the CenterNet and
BlazeFace models of @vladmandic/human; anything else is an error.

Weights: float32, int32, and quantized shards (float16, or uint8/uint16
with min/scale or min/max) are dequantized to float32.

--check runs the original graph with a small NumPy reference implementation
of the TensorFlow ops in NHWC on a deterministic input (see check_input) and
writes sampled output values to a JSON file. The Go tests in
analyze/vision run the ONNX file with ONNX Runtime on the same input and
compare, which validates layout, padding, resize and weight conversion.

Uses only Debian python3-onnx (1.12) and python3-numpy. The output is
deterministic for a given input.
"""
import argparse
import base64
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
NHWC_TO_NCHW = [0, 3, 1, 2]
NCHW_TO_NHWC = [0, 2, 3, 1]


def b64s(v):
    return base64.b64decode(v).decode()


def attr_list_i(n, key):
    return [int(x) for x in n.get("attr", {}).get(key, {}).get("list", {}).get("i", [])]


def attr_s(n, key, default=""):
    a = n.get("attr", {}).get(key)
    if not a or "s" not in a:
        return default
    return b64s(a["s"])


def attr_b(n, key, default=False):
    a = n.get("attr", {}).get(key)
    if not a:
        return default
    return bool(a.get("b", default))


def fused_ops(n):
    a = n.get("attr", {}).get("fused_ops")
    if not a:
        return []
    return [b64s(s) for s in a.get("list", {}).get("s", [])]


def load_weights(model_path, manifest):
    """Returns {name: np.ndarray} for every weight, dequantized."""
    base = os.path.dirname(model_path)
    out = {}
    for group in manifest:
        data = b"".join(open(os.path.join(base, p), "rb").read() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            shape = [int(s) for s in w["shape"]]
            count = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            dtype = w["dtype"]
            if q:
                qd = q["dtype"]
                if qd == "float16":
                    arr = np.frombuffer(data, dtype="<f2", count=count, offset=off).astype(np.float32)
                    off += 2 * count
                elif qd in ("uint8", "uint16"):
                    npd = "<u1" if qd == "uint8" else "<u2"
                    raw = np.frombuffer(data, dtype=npd, count=count, offset=off).astype(np.float32)
                    off += np.dtype(npd).itemsize * count
                    scale = float(q["scale"])
                    mn = float(q["min"]) if "min" in q else 0.0
                    arr = raw * np.float32(scale) + np.float32(mn)
                else:
                    raise ValueError("weight %s: unsupported quantization %s" % (w["name"], qd))
                if dtype == "int32":
                    arr = np.round(arr).astype(np.int32)
                else:
                    arr = arr.astype(np.float32)
            elif dtype == "float32":
                arr = np.frombuffer(data, dtype="<f4", count=count, offset=off).copy()
                off += 4 * count
            elif dtype == "int32":
                arr = np.frombuffer(data, dtype="<i4", count=count, offset=off).copy()
                off += 4 * count
            elif dtype == "bool":
                arr = np.frombuffer(data, dtype="u1", count=count, offset=off).astype(bool)
                off += count
            else:
                raise ValueError("weight %s: unsupported dtype %s" % (w["name"], dtype))
            out[w["name"]] = arr.reshape(shape)
        if off != len(data):
            raise ValueError("weights manifest covers %d of %d bytes" % (off, len(data)))
    return out


def clean(name):
    """Input reference "node:1" -> ("node", 1); control inputs "^x" are dropped."""
    if ":" in name:
        a, b = name.rsplit(":", 1)
        return a, int(b)
    return name, 0


def needed_nodes(nodes, outputs):
    seen = set()
    stack = list(outputs)
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        for i in nodes[n].get("input", []) or []:
            if i.startswith("^"):
                continue
            stack.append(clean(i)[0])
    return seen


def topo(nodes, names, order):
    return [n["name"] for n in order if n["name"] in names]


# ---------------------------------------------------------------------------
# NumPy reference (NHWC, TensorFlow semantics)


def same_pads(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def ref_pad_input(x, kh, kw, sh, sw, padding, value=0.0):
    if padding == "VALID":
        return x
    pt, pb = same_pads(x.shape[1], kh, sh)
    pl, pr = same_pads(x.shape[2], kw, sw)
    return np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=value)


def ref_conv(x, w, strides, padding):
    kh, kw, ci, co = w.shape
    sh, sw = strides[1], strides[2]
    x = ref_pad_input(x, kh, kw, sh, sw, padding)
    oh = (x.shape[1] - kh) // sh + 1
    ow = (x.shape[2] - kw) // sw + 1
    out = np.zeros((x.shape[0], oh, ow, co), np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :]
            out += patch.astype(np.float64) @ w[i, j].astype(np.float64)
    return out.astype(np.float32)


def ref_dwconv(x, w, strides, padding):
    kh, kw, ci, m = w.shape
    sh, sw = strides[1], strides[2]
    x = ref_pad_input(x, kh, kw, sh, sw, padding)
    oh = (x.shape[1] - kh) // sh + 1
    ow = (x.shape[2] - kw) // sw + 1
    out = np.zeros((x.shape[0], oh, ow, ci * m), np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :].astype(np.float64)
            out += np.repeat(patch, m, axis=3) * w[i, j].reshape(-1).astype(np.float64)
    return out.astype(np.float32)


def ref_maxpool(x, ksize, strides, padding):
    kh, kw = ksize[1], ksize[2]
    sh, sw = strides[1], strides[2]
    x = ref_pad_input(x, kh, kw, sh, sw, padding, value=-np.inf)
    oh = (x.shape[1] - kh) // sh + 1
    ow = (x.shape[2] - kw) // sw + 1
    out = np.full((x.shape[0], oh, ow, x.shape[3]), -np.inf, np.float32)
    for i in range(kh):
        for j in range(kw):
            out = np.maximum(out, x[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw, :])
    return out


def ref_resize_bilinear(x, size):
    # align_corners=False, half_pixel_centers=False: src = dst * in/out.
    n, h, w, c = x.shape
    oh, ow = int(size[0]), int(size[1])
    ys = np.arange(oh) * (h / oh)
    xs = np.arange(ow) * (w / ow)
    y0 = np.floor(ys).astype(int)
    x0 = np.floor(xs).astype(int)
    y1 = np.minimum(y0 + 1, h - 1)
    x1 = np.minimum(x0 + 1, w - 1)
    fy = (ys - y0)[None, :, None, None]
    fx = (xs - x0)[None, None, :, None]
    a = x[:, y0][:, :, x0]
    b = x[:, y0][:, :, x1]
    cc = x[:, y1][:, :, x0]
    d = x[:, y1][:, :, x1]
    top = a + (b - a) * fx
    bot = cc + (d - cc) * fx
    return (top + (bot - top) * fy).astype(np.float32)


def ref_apply_fused(y, ops, args):
    for op in ops:
        if op == "BiasAdd":
            y = y + args[0]
        elif op == "Relu":
            y = np.maximum(y, 0)
        elif op == "Relu6":
            y = np.clip(y, 0, 6)
        else:
            raise ValueError("unsupported fused op %s" % op)
    return y


def ref_run(nodes, order, weights, inputs, outputs):
    vals = {}
    for name in order:
        n = nodes[name]
        op = n["op"]
        ins = [vals[clean(i)[0]] if clean(i)[1] == 0 else None for i in n.get("input", []) or []]
        if op == "Const":
            vals[name] = weights[name]
        elif op == "Placeholder":
            vals[name] = inputs
        elif op in ("Conv2D", "_FusedConv2D"):
            y = ref_conv(ins[0], ins[1], attr_list_i(n, "strides"), attr_s(n, "padding"))
            vals[name] = ref_apply_fused(y, fused_ops(n), ins[2:])
        elif op in ("DepthwiseConv2dNative", "FusedDepthwiseConv2dNative"):
            y = ref_dwconv(ins[0], ins[1], attr_list_i(n, "strides"), attr_s(n, "padding"))
            vals[name] = ref_apply_fused(y, fused_ops(n), ins[2:])
        elif op in ("Add", "AddV2", "BiasAdd"):
            vals[name] = (ins[0] + ins[1]).astype(np.float32)
        elif op == "Sub":
            vals[name] = (ins[0] - ins[1]).astype(np.float32)
        elif op == "Mul":
            vals[name] = (ins[0] * ins[1]).astype(np.float32)
        elif op == "Relu":
            vals[name] = np.maximum(ins[0], 0)
        elif op == "Relu6":
            vals[name] = np.clip(ins[0], 0, 6)
        elif op == "Sigmoid":
            vals[name] = (1 / (1 + np.exp(-ins[0].astype(np.float64)))).astype(np.float32)
        elif op == "Identity":
            vals[name] = ins[0]
        elif op == "Mean":
            vals[name] = ins[0].mean(axis=tuple(int(a) for a in np.ravel(ins[1])),
                                     keepdims=attr_b(n, "keep_dims")).astype(np.float32)
        elif op == "ConcatV2":
            vals[name] = np.concatenate(ins[:-1], axis=int(ins[-1]))
        elif op == "ResizeBilinear":
            vals[name] = ref_resize_bilinear(ins[0], ins[1])
        elif op == "MaxPool":
            vals[name] = ref_maxpool(ins[0], attr_list_i(n, "ksize"), attr_list_i(n, "strides"), attr_s(n, "padding"))
        elif op == "Pad":
            vals[name] = np.pad(ins[0], [tuple(int(v) for v in p) for p in ins[1]])
        elif op == "Reshape":
            vals[name] = ins[0].reshape([int(v) for v in ins[1]])
        else:
            raise ValueError("reference: unsupported op %s (%s)" % (op, name))
    return [vals[o] for o in outputs]


def check_input(h, w):
    """Deterministic NCHW test input in [-1, 1]; analyze/vision regenerates it."""
    c = np.arange(3).reshape(3, 1, 1)
    y = np.arange(h).reshape(1, h, 1)
    x = np.arange(w).reshape(1, 1, w)
    v = ((x * 7 + y * 13 + c * 29 + (x * y) % 17) % 255).astype(np.float32)
    return (v / 127.5 - 1.0).astype(np.float32)[None]


# ---------------------------------------------------------------------------
# ONNX conversion


class Converter:
    def __init__(self, nodes, weights):
        self.nodes = nodes
        self.weights = weights
        self.onnx_nodes = []
        self.inits = []
        self.shape = {}  # NHWC (TF) shape of each tensor
        self.counter = 0
        self.init_names = set()

    def uniq(self, base):
        self.counter += 1
        return "%s__%d" % (base, self.counter)

    def const(self, name, arr):
        if name not in self.init_names:
            self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
            self.init_names.add(name)
        return name

    def add(self, op, inputs, outputs, **attrs):
        self.onnx_nodes.append(helper.make_node(op, inputs, outputs, name=outputs[0], **attrs))

    def channel_const(self, name, arr, other_rank):
        """A TF constant used in an elementwise op with a 4-D NCHW tensor."""
        arr = np.asarray(arr, np.float32)
        if other_rank == 4:
            if arr.ndim == 1 and arr.size > 1:
                arr = arr.reshape(-1, 1, 1)
            elif arr.ndim == 4:
                arr = arr.transpose(NHWC_TO_NCHW)
        return self.const(name + "__nchw", arr)

    def conv(self, n, out, x, wname, depthwise):
        w = self.weights[wname]
        strides = attr_list_i(n, "strides")
        dil = attr_list_i(n, "dilations") or [1, 1, 1, 1]
        padding = attr_s(n, "padding")
        kh, kw, ci, co = w.shape
        if depthwise:
            wo = w.transpose(2, 3, 0, 1).reshape(ci * co, 1, kh, kw)
            group = ci
            cout = ci * co
        else:
            wo = w.transpose(3, 2, 0, 1)
            group = 1
            cout = co
        attrs = dict(kernel_shape=[kh, kw], strides=[strides[1], strides[2]],
                     dilations=[dil[1], dil[2]], group=group)
        if padding == "SAME":
            attrs["auto_pad"] = "SAME_UPPER"
        elif padding == "VALID":
            attrs["auto_pad"] = "VALID"
        else:
            raise ValueError("%s: unsupported padding %s" % (n["name"], padding))
        inputs = [x, self.const(wname + "__oihw", wo.astype(np.float32))]
        ops = fused_ops(n)
        extra = [clean(i)[0] for i in n.get("input", [])[2:]]
        if ops and ops[0] == "BiasAdd":
            inputs.append(self.const(extra[0] + "__bias", self.weights[extra[0]].astype(np.float32).reshape(-1)))
            ops = ops[1:]
        elif n["op"] != "Conv2D" and n["op"] != "DepthwiseConv2dNative" and ops:
            raise ValueError("%s: fused ops %s without BiasAdd" % (n["name"], ops))
        h, wd = self.shape[clean(n["input"][0])[0]][1:3]
        if padding == "SAME":
            oh, ow = -(-h // strides[1]), -(-wd // strides[2])
        else:
            oh = (h - kh) // strides[1] + 1
            ow = (wd - kw) // strides[2] + 1
        self.shape[n["name"]] = [1, oh, ow, cout]
        if not ops:
            self.add("Conv", inputs, [out], **attrs)
            return
        tmp = self.uniq(out + "/conv")
        self.add("Conv", inputs, [tmp], **attrs)
        for i, op in enumerate(ops):
            dst = out if i == len(ops) - 1 else self.uniq(out + "/act")
            self.activation(op, tmp, dst)
            tmp = dst

    def activation(self, op, x, out):
        if op == "Relu":
            self.add("Relu", [x], [out])
        elif op == "Relu6":
            self.add("Clip", [x, self.const("__zero", np.array(0, np.float32)),
                               self.const("__six", np.array(6, np.float32))], [out])
        elif op == "Sigmoid":
            self.add("Sigmoid", [x], [out])
        else:
            raise ValueError("unsupported activation %s" % op)

    def convert(self, order, input_name, outputs):
        for name in order:
            n = self.nodes[name]
            op = n["op"]
            ins = [clean(i)[0] for i in n.get("input", []) or [] if not i.startswith("^")]
            if op == "Const":
                self.shape[name] = list(self.weights[name].shape)
                continue
            if op == "Placeholder":
                dims = [int(d["size"]) for d in n["attr"]["shape"]["shape"]["dim"]]
                self.shape[name] = dims
                self.input_shape = dims
                continue
            rank_of = lambda t: len(self.shape[t])
            if op in ("_FusedConv2D", "Conv2D"):
                self.conv(n, name, ins[0], ins[1], depthwise=False)
            elif op in ("FusedDepthwiseConv2dNative", "DepthwiseConv2dNative"):
                self.conv(n, name, ins[0], ins[1], depthwise=True)
            elif op in ("Add", "AddV2", "Sub", "Mul", "BiasAdd"):
                onnx_op = {"Add": "Add", "AddV2": "Add", "BiasAdd": "Add", "Sub": "Sub", "Mul": "Mul"}[op]
                a, b = ins[0], ins[1]
                ca, cb = a in self.weights, b in self.weights
                if ca and cb:
                    raise ValueError("%s: constant folding not supported" % name)
                ra = rank_of(b) if ca else rank_of(a)
                rb = rank_of(a) if cb else rank_of(b)
                if ca:
                    a = self.channel_const(a, self.weights[a], ra)
                if cb:
                    b = self.channel_const(b, self.weights[b], rb)
                self.add(onnx_op, [a, b], [name])
                sa = self.shape[ins[0]]
                sb = self.shape[ins[1]]
                self.shape[name] = list(np.broadcast_shapes(tuple(sa), tuple(sb)))
            elif op in ("Relu", "Relu6", "Sigmoid"):
                self.activation(op, ins[0], name)
                self.shape[name] = self.shape[ins[0]]
            elif op == "Identity":
                self.add("Identity", [ins[0]], [name])
                self.shape[name] = self.shape[ins[0]]
            elif op == "Mean":
                axes = [int(a) for a in np.ravel(self.weights[ins[1]])]
                keep = attr_b(n, "keep_dims")
                if rank_of(ins[0]) != 4 or not keep:
                    raise ValueError("%s: only 4-D Mean with keep_dims" % name)
                m = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1, -2: 3, -3: 2}
                self.add("ReduceMean", [ins[0]], [name], axes=sorted(m[a] for a in axes), keepdims=1)
                s = list(self.shape[ins[0]])
                for a in axes:
                    s[a] = 1
                self.shape[name] = s
            elif op == "ConcatV2":
                axis = int(self.weights[ins[-1]])
                parts = ins[:-1]
                r = rank_of(parts[0])
                if r == 4:
                    oaxis = {0: 0, 1: 2, 2: 3, 3: 1, -1: 1}[axis]
                else:
                    oaxis = axis
                self.add("Concat", parts, [name], axis=oaxis)
                s = list(self.shape[parts[0]])
                s[axis] = sum(self.shape[p][axis] for p in parts)
                self.shape[name] = s
            elif op in ("ResizeBilinear", "ResizeNearestNeighbor"):
                size = [int(v) for v in self.weights[ins[1]]]
                s = self.shape[ins[0]]
                scales = np.array([1, 1, size[0] / s[1], size[1] / s[2]], np.float32)
                if attr_b(n, "align_corners"):
                    ctm = "align_corners"
                elif attr_b(n, "half_pixel_centers"):
                    ctm = "tf_half_pixel_for_nn" if op == "ResizeNearestNeighbor" else "half_pixel"
                else:
                    ctm = "asymmetric"
                mode = "linear" if op == "ResizeBilinear" else "nearest"
                attrs = dict(mode=mode, coordinate_transformation_mode=ctm)
                if mode == "nearest":
                    attrs["nearest_mode"] = "floor" if ctm == "asymmetric" else "round_prefer_ceil"
                self.add("Resize", [ins[0], "", self.const(name + "__scales", scales)], [name], **attrs)
                self.shape[name] = [s[0], size[0], size[1], s[3]]
            elif op == "MaxPool":
                k = attr_list_i(n, "ksize")
                st = attr_list_i(n, "strides")
                padding = attr_s(n, "padding")
                self.add("MaxPool", [ins[0]], [name], kernel_shape=[k[1], k[2]], strides=[st[1], st[2]],
                         auto_pad="SAME_UPPER" if padding == "SAME" else "VALID")
                s = self.shape[ins[0]]
                if padding == "SAME":
                    self.shape[name] = [s[0], -(-s[1] // st[1]), -(-s[2] // st[2]), s[3]]
                else:
                    self.shape[name] = [s[0], (s[1] - k[1]) // st[1] + 1, (s[2] - k[2]) // st[2] + 1, s[3]]
            elif op == "Pad":
                p = np.asarray(self.weights[ins[1]], np.int64)
                if p.shape != (4, 2):
                    raise ValueError("%s: only 4-D Pad" % name)
                pn = p[NHWC_TO_NCHW]
                pads = np.concatenate([pn[:, 0], pn[:, 1]]).astype(np.int64)
                self.add("Pad", [ins[0], self.const(name + "__pads", pads)], [name], mode="constant")
                s = self.shape[ins[0]]
                self.shape[name] = [s[i] + int(p[i, 0] + p[i, 1]) for i in range(4)]
            elif op == "Reshape":
                src = ins[0]
                if rank_of(src) == 4:
                    t = self.uniq(name + "/nhwc")
                    self.add("Transpose", [src], [t], perm=NCHW_TO_NHWC)
                    src = t
                shape = np.asarray(self.weights[ins[1]], np.int64)
                self.add("Reshape", [src, self.const(name + "__shape", shape)], [name])
                total = int(np.prod(self.shape[ins[0]]))
                s = [int(v) for v in shape]
                if -1 in s:
                    i = s.index(-1)
                    s[i] = total // int(np.prod([v for v in s if v != -1]))
                self.shape[name] = s
                if len(s) == 4:
                    raise ValueError("%s: Reshape to 4-D is not supported" % name)
            else:
                raise ValueError("unsupported op %s (%s)" % (op, name))
        return self.shape


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--outputs", required=True, help="comma-separated TF node names to expose, each optionally as TFNAME=ONNXNAME")
    ap.add_argument("--check", help="write a NumPy reference check file")
    ap.add_argument("--doc", default="", help="doc string stored in the ONNX file")
    args = ap.parse_args()

    j = json.load(open(args.model))
    order = j["modelTopology"]["node"]
    nodes = {n["name"]: n for n in order}
    weights = load_weights(args.model, j["weightsManifest"])
    outs, rename = [], {}
    for spec in args.outputs.split(","):
        tf_name, _, onnx_name = spec.partition("=")
        outs.append(tf_name)
        rename[tf_name] = onnx_name or tf_name.replace("/", "_").replace(":", "_")
    for o in outs:
        if o not in nodes:
            raise SystemExit("output %s is not a node of %s" % (o, args.model))
    names = topo(nodes, needed_nodes(nodes, outs), order)
    placeholders = [n for n in names if nodes[n]["op"] == "Placeholder"]
    if len(placeholders) != 1:
        raise SystemExit("expected one input, found %s" % placeholders)

    conv = Converter(nodes, weights)
    shapes = conv.convert(names, placeholders[0], outs)
    # The graph input is named "input" in NCHW layout.
    ph = placeholders[0]
    in_shape = shapes[ph]
    onnx_in = [1, in_shape[3], in_shape[1], in_shape[2]]
    for nd in conv.onnx_nodes:
        for i, v in enumerate(nd.input):
            if v == ph:
                nd.input[i] = "input"
    outputs = []
    out_names = []
    for o in outs:
        s = shapes[o]
        oname = rename[o]
        conv.add("Identity", [o], [oname])
        out_names.append(oname)
        if len(s) == 4:
            s = [s[0], s[3], s[1], s[2]]
        outputs.append(helper.make_tensor_value_info(oname, TensorProto.FLOAT, s))
    graph = helper.make_graph(conv.onnx_nodes, os.path.basename(args.model).rsplit(".", 1)[0],
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, onnx_in)],
                              outputs, initializer=conv.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="glasshouse-tfjs2onnx", producer_version="1")
    model.ir_version = 8
    model.doc_string = args.doc
    onnx.checker.check_model(model)
    try:
        data = model.SerializeToString(deterministic=True)
    except TypeError:
        data = model.SerializeToString()
    with open(args.out, "wb") as f:
        f.write(data)
    print("%s: %d nodes, input %s, outputs %s, sha256 %s" % (
        args.out, len(conv.onnx_nodes), onnx_in, [(n, list(o.type.tensor_type.shape.dim.__len__() and
                                                         [d.dim_value for d in o.type.tensor_type.shape.dim]))
                                                  for n, o in zip(out_names, outputs)],
        hashlib.sha256(data).hexdigest()), file=sys.stderr)

    if args.check:
        x = check_input(onnx_in[2], onnx_in[3])
        refs = ref_run(nodes, names, weights, x.transpose(NCHW_TO_NHWC), outs)
        rng = np.random.RandomState(1)
        check = {"input": {"name": "input", "shape": onnx_in,
                           "formula": "((x*7 + y*13 + c*29 + (x*y)%17) % 255)/127.5 - 1"},
                 "outputs": []}
        for oname, r in zip(out_names, refs):
            if r.ndim == 4:
                r = r.transpose(NHWC_TO_NCHW)
            flat = r.reshape(-1)
            idx = sorted(set(rng.randint(0, flat.size, size=256).tolist()) | {int(np.argmax(flat)), int(np.argmin(flat))})
            check["outputs"].append({"name": oname, "shape": list(r.shape),
                                     "mean": float(flat.astype(np.float64).mean()),
                                     "index": idx, "value": [float(flat[i]) for i in idx]})
        with open(args.check, "w") as f:
            json.dump(check, f, indent=1, sort_keys=True)
        print("%s: reference check written" % args.check, file=sys.stderr)


if __name__ == "__main__":
    main()
