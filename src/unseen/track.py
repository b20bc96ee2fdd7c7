"""Linking keyframe detections into tracks, and covering every frame in between.

Video is anonymised offline, so a frame is only painted once the detections *after* it are known:
each face is then covered by interpolation between the keyframes that saw it, across short gaps
where the detector blinked, and for a few frames before its first and after its last sighting.
Between sightings a region grows with the face's motion, so a face moving less evenly than the
interpolation assumes is still inside its patch. Beyond them the box moves on along its measured
velocity and grows only with the uncertainty of that motion, never by more than about the face's own
size, so a panning camera does not black out the picture. A side of a box that the picture's edge
cuts moves with the edge, not the face: motion is measured there on the side facing it, and between
a whole sighting and a cut one the cut box is taken whole. The detector loses a face cut by the
frame's edge well before it is gone, so a face that the camera or its own motion takes to the edge
is followed for longer, until its box has left the picture. A face followed for a while and lost in
mid-picture (a zoom blurs it, it turns away, the detector blinks for seconds) is most likely still
there: it *coasts*, held where it was last in the scene, for as long as it had been followed (up to
``coast`` frames), and is found again there under the same track; a box partly outside is kept whole
(painting grows it by a share of its size), one wholly outside is dropped. A face seen once has no
measured motion, so a fast one (a face size or more per keyframe) is linked to its next sighting
only when it was seen confidently and nothing else could be it. Only a bounded window of keyframes
is kept, so memory does not grow with the length of the video.

Faces are followed in the *scene*, not the picture: given the camera's path (see
:mod:`unseen.camera_motion`), every box is mapped into its shot's scene frame before it is matched,
interpolated or extended, and back into the frame's pixels when it is painted. A face standing still
while the camera pans, zooms or shakes then keeps one box, one track, and a patch that leaves the
picture with it. Boxes of one face on one keyframe (several passes' views of it, a blip on its hair)
are one sighting, their union, whose motion is that of its best box; what was merged into it at
either end of a gap (a neighbour's weak box) stays painted across the gap. A weak detection (the
cascade's ``weak`` source, below the threshold that starts a face) continues a face already followed
(seen once at ``continued``: a small face that the first keyframe's photo cascade found at 0.16 was
lost after it) but never starts one, as ByteTrack does: a detector that blinks on a small or turned
face does not break its track. Finished tracks are handed back by :meth:`Tracker.forget_before`, for
counting (see :mod:`unseen.count`): the tracker never imports the counter.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

import numpy as np

from .camera_motion import CameraPath
from .regions import Regions, iou_matrix

WEAK = "weak"  # the source of a detection that may continue a track but not start one
SPAN = 6  # frames over which a track's motion is measured, at least
SAME_FACE = 0.5  # boxes of one keyframe sharing this much of the smaller one's area are one face
HEAD = 0.5  # a face's head: its box grown by this share of its size on each side
CUT = 0.05  # a box's side this share of its size from the picture's edge (or beyond) is cut by it


@dataclass(frozen=True)
class TrackOptions:
    """How detections are linked and how far coverage reaches beyond them (in frames)."""

    detect_every: int = 8  # detect on every Nth frame at least; the rest are interpolated
    moved: float = 0.1  # ... and sooner once the camera has moved the picture this share of its width
    still: int = 4  # where nothing in the picture changed, the detector sees one keyframe in this
    # many (the first of each run of ``still``); the others reuse its faces (1: it sees every one)
    extend: int = 10  # cover this many frames before a track's first and after its last sighting
    edge_extend: int = 30  # ... or this many, for a face taken through the frame's edge
    edge_margin: float = 0.5  # "at the edge": closer to it than this share of the face's size
    max_gap: int = 16  # a face unseen for up to this many frames is joined up across the gap
    match_iou: float = 0.1  # predicted and detected box must overlap this much to be the same face
    motion_margin: float = 1.5  # between sightings: grow by this many times the motion per frame of distance
    motion_error: float = 0.5  # beyond them: the velocity may be off by this share of itself
    max_growth: float = 1.5  # growth is at most this many times the face's size on each side
    unknown_motion: float = 0.1  # a face seen once may move this share of its size per frame
    match_distance: float = 1.0  # or their centres be this many face sizes apart (similar sizes)
    confident: float = 0.2  # a face's score: counted as a face, continued by weak detections
    join_gap: int = 96  # counting: fragments up to this many frames apart that continue each other are one
    fast_motion: float = 0.4  # a face seen once may be found again this share of its size per frame on
    fast_sure: float = 0.4  # ... if seen this confidently (a 0.21 blip was linked to a face 300 px off)
    weak_iou: float = 0.3  # a weak detection continues a face whose predicted box it overlaps this much
    scene_motion: float = 0.01  # beyond its sightings a face may drift this share of its size per
    # frame in the scene even when it seems still (and the camera's path is estimated, not known)
    coast: int = 90  # a face followed this long (and seen on 3 keyframes) is covered as long after it
    # is lost, and found again there (a zoom blurring it, a turn, a blink of the detector)
    coast_drift: float = 0.5  # ... growing by the drift of a still face up to this share of its size
    continued: float = 0.1  # a face's score from which weak detections continue it

    def __post_init__(self) -> None:
        if self.detect_every < 1 or self.still < 1:
            raise ValueError("TrackOptions: detect_every and still must be at least 1")


def size_of(box: np.ndarray) -> float:
    """A face's size: the longer side of its box (growth and reach are measured in it)."""
    return float(max(box[2] - box[0], box[3] - box[1]))


@dataclass
class Track:
    """One face over time: the keyframes it was seen on, with its box and score there.

    ``start``, ``start_box``, ``seen``, ``strong`` and ``best`` outlive the sightings that bounded
    memory drops.
    """

    id: int
    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    cut: list[int] = field(default_factory=list)  # per sighting: its sides at the picture's edge (bits)
    cores: list[np.ndarray] = field(default_factory=list)  # per sighting: its best box, of which
    # ``boxes`` holds the union with the other boxes of the face (see :func:`same_face_merged`)
    start: int = -1
    start_box: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    seen: int = 0  # sightings ever
    strong: int = 0  # ... by detections that may start a face (a faint blip continued weakly is no face)
    best: float = 0.0  # highest score ever
    shot: int = 0  # the first frame of the shot it was seen in (boxes are in that shot's scene frame)

    @property
    def last(self) -> int:
        return self.frames[-1]

    def velocity(self, at: int, upto: int | None = None) -> np.ndarray:
        """Per-frame motion of the four box edges near keyframe index ``at`` (zeros if seen once),
        measured over at least :data:`SPAN` frames (as if that far apart where all the sightings
        are closer): keyframes chosen for the camera's motion can be a frame apart, and a box's
        jitter over one frame is no speed (extended from it, a 72 px face's patch grew to 600 px).
        ``upto``: the last sighting to use (as the motion stood then). Measured on each sighting's
        best box, not the union: a neighbour's box that one keyframe merged into the face and the next
        did not is no motion (the union jumping by a face's width carried a patch over a crowd)."""
        n = len(self.frames) if upto is None else upto + 1
        if n < 2:
            return np.zeros(4, np.float32)
        j = min(max(at, 1), n - 1)
        i = j - 1
        while self.frames[j] - self.frames[i] < SPAN and (i > 0 or j < n - 1):
            i, j = (i - 1, j) if i > 0 else (i, j + 1)
        # sightings closer than SPAN in all: their difference is mostly jitter, spread over SPAN
        v = (self.cores[j] - self.cores[i]) / max(self.frames[j] - self.frames[i], SPAN)
        cut = self.cut[i] | self.cut[j] if self.cut else 0
        for side in _cut_alone(cut):
            # A side cut by the picture's edge moves with the edge, not the face: it takes the motion
            # of the side facing it (a still face that a pan took out of the picture measured 9 px a
            # frame, and its patch grew to 460 px for a 130 px face).
            v[side] = v[side ^ 2]
        return v

    def predict(self, frame: int) -> np.ndarray:
        """Where to look for the face on ``frame``: its last box moved with its centre. Not grown or
        shrunk with it: one pass's box is a little larger than another's (the photo cascade's first
        keyframe, the video cascade's next), and that difference, taken for a zoom, shrank the
        prediction off the face."""
        v = self.velocity(len(self.frames) - 1)
        return self.boxes[-1] + np.tile((v[:2] + v[2:]) / 2, 2) * (frame - self.last)


@dataclass(frozen=True)
class Sighting:
    """One keyframe's detections, one per face (see :func:`same_face_merged`), with their boxes and
    best boxes in the scene frame."""

    frame: int
    detections: Regions
    scene: np.ndarray
    cores: np.ndarray


def _within(box: np.ndarray, seen: np.ndarray, most: float) -> np.ndarray:
    """``box`` no wider and no taller than ``most`` times ``seen``, about its own centre."""
    centre, half = (box[:2] + box[2:]) / 2, (box[2:] - box[:2]) / 2
    half = np.minimum(half, most * (seen[2:] - seen[:2]) / 2)
    return np.concatenate([centre - half, centre + half])


def _cut_alone(cut: int) -> list[int]:
    """The sides (0-3: x1, y1, x2, y2) set in the bits of ``cut`` whose facing side is not."""
    return [side for side in range(4) if cut >> side & 1 and not cut >> (side ^ 2) & 1] if cut else []


def _whole(box: np.ndarray, cut: int, other: np.ndarray) -> np.ndarray:
    """``box`` with its ``cut`` sides (see :meth:`Tracker._cut`) pushed out to where a whole face
    would reach: the longer side of it or ``other`` (a sighting of the same face) from the side
    facing them. Between a whole sighting and one cut by the edge, the cut side drawn in along the
    interpolation uncovered the face's edge; beyond the edge the extra reach paints nothing."""
    sides = _cut_alone(cut)
    if not sides:
        return box
    reach = max(size_of(box), size_of(other))
    box = box.copy()
    for side in sides:  # x1 and y1 reach out to lower values, x2 and y2 to higher
        box[side] = (
            min(box[side], box[side ^ 2] - reach) if side < 2 else max(box[side], box[side ^ 2] + reach)
        )
    return box


def _carried(t: Track, j: int, a: float) -> np.ndarray:
    """Track ``t``'s best box interpolated at ``a`` of the way from sighting ``j - 1`` to ``j``, with
    what was merged into it (a neighbour's weak box in its head) at either end carried along: that
    neighbour is most likely still there on the keyframe that missed it, and the union's own
    interpolation drew it in across the gap."""
    before, after = t.boxes[j - 1] - t.cores[j - 1], t.boxes[j] - t.cores[j]
    merged = np.concatenate([np.minimum(before[:2], after[:2]), np.maximum(before[2:], after[2:])])
    return (1 - a) * t.cores[j - 1] + a * t.cores[j] + merged


def _grown(box: np.ndarray, grow: float) -> np.ndarray:
    return box + np.array([-grow, -grow, grow, grow], np.float32)


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.concatenate([np.minimum(a[:2], b[:2]), np.maximum(a[2:], b[2:])])


def same_face_merged(detections: Regions, confident: float) -> tuple[Regions, np.ndarray]:
    """One box per face: boxes of one keyframe sharing :data:`SAME_FACE` of the smaller one's area
    (the native, fine and turned passes' views of one face, a box over the eyes inside the head's)
    become their union, with the best score and its source; so does a box under ``confident`` lying
    mostly (:data:`SAME_FACE` of its area) in a confident face's head (its box grown by :data:`HEAD`
    of its size on each side): the upscaled pass's blips on hair, an ear, a collar, each a track of
    its own before. A weak box is never merged: it only continues a track, and the cascade drops
    those that overlap a face it kept. Also returns each face's best box (the one the others joined)."""
    n = len(detections)
    if n < 2:
        return detections, detections.boxes
    boxes = detections.boxes.astype(np.float64)
    order = np.argsort(-detections.scores, kind="stable")
    strong = detections.source != WEAK
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    group = np.full(n, -1)
    for i in order:
        if group[i] >= 0 or not strong[i]:
            continue
        group[i] = i
        same = _shared(boxes[i], boxes) >= SAME_FACE * np.maximum(np.minimum(area[i], area), 1e-6)
        if detections.scores[i] >= confident:
            head = boxes[i] + HEAD * np.tile(boxes[i, 2:] - boxes[i, :2], 2) * [-1, -1, 1, 1]
            same |= (_shared(head, boxes) >= SAME_FACE * np.maximum(area, 1e-6)) & (
                detections.scores < confident
            )
        group[same & (group < 0) & strong] = i
    if (group == np.arange(n)).sum() + (~strong).sum() == n:
        return detections, detections.boxes
    keep = np.flatnonzero((group == np.arange(n)) | ~strong)
    merged = detections[keep]
    cores = merged.boxes.copy()
    for k, i in enumerate(keep):
        if strong[i]:
            members = boxes[group == i]
            merged.boxes[k] = np.concatenate([members[:, :2].min(0), members[:, 2:].max(0)])
    return merged, cores


def _shared(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """The area ``box`` shares with each of ``others``."""
    w = np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0])
    h = np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None)


class Tracker:
    """Feed keyframe detections in frame order with :meth:`update`; ask :meth:`regions_at` for any
    frame at least ``lag`` frames behind the newest keyframe, and :meth:`forget_before` the frames
    already written."""

    def __init__(
        self,
        options: TrackOptions | None = None,
        frame_size: tuple[int, int] | None = None,
        camera: CameraPath | None = None,
    ) -> None:
        """``frame_size`` is (height, width); without it no face is at the edge and no box is clipped.
        ``camera``: the camera's path over the video (without it the camera is taken as still); it
        must hold every frame up to the newest keyframe fed."""
        self.options = options or TrackOptions()
        self.frame_size = frame_size
        self.camera = camera or CameraPath()
        self.tracks: list[Track] = []
        self._next_id = 0
        self.count = 0  # tracks ever started

    @property
    def lag(self) -> int:
        """How far behind the newest keyframe a frame must be before its regions are final.

        A frame can be covered by a track first seen up to ``_reach`` frames later; how far and
        where that track reaches back depends on its motion, known at its second sighting, which
        comes at most ``max_gap + detect_every`` frames after the first (or never). Interpolation
        and the look after a last sighting need only that second term.
        """
        return self._reach + self._short

    @property
    def margin(self) -> int:
        """Frames of video a tracker must be given on each side of a part of it (a worker's segment)
        to paint that part as one pass over the whole video does: twice the look-ahead, and on the
        side before, a face's coast from a sighting before the part and the span it was followed
        for before that, which sets the coast's length, and a run of ``still`` keyframes, by whose
        end a part's keyframes are looked at or not as in one pass (``detect_keyframes``)."""
        return 2 * self.lag + 2 * self.options.coast + self.options.detect_every * self.options.still

    @property
    def _short(self) -> int:
        """The longest gap between sightings that is joined up (interpolated) as a matter of course."""
        return self.options.max_gap + self.options.detect_every

    @property
    def _reach(self) -> int:
        """The longest extension any track can get."""
        o = self.options
        return max(o.extend, o.edge_extend) if self.frame_size else o.extend

    def _coast(self, t: Track, end: int = -1) -> int:
        """How long after its sighting ``end`` (index; the last by default) track ``t`` is still
        covered and looked for, as it stood then: as long as it had been followed (up to ``coast``)
        for a face seen on 3 keyframes or more by then, else 0. Sightings after ``end`` change
        nothing, so the frames it covered stay as they were written."""
        o = self.options
        end %= len(t.frames)
        if t.seen - (len(t.frames) - 1 - end) < 3 or t.best < o.continued:
            return 0  # (``best`` as it is now: a gap longer than max_gap is joined only after a coast)
        return min(t.frames[end] - t.start, o.coast)

    def _kept(self, t: Track, since: int) -> bool:
        """Is track ``t``, last seen ``since`` frames ago, still kept to be found again beyond a short
        gap? Within its coast; or, for a face followed a while (3 keyframes) that the camera or its
        own motion took out of the picture, within a whole coast, so a pan that comes back finds it
        under its own track (the frames between are covered as they were: its extension out, the
        lead-in back). The cheap test first: this runs for every track on every frame."""
        return since <= self._coast(t) or (since <= self.options.coast and self._left(t))

    def _left(self, t: Track) -> bool:
        """Did track ``t``, a face followed on 3 keyframes, leave the picture after its last sighting?"""
        end = len(t.frames) - 1
        return t.seen >= 3 and t.best >= self.options.continued and self._leaving(t, end, 1, t.velocity(end))

    def _leaving(self, t: Track, end: int, ahead: int, motion: np.ndarray) -> bool:
        """Is track ``t``, moving on from its sighting ``end`` (``motion`` per frame in the scene,
        towards ``ahead``) with the camera, at the picture's edge by the end of the longer reach?
        Then it leaves (or came in) through it, and the detector loses a face cut by the edge."""
        if self.frame_size is None:
            return False
        o = self.options
        height, width = self.frame_size
        reach = max(o.extend, o.edge_extend)
        box = self.camera.to_frame(t.frames[end] + ahead * reach, t.boxes[end] + motion * reach)
        m = o.edge_margin * size_of(box)
        return bool(box[0] < m or box[1] < m or box[2] > width - m or box[3] > height - m)

    def update(self, frame: int, detections: Regions) -> None:
        """Match one keyframe's detections to live tracks (greedy by overlap with the prediction):
        first the faces, then the weak detections to the tracks still unmatched; a face matched to
        no track starts one."""
        o = self.options
        detections, cores = same_face_merged(detections, o.confident)
        scene = self.camera.to_scene(frame, detections.boxes).reshape(-1, 4)
        cores = self.camera.to_scene(frame, cores).reshape(-1, 4)
        shot = self.camera.shot(frame)
        live = [
            t
            for t in self.tracks
            if t.shot == shot and (frame - t.last <= self._short or self._kept(t, frame - t.last))
        ]
        weak = detections.source == WEAK
        seen = Sighting(frame, detections, scene, cores)
        matched = self._match(live, seen, np.flatnonzero(~weak), fast=True)
        rest = [t for t in live if t.last != frame and t.best >= o.continued]  # faces, not blips
        self._match(rest, seen, np.flatnonzero(weak), fast=False)
        for d in np.flatnonzero(~weak):
            if d in matched:
                continue
            track = Track(self._next_id, shot=shot)
            self._next_id += 1
            self.count += 1
            self.tracks.append(track)
            self._observe(track, seen, int(d))

    def _match(self, live: list[Track], seen: Sighting, candidates: np.ndarray, fast: bool) -> set[int]:
        """Link ``candidates`` (indices of ``seen``'s detections) to ``live`` tracks; the indices linked.
        ``fast``: also link a face seen once to a lone detection that it may have moved to."""
        o = self.options
        if not live or not len(candidates):
            return set()
        frame = seen.frame
        boxes = seen.scene[candidates]
        # A face that left the picture is looked for, beyond a short gap, where it was last seen in
        # the scene, not carried on: a velocity measured on its box cut by the edge took the
        # prediction of a still face 57 px off it in 52 frames (carried on for a short gap only, a
        # 21 px sliver's 39 px off it, and it came back as a new track).
        short = self._short
        predicted = np.stack(
            [t.boxes[-1] if frame - t.last > short and self._left(t) else t.predict(frame) for t in live]
        ).astype(np.float32)
        overlap = iou_matrix(predicted, boxes)
        # centre distance relative to size catches small fast faces that no longer overlap
        pc = (predicted[:, :2] + predicted[:, 2:]) / 2
        dc = (boxes[:, :2] + boxes[:, 2:]) / 2
        size = np.maximum(predicted[:, 2:] - predicted[:, :2], 1).max(1)
        dsize = np.maximum(boxes[:, 2:] - boxes[:, :2], 1).max(1)
        ratio = dsize[None, :] / size[:, None]
        similar = (ratio > 0.5) & (ratio < 2.0)
        distance = np.linalg.norm(pc[:, None] - dc[None], axis=2) / size[:, None]  # in face sizes
        near = (distance < o.match_distance) & similar
        score = np.where(near, np.maximum(overlap, o.match_iou), overlap)
        if not fast:  # a weak detection continues a face only where it is the face: its size, on it
            score = np.where(similar & (overlap >= o.weak_iou), score, 0.0)
        used_t, used_d = set(), set()
        for ti, di in zip(*np.unravel_index(np.argsort(-score, axis=None), score.shape), strict=True):
            if score[ti, di] < o.match_iou:
                break
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            self._observe(live[ti], seen, int(candidates[di]))
        if fast:
            # A face seen once has no measured motion, and one moving a face size per keyframe or
            # more is never near its prediction: link it to a detection within fast_motion of its
            # size per frame, but only where neither has any other such candidate, and only a face
            # seen surely (``fast_sure``: blips so linked jumped onto faces 150 and 300 px away).
            once = np.array(
                [t.seen == 1 and t.best >= o.fast_sure and ti not in used_t for ti, t in enumerate(live)]
            )
            gaps = np.array([frame - t.last for t in live], np.float32)
            free = np.ones(len(boxes), bool)
            free[list(used_d)] = False
            far = (distance < o.match_distance + o.fast_motion * gaps[:, None]) & similar
            far &= once[:, None] & free[None, :]
            lone = far & (far.sum(1, keepdims=True) == 1) & (far.sum(0, keepdims=True) == 1)
            for ti, di in zip(*np.nonzero(lone), strict=True):
                used_d.add(int(di))
                self._observe(live[ti], seen, int(candidates[di]))
        return {int(candidates[d]) for d in used_d}

    def _observe(self, track: Track, seen: Sighting, d: int) -> None:
        frame, box = seen.frame, seen.scene[d].copy()
        track.cut.append(self._cut(seen.detections.boxes[d]))
        if not track.frames:
            track.start, track.start_box = frame, box
        track.frames.append(frame)
        track.boxes.append(box)
        track.cores.append(seen.cores[d].copy())
        track.scores.append(float(seen.detections.scores[d]))
        track.sources.append(str(seen.detections.source[d]))
        track.seen += 1
        track.strong += track.sources[-1] != WEAK
        track.best = max(track.best, track.scores[-1])

    def regions_at(self, frame: int) -> Regions:
        """Every region covering ``frame``: detected, interpolated or extended, clipped to the picture."""
        boxes, scores, sources, ids = [], [], [], []
        shot = self.camera.shot(frame)
        for t in self.tracks:
            found = self._cover(t, frame) if t.shot == shot else None
            if found is not None:
                boxes.append(found[0])
                scores.append(found[1])
                sources.append(found[2])
                ids.append(t.id)
        if not boxes:
            return Regions()
        regions = Regions(self.camera.to_frame(frame, np.stack(boxes)), scores, sources, frame, ids)
        if self.frame_size is not None:  # drop those wholly outside the picture
            height, width = self.frame_size
            b = regions.boxes
            regions = regions[(b[:, 0] < width) & (b[:, 1] < height) & (b[:, 2] > 0) & (b[:, 3] > 0)]
        # A box partly outside is kept whole, not clipped: painting grows it by a share of its size,
        # and a face leaving through the edge clipped to a sliver got a sliver's margin (uncovered).
        return regions

    def _cover(self, t: Track, frame: int) -> tuple[np.ndarray, float, str] | None:
        """The box (in the scene), score and source with which track ``t`` covers ``frame``, if it does."""
        o = self.options
        fr = t.frames
        j = bisect_left(fr, frame)
        if j < len(fr) and fr[j] == frame:
            return t.boxes[j], t.scores[j], t.sources[j]
        if 0 < j < len(fr) and fr[j] - fr[j - 1] > self._short:
            # found again after a coast: the gap stays covered as it was written, before it was found,
            # and also as a face first seen there would be (the held box may have stayed behind it)
            held, lead = self._extended(t, frame, j - 1, 1), self._extended(self._run(t, j), frame, 0, -1)
            if held is None or lead is None:
                return held or lead
            return _union(held[0], lead[0]), held[1], held[2]
        if 0 < j < len(fr):  # between two sightings
            a = (frame - fr[j - 1]) / (fr[j] - fr[j - 1])
            before, after = t.boxes[j - 1], t.boxes[j]
            if t.cut:
                before, after = _whole(before, t.cut[j - 1], after), _whole(after, t.cut[j], before)
            box = _union((1 - a) * before + a * after, _carried(t, j, a))
            dist = min(frame - fr[j - 1], fr[j] - frame)
            size = max(size_of(t.boxes[j - 1]), size_of(t.boxes[j]))
            motion = max(float(np.abs(t.velocity(j)).max()), o.scene_motion * size)
            grow = min(o.motion_margin * motion * dist, o.max_growth * size)
            return _grown(box, grow), t.scores[j if a >= 0.5 else j - 1], "interpolated"
        return self._extended(t, frame, *((0, -1) if j == 0 else (len(fr) - 1, 1)))

    def _run(self, t: Track, j: int) -> Track:
        """Track ``t``'s sightings from ``j`` up to its next coast: what a face first seen at ``j``
        would have been followed by (a later re-link, unknown when frames before ``j`` are written,
        changes nothing there)."""
        fr, k = t.frames, j + 1
        while k < len(fr) and fr[k] - fr[k - 1] <= self._short:
            k += 1
        return Track(
            t.id, fr[j:k], t.boxes[j:k], t.scores[j:k], t.sources[j:k], t.cut[j:k], t.cores[j:k], shot=t.shot
        )

    def _extended(self, t: Track, frame: int, end: int, ahead: int) -> tuple[np.ndarray, float, str] | None:
        """Before the first (``ahead`` -1) or after sighting ``end`` (1): the box moved on along the
        motion measured there, if ``frame`` is within reach."""
        o = self.options
        fr = t.frames
        dist = abs(frame - fr[end])
        motion = t.velocity(end if end else 1, upto=end if ahead > 0 else None) * ahead  # towards frame
        reach = max(o.extend, o.edge_extend) if self._leaving(t, end, ahead, motion) else o.extend
        if dist > max(reach, self._coast(t, end) if ahead > 0 else 0):
            return None
        # On a coast the face is held where the reach left it, growing only by the drift of a face
        # standing still: lost in mid-picture, it is most likely still there (the camera's motion
        # is followed), and a velocity taken on (from a zooming, jittering box) carried a 60 px
        # face's patch 250 px off it.
        drift, dist = dist, min(dist, reach)
        box = t.boxes[end] + motion * dist
        box[[0, 2]] = np.sort(box[[0, 2]])  # a shrinking box (zooming out) shrinks to a line, no further
        box[[1, 3]] = np.sort(box[[1, 3]])
        box = _within(box, t.boxes[end], 2.0)  # a zoom guessed from two sightings: at most 2x
        if len(fr) < 2:  # no motion measured: it may have gone any way
            size = size_of(t.boxes[end])
            grow = o.unknown_motion * size * o.motion_margin * dist
        else:
            size = max(size_of(t.boxes[end]), size_of(t.boxes[end - ahead]))
            drift = min(drift, max(dist, o.coast_drift / o.scene_motion))  # a held face: at most so much
            grow = max(o.motion_error * float(np.abs(motion).max()) * dist, o.scene_motion * size * drift)
        grow = min(grow, o.max_growth * size)
        box = _grown(box, grow)
        short = o.edge_margin * size - grow  # of the edge's margin
        if ahead > 0 and short > 0:
            # the detector's last boxes of a small face can sit off it towards the edge it leaves by:
            # carried out along them, the patch left while the last of the face was still in the picture
            box -= self._beyond_edge(frame, box) * short
        return box, t.scores[end], "extended"

    def _cut(self, box: np.ndarray) -> int:
        """The sides of a detected ``box`` (in the frame's pixels) at or beyond the picture's edge,
        within :data:`CUT` of its size, as bits (1: x1, 2: y1, 4: x2, 8: y2): there the detector's
        box ends with the picture, not the face."""
        if self.frame_size is None:
            return 0
        height, width = self.frame_size
        near = CUT * size_of(box)
        sides = (box[0] <= near, box[1] <= near, box[2] >= width - near, box[3] >= height - near)
        return sum(1 << side for side, at in enumerate(sides) if at)

    def _beyond_edge(self, frame: int, box: np.ndarray) -> np.ndarray:
        """For ``box`` (in the scene) on ``frame``, the sides to move inwards (-1 or 1; 0: stay): the
        side opposite each edge of the picture that the box reaches beyond."""
        if self.frame_size is None:
            return np.zeros(4, np.float32)
        height, width = self.frame_size
        x0, y0, x1, y1 = self.camera.to_frame(frame, box).reshape(4)
        return np.array([x1 > width, y1 > height, x0 < 0, y0 < 0], np.float32) * [1, 1, -1, -1]

    def forget_before(self, frame: int) -> list[Track]:
        """Drop tracks that can no longer cover ``frame`` or anything after it (bounded memory); the
        tracks dropped, in the order of their last sighting (finished: for counting)."""
        horizon = frame - self._reach
        kept = [t.last >= horizon or self._kept(t, horizon - t.last) for t in self.tracks]
        done = [t for t, k in zip(self.tracks, kept, strict=True) if not k]
        self.tracks = [t for t, k in zip(self.tracks, kept, strict=True) if k]
        for t in self.tracks:  # keep the sightings that motion is measured from, before the window's
            # last sighting at or before it (a face found again after a coast is held from there)
            before = bisect_right(t.frames, horizon) - 1
            drop = bisect_left(t.frames, t.frames[before] - SPAN) - 2 if before >= 0 else 0
            if drop > 0:
                del t.frames[:drop], t.boxes[:drop], t.cores[:drop], t.scores[:drop], t.sources[:drop]
                del t.cut[:drop]
        return sorted(done, key=lambda t: t.last)

    def finish(self) -> list[Track]:
        """Every track still kept, in the order of their last sighting (the video has ended)."""
        done, self.tracks = sorted(self.tracks, key=lambda t: t.last), []
        return done
