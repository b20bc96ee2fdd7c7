"""The audit of videos: a normal run is clean, an unpainted frame and tags written back are named."""

from __future__ import annotations

import copy
from pathlib import Path

import av
import numpy as np
import pytest
from clips import LOCATION, VIDEO_HANDLER, make_clip
from scenes import Placement, background, render

from unseen.api import FileReport, anonymise_video_file
from unseen.audit.core import AuditOptions, audit_pair, frames_to_search
from unseen.audit.runs import read_run
from unseen.media.video import Frame, probe, read_frames, write_video
from unseen.regions import Regions
from unseen.regions_file import write_regions_file

FRAMES = 16
UNPAINTED = 9  # not a searched frame: the strength check looks at every frame
SHORT = AuditOptions(around=2)  # searches frames 0-2, 4, 8, 12-15 of the 16


def scene(i: int) -> np.ndarray:
    base = background((180, 240), seed=2, kind="gradient")
    return render(base, [Placement(56, 80 + 4 * i, 90, face="astronaut")]).image


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, FileReport]:
    folder = tmp_path_factory.mktemp("video")
    src = make_clip(folder / "walk.mp4", frames=FRAMES, size=(240, 180), audio=False, pictures=scene)
    report = anonymise_video_file(src, folder / "walk.unseen.mp4")
    assert set(report.regions.frame) == set(range(FRAMES))  # the face is covered on every frame
    write_regions_file(folder / "regions.json", [report])
    return folder, report


def audit_with_output(report: FileReport, output: Path, folder: Path):
    other = copy.copy(report)
    other.dst = output
    write_regions_file(folder / "other.json", [other])
    [pair] = read_run(folder / "other.json").pairs
    return audit_pair(pair, SHORT)


def test_a_normal_video_run_audits_clean(run):
    folder, _ = run
    [pair] = read_run(folder / "regions.json").pairs
    audit = audit_pair(pair, SHORT)
    assert audit.findings == []
    assert audit.frames == FRAMES
    assert audit.checks["strength"] == "every frame with regions, compared with the original"
    assert "9 of 16 frames (every 4th frame and the last, plus every frame within 2" in audit.checks["faces"]
    assert "the upright view only" in audit.checks["faces"]


def test_one_frame_left_unpainted_is_a_finding_naming_that_frame(run, tmp_path):
    folder, report = run
    output = folder / "walk.unseen.mp4"
    originals = list(read_frames(folder / "walk.mp4"))

    def frames():
        for frame in read_frames(output):
            pixels = originals[frame.index].pixels if frame.index == UNPAINTED else frame.pixels
            yield Frame(frame.index, frame.pts, pixels)

    tampered = tmp_path / "tampered.mp4"
    write_video(output, tampered, probe(output), frames())
    audit = audit_with_output(report, tampered, tmp_path)
    strength = [f for f in audit.findings if f.check == "strength"]
    assert strength and {f.frame for f in strength} == {UNPAINTED}
    assert strength[0].message.startswith("not obscured")
    assert {f.frame for f in audit.findings} == {UNPAINTED}


def test_tags_written_back_into_a_video_are_named(run, tmp_path):
    folder, report = run
    tagged = tmp_path / "tagged.mp4"
    with (
        av.open(str(folder / "walk.unseen.mp4")) as source,
        av.open(str(tagged), "w", container_options={"movflags": "+use_metadata_tags"}) as out,
    ):
        stream = out.add_stream_from_template(source.streams.video[0])
        out.metadata.update({"location": LOCATION, "com.apple.quicktime.model": "iPhone 15 Pro"})
        stream.metadata["handler_name"] = VIDEO_HANDLER
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    audit = audit_with_output(report, tagged, tmp_path)
    metadata = [f.message for f in audit.findings if f.check == "metadata"]
    assert f"container location = {LOCATION}" in metadata
    assert "container com.apple.quicktime.model = iPhone 15 Pro" in metadata
    assert f"stream 0 (video) handler_name = {VIDEO_HANDLER}" in metadata
    assert {f.check for f in audit.findings} == {"metadata"}


def test_long_videos_are_searched_on_a_stride_and_around_track_ends():
    regions = Regions.from_records(
        [{"box": [0, 0, 9, 9], "frame": f, "track": 0} for f in range(100, 201)]
        + [{"box": [0, 0, 9, 9], "frame": f, "track": 1} for f in range(500, 521)]
    )
    frames, rule = frames_to_search(1000, regions, AuditOptions(stride=10, around=5))
    assert set(range(0, 1000, 10)) <= frames and 999 in frames
    for end in (100, 200, 500, 520):
        assert set(range(end - 5, end + 6)) <= frames
    assert 155 not in frames and 301 not in frames
    assert "every 10th frame" in rule and "4 track ends" in rule
