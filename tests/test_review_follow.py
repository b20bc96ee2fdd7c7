"""Following a drawn region through a video: the tracker itself, and its endpoint behind the guards."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from review_media import FOLLOW_FRAMES, VIDEO_CLEAR, follow_video, review_video

from unseen.api import Options
from unseen.regions_file import RegionsDocument, options_record, save_document
from unseen.review.detection import detect_photo, detect_video
from unseen.review.follow import follow
from unseen.review.frames import FrameSource
from unseen.review.server import ReviewServer
from unseen.review.session import ReviewSession

HIDDEN = 0  # follow_video's face that the detector does not see


def _covered(box, face) -> float:
    """Share of ``face``'s box inside ``box``."""
    ix = max(0.0, min(box[2], face[2]) - max(box[0], face[0]))
    iy = max(0.0, min(box[3], face[3]) - max(box[1], face[1]))
    return ix * iy / ((face[2] - face[0]) * (face[3] - face[1]))


def _grown(box, by: float = 6.0) -> np.ndarray:
    return np.asarray(box, np.float64) + np.array([-by, -by, by, by])


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    path = tmp_path_factory.mktemp("follow") / "crossing.mp4"
    return path, follow_video(path)


@pytest.mark.parametrize(("start", "step"), [(2, 1), (13, -1)])
def test_a_face_the_detector_misses_is_followed_forward_and_backward(clip, start, step):
    path, faces = clip
    source = FrameSource(path, FOLLOW_FRAMES)
    followed = list(follow(source.frame, start, _grown(faces[start][HIDDEN]), step, 64, FOLLOW_FRAMES))
    source.close()
    expected = list(range(start + 1, FOLLOW_FRAMES)) if step > 0 else list(range(start - 1, -1, -1))
    assert [i for i, _ in followed] == expected  # to the end of the video, not past it
    for i, box in followed:  # the face moves 5 px a frame: a box left in place is off it in 4 frames
        assert _covered(box, faces[i][HIDDEN]) >= 0.95, f"frame {i}"


def test_a_detected_face_moves_the_drawn_box_with_it(tmp_path):
    path = tmp_path / "clip.mp4"
    faces = review_video(path)  # its clear face moves right 2 px a frame
    source = FrameSource(path, len(faces))
    followed = list(follow(source.frame, 4, _grown(faces[4][VIDEO_CLEAR], 4), 1, 10, len(faces)))
    source.close()
    assert [i for i, _ in followed] == list(range(5, 15))  # ``count`` frames
    for i, box in followed:
        assert _covered(box, faces[i][VIDEO_CLEAR]) >= 0.9, f"frame {i}"
    assert followed[-1][1][0] - followed[0][1][0] > 12  # it moved with the face


@pytest.fixture(scope="module")
def served(clip, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ReviewServer, list]]:
    path, faces = clip
    folder = path.parent
    photo = folder / "still.png"  # a photo beside the video: it cannot be followed
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(photo)
    entries = [
        detect_video(path, folder / "out" / path.name, Options()),
        detect_photo(photo, folder / "out" / photo.name, Options()),
    ]
    regions = folder / "review.unseen.json"
    save_document(regions, RegionsDocument(entries, options_record(Options())))
    server = ReviewServer(ReviewSession.open(regions))
    server.start()
    yield server, faces
    server.stop()


@contextlib.contextmanager
def _client(server: ReviewServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=60) as client:
        assert client.get(f"/?token={server.token}").status_code == 303
        yield client


def test_the_endpoint_follows_in_chunks(served):
    server, faces = served
    box = [round(float(v), 1) for v in _grown(faces[2][HIDDEN])]
    with _client(server) as client:
        reply = client.post("/api/files/0/follow", json={"frame": 2, "box": box, "step": 1, "count": 5})
        assert reply.status_code == 200
        boxes = reply.json()["boxes"]
        assert [b["frame"] for b in boxes] == [3, 4, 5, 6, 7]
        for b in boxes:
            assert _covered(b["box"], faces[b["frame"]][HIDDEN]) >= 0.95
        last = boxes[-1]  # the page's next chunk starts where this one ended
        more = {"frame": last["frame"], "box": last["box"], "step": 1, "count": 64}
        boxes = client.post("/api/files/0/follow", json=more).json()["boxes"]
        assert [b["frame"] for b in boxes] == list(range(8, FOLLOW_FRAMES))
        assert all(_covered(b["box"], faces[b["frame"]][HIDDEN]) >= 0.95 for b in boxes)


def test_malformed_follow_requests_are_refused(served):
    server, _ = served
    good = {"frame": 2, "box": [10, 10, 40, 40], "step": 1, "count": 4}
    bad = [
        {**good, "step": 2},
        {**good, "frame": FOLLOW_FRAMES},
        {**good, "frame": "2"},
        {**good, "count": 0},
        {**good, "count": 65},
        {**good, "box": [40, 10, 10, 40]},
        {**good, "box": [10, 10, 40]},
        {**good, "box": [10, 10, 40, float("inf")]},
        [],
    ]
    with _client(server) as client:
        for body in bad:  # json.dumps writes infinity as Infinity, which Python's reader takes
            reply = client.post("/api/files/0/follow", content=json.dumps(body).encode())
            assert reply.status_code == 400, body
        assert client.post("/api/files/1/follow", json=good).status_code == 400  # a photo
        assert client.post("/api/files/2/follow", json=good).status_code == 404  # no such file
        assert client.post("/api/files/0/follow", content=b"not json").status_code == 400
        for bad in ["1e308", "9" * 401, "Infinity", "3e38"]:  # refused with a reason, never a 500
            body = f'{{"frame": 2, "box": [10, 10, 40, {bad}], "step": 1, "count": 5}}'
            reply = client.post("/api/files/0/follow", content=body)
            assert reply.status_code == 400 and reply.text.startswith("refused: "), (bad, reply.text)


def test_following_needs_the_token_and_this_origin(served):
    server, _ = served
    body = {"frame": 2, "box": [10, 10, 40, 40], "step": 1, "count": 4}
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as client:
        assert client.post("/api/files/0/follow", json=body).status_code == 403
        client.cookies.set(f"unseen_review_{server.port}", "wrong")
        assert client.post("/api/files/0/follow", json=body).status_code == 403
    with _client(server) as client:
        foreign = client.post("/api/files/0/follow", json=body, headers={"origin": "http://evil.example"})
        assert foreign.status_code == 403
        rebound = client.post("/api/files/0/follow", json=body, headers={"host": "evil.example"})
        assert rebound.status_code == 403
        assert client.get("/api/files/0/follow").status_code == 405  # it is a POST only


def test_following_stops_once_the_face_has_left_the_picture(tmp_path):
    """A face walks out through the right edge at 8 px a frame; following from a box drawn while it
    is whole stops a few frames after it has gone, not at the end of the request (it ran on for
    90 frames past a face that had left, its box left standing at the edge)."""
    from scenes import Placement
    from test_video import scene_clip

    clip = scene_clip(tmp_path / "out.mp4", {"w": lambda i: Placement(44, 200 + 8 * i, 120)}, 40, (320, 240))
    gone = next(i for i, faces in enumerate(clip.boxes) if "w" not in faces)
    source = FrameSource(clip.path, 40)
    followed = list(follow(source.frame, 2, _grown(clip.boxes[2]["w"], 4), 1, 37, 40))
    source.close()
    frames = [i for i, _ in followed]
    assert frames == list(range(3, frames[-1] + 1))
    assert gone - 1 <= frames[-1] <= gone + 4, (gone, frames[-1])  # followed out, then stopped
    for i, box in followed:
        if "w" in clip.boxes[i] and clip.boxes[i]["w"][2] - clip.boxes[i]["w"][0] >= 12:
            assert _covered(box, clip.boxes[i]["w"]) >= 0.9, i
