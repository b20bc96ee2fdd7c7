"""The review server's guards, probed with a real HTTP client on 127.0.0.1, and its edit API."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from scenes import compose_crowd

from unseen.api import Options
from unseen.errors import InputError, OutputError
from unseen.regions_file import RegionsDocument, load_document, options_record, save_document
from unseen.review.cli import main as review_main
from unseen.review.detection import detect_photo
from unseen.review.server import ReviewServer
from unseen.review.session import ReviewSession

SECRET = b"private bytes that must never be served"
REVIEWED = {"ops": [{"op": "reviewed", "value": True}]}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("review")
    scene = compose_crowd([60, 60], (256, 320), seed=1, background_kind="coffee", vary=False)
    src = folder / "two.png"
    Image.fromarray(scene.image).save(src)
    (folder / "secret.txt").write_bytes(SECRET)
    entry = detect_photo(src, folder / "out" / "two.png", Options())
    path = folder / "regions.json"
    save_document(path, RegionsDocument([entry], options_record(Options())))
    server = ReviewServer(ReviewSession.open(path))
    server.start()
    yield server, path
    server.stop()


def _base(server: ReviewServer) -> str:
    return f"http://127.0.0.1:{server.port}"


@contextlib.contextmanager
def _client(server: ReviewServer) -> Iterator[httpx.Client]:
    """A client that went through the printed address once, as a browser does."""
    with httpx.Client(base_url=_base(server)) as client:
        first = client.get(f"/?token={server.token}")
        assert first.status_code == 303 and first.headers["location"] == "/"
        assert "httponly" in first.headers["set-cookie"].lower()
        assert "samesite=strict" in first.headers["set-cookie"].lower()
        yield client


def _edit(client: httpx.Client, ops: list, index: int = 0) -> httpx.Response:
    """PATCH ``ops`` on the file's version as the page last loaded it."""
    version = client.get(f"/api/files/{index}").json()["version"]
    return client.patch(f"/api/files/{index}", json={"ops": ops, "version": version})


def test_the_token_opens_the_page_and_the_api(served):
    server, _ = served
    with _client(server) as client:
        page = client.get("/")
        assert page.status_code == 200 and '<script src="/assets/app.js"' in page.text
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
        assert client.get("/assets/app.js").status_code == 200
        files = client.get("/api/files").json()["files"]
        assert [f["name"] for f in files] == ["two.png"] and files[0]["faces"] == 2
        picture = client.get("/api/files/0/picture")
        assert picture.headers["content-type"] == "image/jpeg"


def test_requests_without_the_right_token_are_refused(served):
    server, _ = served
    with httpx.Client(base_url=_base(server)) as client:
        for url in ["/", "/api/files", "/api/files/0", "/api/files/0/picture", "/assets/app.js"]:
            assert client.get(url).status_code == 403, url
            assert client.get(url + "?token=wrong").status_code == 403, url
        client.cookies.set(f"unseen_review_{server.port}", "wrong")
        assert client.get("/api/files").status_code == 403
        assert client.post("/api/export").status_code == 403
        assert client.patch("/api/files/0", json=REVIEWED).status_code == 403
    assert load_document(served[1]).files[0].reviewed is False


def test_a_browser_address_opens_the_page_once_without_the_token(served):
    server, _ = served
    url = server.browser_url()
    assert server.token not in url and url.startswith(f"{_base(server)}/?code=")
    with httpx.Client() as browser, httpx.Client() as later:
        first = browser.get(url)
        assert first.status_code == 303 and first.headers["location"] == "/"
        assert "httponly" in first.headers["set-cookie"].lower()
        assert browser.get(f"{_base(server)}/api/files").status_code == 200
        assert later.get(url).status_code == 403  # spent: whoever read it since gets nothing
        assert later.get(f"{_base(server)}/api/files").status_code == 403
        assert later.get(url.replace("code=", "code=x")).status_code == 403
        assert later.post(server.browser_url()).status_code == 403  # a code opens a page, nothing else


def test_foreign_host_and_origin_are_refused(served):
    server, path = served
    with _client(server) as client:
        # DNS rebinding: the attacker's name now points at 127.0.0.1, the browser sends its Host.
        for host in ["evil.example", f"evil.example:{server.port}", f"localhost:{server.port}", "127.0.0.1"]:
            assert client.get("/api/files", headers={"host": host}).status_code == 403, host
        for origin in ["http://evil.example", f"http://localhost:{server.port}", "null"]:
            reply = client.patch("/api/files/0", json=REVIEWED, headers={"origin": origin})
            assert reply.status_code == 403, origin
        reply = client.patch("/api/files/0", json=REVIEWED, headers={"sec-fetch-site": "cross-site"})
        assert reply.status_code == 403
        for host in ["evil.example", f"localhost:{server.port}"]:
            assert client.patch("/api/files/0", json=REVIEWED, headers={"host": host}).status_code == 403
        assert load_document(path).files[0].reviewed is False  # nothing got through
        assert client.post("/api/export", headers={"origin": "http://evil.example"}).status_code == 403
        assert not Path(load_document(path).files[0].output).exists()


def test_only_the_given_files_are_served(served):
    server, _ = served
    with _client(server) as client:
        for url in [
            "/assets/../secret.txt",
            "/assets/..%2fsecret.txt",
            "/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
            "/assets/index.html/../../../secret.txt",
            "/api/files/1/picture",
            "/api/files/-1/picture",
            "/api/files/0/picture?frame=1",
            "/api/files/../secret.txt",
            "/secret.txt",
            f"/{served[1].parent}/secret.txt",
        ]:
            reply = client.get(url)
            assert reply.status_code in (404, 400), url
            assert SECRET not in reply.content


def _raw_request(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(request)
        return conn.recv(65536)


def test_raw_traversal_paths_are_not_served(served):
    server, _ = served
    cookie = f"unseen_review_{server.port}={server.token}"
    for target in [b"/assets/../../secret.txt", b"/assets/..\\secret.txt", b"/../secret.txt"]:
        reply = _raw_request(
            server.port,
            b"GET "
            + target
            + b" HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nCookie: %s\r\nConnection: close\r\n\r\n"
            % (server.port, cookie.encode()),
        )
        assert SECRET not in reply and not reply.startswith(b"HTTP/1.1 200"), target


def test_edits_are_checked_and_saved_at_once(served):
    server, path = served
    with _client(server) as client:
        regions, version = (client.get("/api/files/0").json()[k] for k in ("regions", "version"))
        first = regions[0]
        kept = {**first, "action": "keep"}
        for bad in [
            {"ops": [{"op": "replace", "regions": [[first, {**first, "action": "hide"}]]}]},
            {"ops": [{"op": "replace", "regions": [first, kept]}]},  # not a list of pairs
            {"ops": [{"op": "add", "regions": [{**first, "box": [1, 2]}]}]},
            {"ops": [{"op": "add", "regions": [{**first, "frame": 1}]}]},  # a photo has one frame
            {"ops": [{"op": "remove", "regions": [{**first, "box": [0, 0, 1, 1]}]}]},  # no such region
            {"ops": [{"op": "remove", "regions": [first, first]}]},  # only one is there
            {"ops": [{"op": "action", "track": 0, "action": "suggested"}]},
            {"ops": [{"op": "action", "track": "0", "action": "keep"}]},
            {"ops": [{"op": "reviewed", "value": "yes"}]},
            {"ops": [{"op": "rewrite", "regions": []}]},
            {"ops": []},
            {"ops": "all"},
            {"regions": regions, "reviewed": True},  # the whole entry, as pages before did: not an edit
            [],
        ]:
            body = {**bad, "version": version} if isinstance(bad, dict) else bad
            assert client.patch("/api/files/0", json=body).status_code == 400, bad
        for version_bad in [{}, {"version": None}, {"version": str(version)}, {"version": 0.0}]:
            assert client.patch("/api/files/0", json={**REVIEWED, **version_bad}).status_code == 400
        assert client.patch("/api/files/0", content=b"{not json").status_code == 400
        assert client.put("/api/files/0", json={"regions": regions, "reviewed": True}).status_code == 405
        assert load_document(path).files[0].records() == regions  # nothing refused got through
        # All or nothing: a valid first operation is not kept when a later one is refused.
        half = {
            "ops": [{"op": "reviewed", "value": True}, {"op": "remove", "regions": [{**first, "frame": 3}]}],
            "version": version,
        }
        assert client.patch("/api/files/0", json=half).status_code == 400
        assert client.get("/api/files").json()["files"][0]["state"] == "not reviewed"

        ops = [{"op": "replace", "regions": [[first, kept]]}, *REVIEWED["ops"]]
        reply = _edit(client, ops)
        assert reply.status_code == 200 and reply.json()["state"] == "reviewed" and reply.json()["kept"] == 1
        # Already on disk, before anything else happens.
        entry = load_document(path).files[0]
        assert entry.reviewed and entry.edited and entry.records() == [kept, *regions[1:]]
        assert client.get("/api/files/0").json()["regions"] == [kept, *regions[1:]]
        preview = client.get("/api/files/0/picture?output=1")
        assert preview.status_code == 200
        # Removed and added back: the same regions (the added one last).
        ops = [
            {"op": "remove", "regions": [kept]},
            {"op": "add", "regions": [first]},
            {"op": "reviewed", "value": False},
        ]
        _edit(client, ops).raise_for_status()
        assert load_document(path).files[0].records() == [*regions[1:], first]


def test_a_regions_file_for_another_input_is_refused(tmp_path, served, capsys):
    _, path = served
    doc = json.loads(path.read_text())
    src = tmp_path / "two.png"
    with Image.open(doc["files"][0]["input"]) as im:
        pixels = np.asarray(im).copy()
    pixels[5, 5] ^= 4  # another picture of the same size under the recorded name
    Image.fromarray(pixels).save(src)
    doc["files"][0]["input"] = str(src)
    other = tmp_path / "regions.json"
    other.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="not the file the regions file describes"):
        ReviewSession.open(other)
    assert review_main(["--regions", str(other), "--no-browser"]) == 1
    assert "not the file the regions file describes" in capsys.readouterr().err


def _version_1(path: Path, entry: dict) -> dict:
    """An unseen.regions/1 file of ``entry`` (no SHA-256, no actions) written at ``path``."""
    v1 = {
        "schema": "unseen.regions/1",
        "tool": "unseen 0.1.0",
        "files": [
            {
                **{k: entry[k] for k in ("input", "output", "kind", "width", "height", "frames")},
                "regions": [
                    {k: v for k, v in r.items() if k != "action"}
                    for r in entry["regions"]
                    if r["action"] == "obscure"
                ],
            }
        ],
    }
    path.write_text(json.dumps(v1))
    return v1


def test_a_version_1_file_is_reviewed_only_when_asked_and_stays_unverified(served, tmp_path, capsys):
    """A /1 file has no SHA-256: review refuses it as render does, and with --unverified never
    fingerprints whatever file now has the name (which would vouch for it from then on)."""
    _, path = served
    entry = json.loads(path.read_text())["files"][0]
    out = tmp_path / "out.png"
    old = tmp_path / "old.json"
    v1 = _version_1(old, {**entry, "output": str(out)})
    with pytest.raises(InputError, match="cannot be verified to be the file the regions were made for"):
        ReviewSession.open(old)
    assert review_main(["--regions", str(old), "--no-browser"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"unseen review: {entry['input']}: the regions file records no SHA-256 of this input (an "
        "unseen.regions/1 file records none), so it cannot be verified to be the file the regions were "
        "made for; refusing to review it (unseen review --unverified reviews it anyway)"
    ]

    session = ReviewSession.open(old, unverified=True)
    session.edit(0, {**REVIEWED, "version": 0})
    saved = json.loads(old.read_text())
    assert saved["schema"] == "unseen.regions/2" and saved["files"][0]["reviewed"] is True
    assert saved["files"][0]["sha256"] is None and saved["files"][0]["size"] is None
    assert {r["action"] for r in saved["files"][0]["regions"]} == {"obscure"}
    with pytest.raises(InputError, match="refusing to review it"):  # still unverifiable, still asked
        ReviewSession.open(old)
    assert session.export() == [{"index": 0, "output": str(out), "ok": True}]  # as render --unverified

    v1["files"][0]["height"] += 1  # a /1 file for a picture of another size: refused
    old.write_text(json.dumps(v1))
    with pytest.raises(InputError, match="refusing to apply it"):
        ReviewSession.open(old, unverified=True)


def test_review_unverified_warns_once(served, tmp_path):
    _, path = served
    old = tmp_path / "old.json"
    _version_1(old, {**json.loads(path.read_text())["files"][0], "output": str(tmp_path / "out.png")})
    proc = subprocess.Popen(
        [sys.executable, "-m", "unseen", "review", "--regions", str(old), "--unverified", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert "unseen review: http://127.0.0.1:" in proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert warnings == [
        f"unseen review: warning: 1 file(s) in {old} have no SHA-256 (unseen.regions/1): checked by "
        "picture size only, they cannot be verified to be the files the regions were made for; Export "
        "writes them anyway"
    ]


@pytest.fixture
def fresh(served, tmp_path):
    """A server of its own on a copy of the served regions file (its edits stay in this test)."""
    path = tmp_path / "regions.json"
    path.write_bytes(served[1].read_bytes())
    server = ReviewServer(ReviewSession.open(path))
    server.start()
    yield server, path
    server.stop()


def test_concurrent_edits_are_all_kept(fresh):
    """Tabs editing at once: every edit acknowledged is in the regions file (one made on a version
    another edit has changed since is refused with 409, and sent again on the new version)."""
    server, path = fresh
    before = len(load_document(path).files[0].regions)
    tabs = 12
    start = threading.Barrier(tabs)
    acknowledged: list[dict] = []
    stale: list[int] = []

    def tab(i: int) -> None:
        region = {"box": [10.0 + i, 12.0, 40.0 + i, 50.0], "score": 1.0, "source": "manual"}
        region |= {"frame": 0, "track": -1, "action": "obscure"}
        with _client(server) as client:
            start.wait()
            while True:
                version = client.get("/api/files/0").json().get("version")
                reply = client.patch(
                    "/api/files/0", json={"ops": [{"op": "add", "regions": [region]}], "version": version}
                )
                if reply.status_code == 200:
                    acknowledged.append(region)
                    return
                assert reply.status_code == 409 and "reload" in reply.text, reply.text
                stale.append(i)

    threads = [threading.Thread(target=tab, args=(i,)) for i in range(tabs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    saved = load_document(path).files[0].records()
    assert len(acknowledged) == tabs
    assert [r for r in acknowledged if r not in saved] == []
    assert len(saved) == before + tabs
    with _client(server) as client:
        assert client.get("/api/files/0").json()["version"] == tabs


def test_an_edit_made_on_an_earlier_version_is_refused(fresh):
    server, path = fresh
    with _client(server) as first, _client(server) as second:
        loaded = first.get("/api/files/0").json()
        region = loaded["regions"][0]
        reply = second.patch("/api/files/0", json={**REVIEWED, "version": loaded["version"]})
        assert reply.status_code == 200 and reply.json()["version"] == loaded["version"] + 1
        keep = [{"op": "replace", "regions": [[region, {**region, "action": "keep"}]]}]
        stale = first.patch("/api/files/0", json={"ops": keep, "version": loaded["version"]})
        assert stale.status_code == 409 and "reload" in stale.text
        entry = load_document(path).files[0]
        assert entry.reviewed and entry.records()[0] == region  # the second tab's edit, not the stale one
        again = first.get("/api/files/0").json()  # reloaded: the edit applies to the new version
        assert first.patch("/api/files/0", json={"ops": keep, "version": again["version"]}).status_code == 200
        assert load_document(path).files[0].records()[0]["action"] == "keep"


def _regions_json(path: Path) -> dict:
    """The regions file as a strict reader sees it (standard JSON: no NaN, no Infinity)."""
    return json.loads(path.read_text(), parse_constant=lambda name: pytest.fail(f"{name} in {path}"))


def test_numbers_are_checked_as_they_will_be_stored(fresh):
    """Each number of an edit is checked as stored (float32 boxes and scores, int32 track ids): a
    number too large for it, not finite or absurdly far out is refused with a one-line 400, never a
    500, and nothing is stored."""
    server, path = fresh
    saved = path.read_bytes()
    with _client(server) as client:
        region = client.get("/api/files/0").json()["regions"][0]
        record = json.dumps({**region, "box": [1, 2, 3, 4]})
        huge = "9" * 401
        bad_records = [
            record.replace("[1, 2, 3, 4]", f"[1, 2, 3, {v}]")
            for v in ("1e308", "-1e39", huge, "Infinity", "NaN")
        ]
        bad_records += [record.replace("[1, 2, 3, 4]", "[1, 2, 3e38, 4]")]  # a finite float32, far out
        bad_records += [
            record.replace(f'"score": {json.dumps(region["score"])}', f'"score": {v}')
            for v in ("NaN", "1e39", huge)
        ]
        bad_records += [
            record.replace(f'"track": {region["track"]}', f'"track": {v}') for v in (10**30, 2**31, huge)
        ]
        ops = [f'{{"op": "add", "regions": [{r}]}}' for r in bad_records]
        ops += [f'{{"op": "replace", "regions": [[{json.dumps(region)}, {r}]]}}' for r in bad_records[:3]]
        ops += [f'{{"op": "add_zone", "box": [0, 0, 10, {v}]}}' for v in ("1e308", huge, "3e38", "Infinity")]
        ops += [f'{{"op": "action", "track": {v}, "action": "keep"}}' for v in (10**30, huge)]
        ops += [f'{{"op": "split", "track": 0, "frame": 0, "into": {10**30}}}']
        ops += [f'{{"op": "merge", "track": 0, "from": {10**30}}}']
        ops += ['{"op": "reviewed", "value": ' + "[" * 20 + "]" * 20 + "}"]  # valid JSON, nested too deep
        bodies = [f'{{"ops": [{op}], "version": 0}}' for op in ops]
        bodies += ["[" * 100_000 + "]" * 100_000, '{"ops": [], "version": ' + huge * 20 + "}"]
        for body in bodies:
            reply = client.patch("/api/files/0", content=body)
            assert reply.status_code == 400, (body[:200], reply.status_code, reply.text)
            assert reply.text.startswith("refused: ") and "\n" not in reply.text and len(reply.text) < 400
        assert path.read_bytes() == saved  # nothing stored
        assert client.get("/api/files/0/picture?output=1").status_code == 200
    _regions_json(path)


def _raw(server: ReviewServer, head: bytes, parts: Iterator[bytes]) -> bytes:
    """Send a request's head, then its body part by part while the server reads it; its reply."""
    cookie = f"unseen_review_{server.port}={server.token}".encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as conn:
        conn.sendall(head.replace(b"\r\n\r\n", b"\r\nCookie: " + cookie + b"\r\n\r\n", 1))
        with contextlib.suppress(OSError):  # the server may close the connection once it has refused
            for part in parts:
                conn.sendall(part)
        return conn.recv(4096)


def test_a_huge_body_is_refused_without_being_read(fresh):
    server, path = fresh
    saved = path.read_bytes()
    host = f"Host: 127.0.0.1:{server.port}".encode()
    declared = b"PATCH /api/files/0 HTTP/1.1\r\n" + host + b"\r\nContent-Length: 400000000\r\n\r\n"
    assert _raw(server, declared, iter([])).startswith(b"HTTP/1.1 413")
    # Undeclared (chunked): refused once past the limit; the client stops after 10 MiB.
    chunked = b"PATCH /api/files/0 HTTP/1.1\r\n" + host + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
    mib = b"%x\r\n" % (1 << 20) + b" " * (1 << 20) + b"\r\n"
    assert _raw(server, chunked, iter([mib] * 10)).startswith(b"HTTP/1.1 413")
    assert path.read_bytes() == saved


def test_the_regions_file_is_always_standard_json(fresh):
    server, path = fresh
    saved = path.read_bytes()
    session = server.session
    entry = session.entry(0)
    entry.regions.scores[0] = np.nan  # however it got there, it is not written
    with pytest.raises(OutputError, match="cannot write regions file: Out of range float"):
        session.save()
    entry.regions.scores[0] = 1.0
    entry.regions.boxes[0, 2] = np.inf
    with pytest.raises(OutputError, match="cannot write regions file"):
        session.save()
    assert path.read_bytes() == saved


def test_ctrl_c_that_python_drops_in_a_finaliser_still_stops_the_review(served, tmp_path):
    """CI hung once: Ctrl-C, sent as soon as the address was printed, raised KeyboardInterrupt in a
    weakref callback, where Python prints it and drops it, and the review served on for ever."""
    path = tmp_path / "regions.json"
    path.write_bytes(served[1].read_bytes())
    server = ReviewServer(ReviewSession.open(path))
    timer = threading.Timer(20, lambda: setattr(server.server, "should_exit", True))  # the test's own stop
    timer.start()
    try:
        with server.stopped_by_signals():

            class Watched:
                pass

            watched = Watched()
            ref = weakref.ref(watched, lambda _: signal.raise_signal(signal.SIGINT))
            del watched  # the callback runs here, with Ctrl-C
            server.serve()
    finally:
        timer.cancel()
    assert ref() is None
    assert signal.SIGINT in server.server._captured_signals  # stopped by Ctrl-C, not by the timer
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
