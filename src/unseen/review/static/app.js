// unseen review page: plain JavaScript and SVG, no build step, nothing loaded from elsewhere.
// The server holds the truth: every change is sent at once, as a few operations (PATCH; their size
// does not grow with the video's length), and written to the regions file there, so a reload or a
// crash loses nothing. The page applies the same operations to its copy and keeps their inverses
// for undo and redo.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const MIN_SIDE = 4; // a drawn box smaller than this (image pixels) is a click, not a region
const FOLLOW_CHUNK = 8; // frames asked for at a time while following: a person can stop between
const CHAIN_GAP = 24; // frames: suggestions this close (keyframes are 8 apart) can be the same face
const $ = (id) => document.getElementById(id);

const state = {
  files: [],
  index: -1, // the file shown
  info: null, // its summary (kind, width, height, frames)
  regions: [], // its regions: {box, score, source, frame, track, action}
  reviewed: false,
  keepOnly: false, // the whole picture is obscured but the regions kept
  zones: [], // static zones: boxes obscured on every frame
  zone: -1, // the selected zone (index into zones)
  drawingZone: false, // the next box drawn is a zone
  selected: -1, // index into regions
  chosen: new Set(), // several regions picked at once (shift-click, marquee, a group): indices
  track: null, // selected track (video)
  mergeInto: null, // after M: the track the next track picked is merged into
  undo: [], // steps: {ops, undo}
  redo: [],
  version: 0, // bumped by every applied edit (derived views are rebuilt when it changes)
  preview: false,
  frame: 0,
  drag: null,
  following: null, // {stop} while a drawn region is being followed
};

// ------------------------------------------------------------------------------------ server

let saving = Promise.resolve();
let unsaved = 0; // edits sent and not yet stored: "saved" is said only once none is left
const unsavedIn = new Map(); // the same, per file
const lastSave = new Map(); // per file, its edits' saving (opening it again waits for that only)
const painted = {}; // per file, its version whose output the preview shows (a new one after each edit)
const pending = []; // boxes painted by edits the preview does not show yet: {index, frame, box, since}

function status(text, error = false) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", error);
}

const RETRY_SECONDS = 5; // while the server does not answer, the page asks again this often

// A request to the server. If the server cannot be reached at all (stopped, the laptop asleep),
// the request waits and is sent again once it answers (every RETRY_SECONDS, or at once with
// "Try again"), so no edit is lost or sent out of order; a refusal (an HTTP error) throws.
async function api(method, url, body) {
  const options = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  for (;;) {
    let reply;
    try {
      reply = await fetch(url, options);
    } catch (err) {
      await serverGone(); // fetch throws only when nothing answered
      continue;
    }
    serverBack();
    if (!reply.ok) throw Object.assign(new Error(`${reply.status} ${await reply.text()}`), { status: reply.status });
    return reply.json();
  }
}

let retryNow = null; // resolves the wait for the next try
let note = ""; // said after "saved" until the next edit (what an edit means beyond itself)

function serverGone() {
  const banner = $("offline");
  banner.hidden = false;
  const waiting = unsaved ? `${unsaved} edit${unsaved === 1 ? "" : "s"} not saved yet, kept on this page and sent once it answers. ` : "";
  $("offline-text").textContent =
    `The review server is not answering: it was stopped, or this computer slept. ${waiting}` +
    `Trying again every ${RETRY_SECONDS} s. If it was stopped, start it again with ` +
    `"unseen review --regions ${$("regions-file").textContent}" and open the address it prints: ` +
    "every edit saved before is in that file.";
  status("server not answering", true);
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, RETRY_SECONDS * 1000);
    retryNow = () => {
      clearTimeout(timer);
      resolve();
    };
  });
}

function serverBack() {
  if ($("offline").hidden) return;
  $("offline").hidden = true;
  retryNow = null;
  status(unsaved ? "saving…" : "server answering again");
}

// Send ``ops`` (already applied here) to the server, after the edits sent before them, with the
// file's version they were made on. Refused as stale (409: another tab changed the file), the file
// is loaded again from the server and the person told; the edits queued behind it are refused too.
// ``quiet``: says nothing unless it fails (a sweep's progress, sent at every tile).
// The page has shown the edit already (its regions, and in the preview, what it paints): nothing
// waits for the server but another file's opening or Export (which wait for this file's edits).
function send(ops, quiet = false) {
  const index = state.index;
  if (!quiet) paintAhead(index, ops);
  if (!quiet) status("saving…");
  unsaved += 1;
  unsavedIn.set(index, (unsavedIn.get(index) || 0) + 1);
  const stored = () => {
    unsaved -= 1;
    unsavedIn.set(index, unsavedIn.get(index) - 1);
  };
  saving = saving
    .then(() => api("PATCH", `/api/files/${index}`, { ops, version: state.files[index].version }))
    .then((summary) => {
      stored();
      state.files[index] = summary;
      if (!quiet) painted[index] = summary.version; // a sweep's progress changes no pixel
      renderFiles();
      if (!quiet || $("status").textContent === "saving…") status(unsaved ? "saving…" : note ? `saved · ${note}` : "saved");
      if (index === state.index) draw(); // the coverage, and the preview, follow the edit
    })
    .catch((err) => {
      stored();
      pending.length = 0;
      forgetHistory(index); // the page and the file may disagree now: no undo across that
      if (err.status !== 409) return status(`not saved: ${err.message} (reload the page to see the file as saved)`, true);
      const name = state.files[index].name;
      const told = () => status(`not saved: ${name} was changed elsewhere (another tab?); reloaded it, make your change again`, true);
      if (index === state.index && !unsaved) saving.then(() => openFile(index, state.frame)).then(told);
      else told();
    });
  lastSave.set(index, saving);
  return saving;
}

// The boxes ``ops`` paint (regions added or changed to obscure, zones), drawn painted over the
// preview until the server's picture of the output after them is shown.
function paintAhead(index, ops) {
  const since = painted[index] ?? 0;
  const before = pending.length;
  for (const op of ops) {
    const now = op.op === "add" ? op.regions : op.op === "replace" ? op.regions.map(([, r]) => r) : [];
    for (const r of now) if (r.action === "obscure") pending.push({ index, frame: r.frame, box: r.box, since });
    if (op.op === "add_zone") pending.push({ index, frame: null, box: op.box, since });
  }
  return pending.length > before;
}

// The version of the file whose output the picture shown is (-1: not the output, or not loaded).
function shownVersion() {
  const img = $("picture");
  const params = new URLSearchParams((img.dataset.url || "").split("?")[1]);
  return params.get("output") === "1" && img.complete ? Number(params.get("v")) : -1;
}

// ------------------------------------------------------------------------------------ history

// Undo and redo are kept per file in the tab's session storage, so they survive changing file
// and reloading the page (not closing the tab). A history is used again only while the file
// has as many regions and zones as when it was stored: else it was changed elsewhere.
const historyKey = (index) => `unseen-review:${$("regions-file").textContent}:${index}`;

function storeHistory() {
  const record = { regions: state.regions.length, zones: state.zones.length, undo: state.undo, redo: state.redo };
  for (;;) {
    try {
      sessionStorage.setItem(historyKey(state.index), JSON.stringify(record));
      return;
    } catch (err) {
      // full (a long video's follow runs are large): drop the oldest steps
      if (!record.undo.length && !record.redo.length) return;
      (record.undo.length ? record.undo : record.redo).shift();
    }
  }
}

function storedHistory(index, entry) {
  try {
    const record = JSON.parse(sessionStorage.getItem(historyKey(index)) || "null");
    if (record && record.regions === entry.regions.length && record.zones === entry.zones.length) {
      return { undo: record.undo, redo: record.redo };
    }
  } catch (err) {
    // unreadable: start afresh
  }
  return { undo: [], redo: [] };
}

function forgetHistory(index) {
  sessionStorage.removeItem(historyKey(index));
  if (index === state.index) state.undo = state.redo = [];
}

// ------------------------------------------------------------------------------------ edits

const copy = (r) => ({ ...r, box: [...r.box] });
const same = (a, b) =>
  a.frame === b.frame && a.track === b.track && a.score === b.score && a.source === b.source &&
  a.action === b.action && a.box.every((v, i) => v === b.box[i]);

// Apply operations (as unseen/review/edits.py does) to the page's copy; returns those that undo them.
// Interpolations are re-run last, once the drawn keys they follow are back.
function apply(ops) {
  const undo = [];
  const filled = new Set();
  for (const op of ops) {
    if (op.op === "reviewed") {
      undo.push({ op: "reviewed", value: state.reviewed });
      state.reviewed = op.value;
    } else if (op.op === "keep_only") {
      undo.push({ op: "keep_only", value: state.keepOnly });
      state.keepOnly = op.value;
    } else if (op.op === "action" || op.op === "method") {
      undo.push(...setTrack(op, op.op));
    } else if (op.op === "replace") {
      for (const [old, now] of op.regions) state.regions[find(old)] = copy(now);
      undo.push({ op: "replace", regions: op.regions.map(([old, now]) => [now, old]) });
    } else if (op.op === "remove") {
      for (const gone of op.regions) state.regions.splice(find(gone), 1);
      undo.push({ op: "add", regions: op.regions });
    } else if (op.op === "add") {
      state.regions.push(...op.regions.map(copy));
      undo.push({ op: "remove", regions: op.regions });
    } else if (op.op === "add_zone") {
      state.zones.push([...op.box]);
      undo.push({ op: "remove_zone", box: op.box });
    } else if (op.op === "remove_zone") {
      const at = state.zones.findIndex((z) => z.every((v, i) => v === op.box[i]));
      if (at < 0) throw new Error("the page and the regions file disagree: reload the page");
      state.zones.splice(at, 1);
      state.zone = -1;
      undo.push({ op: "add_zone", box: op.box });
    } else if (op.op === "split") {
      for (const r of state.regions) if (r.track === op.track && r.frame >= op.frame) r.track = op.into;
      undo.push({ op: "merge", track: op.track, from: op.into });
    } else if (op.op === "merge") {
      undo.push(...merge(op));
    } else if (op.op === "interpolate") {
      interpolate(op.track);
      filled.add(op.track);
    }
  }
  state.version += 1;
  return [...undo.reverse(), ...[...filled].map((track) => ({ op: "interpolate", track }))];
}

function find(record) {
  const at = state.regions.findIndex((r) => same(r, record));
  if (at < 0) throw new Error("the page and the regions file disagree: reload the page");
  return at;
}

// Set the action or the method (``key``) of a track's regions (frames [first, last] only, if given);
// the undo is one operation per run of frames that had another value, so it stays small too. A
// region without a method is painted as the run's options say (null).
function setTrack(op, key) {
  const { track, frames } = op;
  const value = op[key] ?? null;
  const hit = state.regions
    .filter((r) => r.track === track && r.action !== "suggested")
    .filter((r) => !frames || (r.frame >= frames[0] && r.frame <= frames[1]))
    .sort((a, b) => a.frame - b.frame);
  const runs = [];
  for (const r of hit) {
    const run = runs[runs.length - 1];
    const was = r[key] ?? null;
    if (run && run[key] === was) run.frames[1] = r.frame;
    else runs.push({ op: op.op, track, [key]: was, frames: [r.frame, r.frame] });
    if (value === null) delete r[key];
    else r[key] = value;
  }
  return runs.filter((run) => run[key] !== value);
}

// Track ``from``'s regions (on ``frames`` only, if given) become track ``track``'s. The undo gives
// them back: a run of frames where only ``from`` had regions in one operation, and on a frame both
// had one, ``from``'s regions one by one (those of ``track`` there stay where they are).
function merge({ track, from, frames }) {
  const moved = state.regions.filter((r) => r.track === from && (!frames || (r.frame >= frames[0] && r.frame <= frames[1])));
  const theirs = new Set(state.regions.filter((r) => r.track === track).map((r) => r.frame));
  const mine = new Set(moved.map((r) => r.frame));
  const undo = [];
  let run = null;
  for (const f of [...new Set([...theirs, ...mine])].sort((a, b) => a - b)) {
    if (!mine.has(f) || theirs.has(f)) run = null;
    else if (run) run.frames[1] = f;
    else undo.push((run = { op: "merge", track: from, from: track, frames: [f, f] }));
  }
  const shared = moved.filter((r) => theirs.has(r.frame)).map((r) => [{ ...copy(r), track }, copy(r)]);
  if (shared.length) undo.push({ op: "replace", regions: shared });
  for (const r of moved) r.track = track;
  return undo;
}

// One undoable step: apply ``ops``, send them; the file is no longer reviewed unless ``keepsReview``.
// ``select`` (a record) is selected afterwards. Returns false if nothing changed.
function commit(ops, { keepsReview = false, select = null, say = "" } = {}) {
  const before = state.regions.length;
  let undone = apply(ops);
  if (!undone.length) return false;
  if (state.regions.length !== before) state.chosen = new Set(); // indices moved
  note = say;
  if (!keepsReview && state.reviewed) {
    const unmark = { op: "reviewed", value: false };
    undone = [...apply([unmark]), ...undone];
    ops = [...ops, unmark];
  }
  state.undo.push({ ops, undo: undone });
  state.redo = [];
  storeHistory();
  if (select) reselect(select);
  send(ops); // first: what the edit paints is drawn with it
  draw();
  return true;
}

// Select ``record`` again after an edit; if the edit changed it (its action, say), the region now
// in its place.
function reselect(record) {
  state.selected = state.regions.findIndex((r) => same(r, record));
  if (state.selected < 0) {
    state.selected = state.regions.findIndex((r) => r.frame === record.frame && r.track === record.track && r.box.every((v, i) => v === record.box[i]));
  }
}

function replay(from, to, which) {
  if (state.following) return; // the step being followed is not finished
  const step = from.pop();
  if (!step) return;
  state.chosen = new Set();
  const selected = selectedRegion() && copy(selectedRegion());
  try {
    apply(step[which]);
  } catch (err) {
    forgetHistory(state.index);
    status(`cannot ${which === "undo" ? "undo" : "redo"}: ${err.message}`, true);
    return draw();
  }
  to.push(step);
  storeHistory();
  if (selected) reselect(selected);
  send(step[which]);
  draw();
}

const undo = () => replay(state.undo, state.redo, "undo");
const redo = () => replay(state.redo, state.undo, "ops");

const isVideo = () => state.info && state.info.kind === "video";
const selectedRegion = () => state.regions[state.selected];

// The regions an action applies to: those picked together, or the one selected.
function picked() {
  if (state.chosen.size) return [...state.chosen].map((i) => state.regions[i]).filter(Boolean);
  return selectedRegion() ? [selectedRegion()] : [];
}

// Keep or obscure what is picked (in a video, a region's whole track), as one step.
function setAction(action) {
  const rs = picked().filter((r) => r.action !== "suggested" && r.action !== action);
  if (!rs.length) return;
  const tracks = isVideo() ? [...new Set(rs.filter((r) => r.track >= 0).map((r) => r.track))] : [];
  const ops = tracks.map((track) => ({ op: "action", track, action }));
  const single = rs.filter((r) => !isVideo() || r.track < 0);
  if (single.length) ops.push({ op: "replace", regions: single.map((r) => [copy(r), { ...copy(r), action }]) });
  commit(ops);
}

// How the selected region (a whole track in a video) is painted: a method, or null for the run's.
function setMethod(method) {
  const rs = picked().filter((r) => r.action !== "suggested" && (r.method ?? null) !== method);
  if (!rs.length) return;
  const tracks = isVideo() ? [...new Set(rs.filter((r) => r.track >= 0).map((r) => r.track))] : [];
  const ops = tracks.map((track) => ({ op: "method", track, method }));
  const single = rs.filter((r) => !isVideo() || r.track < 0);
  const changed = (r) => {
    const now = copy(r);
    if (method === null) delete now.method;
    else now.method = method;
    return now;
  };
  if (single.length) ops.push({ op: "replace", regions: single.map((r) => [copy(r), changed(r)]) });
  commit(ops);
}

// T: what is picked (in a video, its whole track) is text (a plate, a badge: painted as a box), or a face again.
function toggleText() {
  const rs = picked();
  if (!rs.length) return;
  const kind = rs.every((r) => r.kind === "text") ? "face" : "text";
  const tracks = new Set(rs.filter((r) => isVideo() && r.track >= 0).map((r) => r.track));
  const all = [...new Set([...rs, ...state.regions.filter((r) => tracks.has(r.track))])];
  commit([{ op: "replace", regions: all.map((r) => [copy(r), { ...copy(r), kind }]) }]);
}

function setTrackAction(track, action) {
  commit([{ op: "action", track, action }]); // changes the regions in place: the selection stays
}

// Cut the selected track at the frame shown: from it on, the regions are a new track, kept or
// obscured on their own. A drawn track's regions next to the cut become drawn keys, so that each part
// still spans its frames once it is filled again between its keys (after an edit of a key).
function split() {
  const track = state.track;
  const frame = state.frame;
  const mine = state.regions.filter((r) => r.track === track);
  if (!isVideo() || track === null || !mine.some((r) => r.frame < frame) || !mine.some((r) => r.frame >= frame)) {
    status("split: select a track, then a frame after its first one");
    return;
  }
  const ops = [];
  if (mine.every((r) => r.source === "manual" || r.source === "interpolated")) {
    const before = Math.max(...mine.filter((r) => r.frame < frame).map((r) => r.frame));
    const after = Math.min(...mine.filter((r) => r.frame >= frame).map((r) => r.frame));
    const ends = mine.filter((r) => (r.frame === before || r.frame === after) && r.source === "interpolated");
    if (ends.length) ops.push({ op: "replace", regions: ends.map((r) => [copy(r), { ...copy(r), source: "manual" }]) });
  }
  const into = nextTrackId();
  ops.push({ op: "split", track, frame, into });
  state.track = into;
  commit(ops);
  state.selected = state.regions.findIndex((r) => r.track === into && r.frame === frame);
  draw();
}

// M: the next track picked (its card, its lane or one of its regions) is merged into the selected one.
function startMerge() {
  if (!isVideo() || state.track === null || state.track < 0) return;
  state.mergeInto = state.track;
  status(`merge: pick the track to merge into track ${state.track} (Esc cancels)`);
  draw();
}

function pickedForMerge(track) {
  const into = state.mergeInto;
  if (into === null || track === null || track < 0 || track === into) return false;
  mergeTracks(into, track);
  return true;
}

function mergeTracks(into, from) {
  state.mergeInto = null;
  state.track = into;
  commit([{ op: "merge", track: into, from }]);
}

function nextTrackId() {
  return state.regions.reduce((m, r) => Math.max(m, r.track), -1) + 1;
}

// An accepted suggestion is the person's region (as a video's is: a drawn track): it stays outlined
// however weak, and is painted as one they drew (over a kept face too).
function accept() {
  if (!isVideo()) {
    const rs = picked().filter((r) => r.action === "suggested");
    const mine = (r) => ({ ...copy(r), action: "obscure", source: "manual" });
    if (rs.length) commit([{ op: "replace", regions: rs.map((r) => [copy(r), mine(r)]) }]);
    return;
  }
  const r = selectedRegion();
  if (!r || r.action !== "suggested" || state.following) return;
  pause();
  // In a video, the same face's suggestions on nearby keyframes become one drawn track ...
  const track = nextTrackId();
  const keys = chain(r).map(copy).sort((a, b) => a.frame - b.frame);
  const drawn = keys.map((k) => ({ ...k, action: "obscure", source: "manual", track }));
  const accepted = drawn[keys.findIndex((k) => same(k, r))];
  state.track = track;
  commit([{ op: "replace", regions: keys.map((k, i) => [k, drawn[i]]) }, { op: "interpolate", track }], {
    select: accepted,
  });
  extendAccepted(drawn[0], drawn[drawn.length - 1], accepted);
}

// ... which is then followed from its first key back and from its last on, for as long as the face
// is found (a suggestion is only a keyframe's: the face is there before and after it). Part of the
// accept's undo step; Esc stops it.
async function extendAccepted(first, last, accepted) {
  const edit = state.undo[state.undo.length - 1];
  const index = state.index;
  const run = { stop: false };
  state.following = run;
  status("accepted; following the face before and after it… (Esc stops)");
  draw();
  let added = 0;
  try {
    for (const [start, step] of [[first, -1], [last, 1]]) {
      if (!run.stop) added += (await followFrom(start, step, run, edit)).added;
    }
  } catch (err) {
    status(`following the accepted face failed: ${err.message}`, true);
  } finally {
    state.following = null;
  }
  if (state.index !== index) return;
  storeHistory();
  showFrame(accepted.frame);
  reselect(accepted);
  draw();
  await saving;
  const frames = state.regions.filter((r) => r.track === accepted.track).length;
  status(`accepted over ${frames} frame${frames === 1 ? "" : "s"} (followed ${added}${run.stop ? ", stopped" : ""})`);
}

function iou(a, b) {
  const ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy;
  return union > 0 ? (ix * iy) / union : 0;
}

// Suggestions linked to ``start`` frame by frame: each overlaps the last and is at most CHAIN_GAP away.
function chain(start) {
  const suggested = state.regions.filter((r) => r.action === "suggested" && r !== start);
  const linked = [start];
  for (const direction of [1, -1]) {
    let last = start;
    for (;;) {
      const next = suggested
        .filter((r) => !linked.includes(r))
        .filter((r) => (r.frame - last.frame) * direction > 0 && Math.abs(r.frame - last.frame) <= CHAIN_GAP)
        .sort((a, b) => Math.abs(a.frame - last.frame) - Math.abs(b.frame - last.frame))
        .find((r) => iou(r.box, last.box) > 0.3);
      if (!next) break;
      linked.push(next);
      last = next;
    }
  }
  return linked;
}

function reject() {
  if (state.zone >= 0) return commit([{ op: "remove_zone", box: [...state.zones[state.zone]] }]);
  const gone = picked();
  if (!gone.length) return;
  state.selected = -1;
  state.chosen = new Set();
  const ops = [{ op: "remove", regions: gone.map(copy) }];
  const drawn = new Set(gone.filter((r) => isVideo() && r.source === "manual" && r.track >= 0).map((r) => r.track));
  for (const track of drawn) ops.push({ op: "interpolate", track });
  commit(ops);
}

// "Obscure everything except the people I keep": the whole picture, even a face nobody found.
function toggleKeepOnly() {
  commit([{ op: "keep_only", value: !state.keepOnly }]);
}

function toggleReviewed() {
  const share = sweptShare(state.index);
  const unswept = !state.reviewed && share !== null && share < 1;
  const say = unswept ? `marked reviewed without a full sweep (${sweptLabel(state.index)} swept; W sweeps)` : "";
  commit([{ op: "reviewed", value: !state.reviewed }], { keepsReview: true, say });
}

// A drawn track (every region of it drawn or filled in): fill the frames between its drawn keys.
function interpolate(track) {
  const mine = state.regions.filter((r) => r.track === track);
  if (!mine.length || mine.some((r) => r.source !== "manual" && r.source !== "interpolated")) return;
  const keys = mine.filter((r) => r.source === "manual").sort((a, b) => a.frame - b.frame);
  state.regions = state.regions.filter((r) => r.track !== track || r.source === "manual");
  for (let k = 1; k < keys.length; k++) {
    const a = keys[k - 1];
    const b = keys[k];
    for (let f = a.frame + 1; f < b.frame; f++) {
      const t = (f - a.frame) / (b.frame - a.frame);
      const box = a.box.map((v, i) => Math.round((v + t * (b.box[i] - v)) * 10) / 10);
      const method = a.method ? { method: a.method } : {};
      state.regions.push({ box, score: 1, source: "interpolated", frame: f, track, ...method, action: a.action });
    }
  }
}

// ------------------------------------------------------------------------------------ following

function canFollow() {
  const r = selectedRegion();
  return isVideo() && !state.following && r !== undefined && r.source === "manual" && r.track >= 0;
}

// Follow the selected drawn region through the next (step 1) or previous (-1) frames until stopped
// (see followFrom). The whole run is one undoable step; each chunk is saved as it comes.
async function follow(step) {
  pause();
  if (!canFollow()) return;
  const start = selectedRegion();
  const index = state.index;
  const edit = { ops: [], undo: [] }; // the whole run is one step
  const run = { stop: false };
  state.following = run;
  state.track = start.track;
  status("following… (Esc stops)");
  draw();
  let done = { added: 0, at: start, ended: false };
  try {
    done = await followFrom(start, step, run, edit);
  } catch (err) {
    status(`following failed: ${err.message}`, true);
  } finally {
    state.following = null;
  }
  if (state.index !== index) return;
  if (done.added) {
    unmarkReviewed(edit);
    state.undo.push(edit);
    state.redo = [];
    storeHistory();
  }
  draw();
  await saving;
  const { added, at, ended } = done;
  const inside = step > 0 ? at.frame < state.info.frames - 1 : at.frame > 0; // the video goes on
  const why = run.stop ? " (stopped)" : ended && inside ? " (the face was lost or left the picture)" : "";
  status(`followed ${added} frame${added === 1 ? "" : "s"}${why}`);
}

// Follow drawn region ``start`` through the frames after (step 1) or before (-1) it, a chunk at a
// time, adding each box to its track, until ``run.stop``, the video's end, a frame drawn by hand, or
// where the server stops (the face lost, or out of the picture); the frame shown goes along. The
// operations and their undo are added to ``edit``. Returns the frames added, the last box, and
// whether the face (or the video) ended.
async function followFrom(start, step, run, edit) {
  const { track, action } = start;
  const index = state.index;
  let at = { frame: start.frame, box: start.box };
  let added = 0;
  let ended = false;
  while (!run.stop && !ended) {
    const body = { frame: at.frame, box: at.box, step, count: FOLLOW_CHUNK };
    const { boxes } = await api("POST", `/api/files/${index}/follow`, body);
    if (run.stop || state.index !== index) break;
    ended = boxes.length < FOLLOW_CHUNK;
    const ops = [];
    for (const b of boxes) {
      const there = state.regions.filter((r) => r.track === track && r.frame === b.frame);
      if (there.some((r) => r.source === "manual")) {
        ended = true; // a key the person drew: theirs wins
        break;
      }
      if (there.length) ops.push({ op: "remove", regions: there.map(copy) });
      ops.push({ op: "add", regions: [{ box: b.box, score: 1, source: "manual", frame: b.frame, track, action }] });
      at = b;
      added += 1;
    }
    if (!ops.length) break;
    edit.undo = [...apply(ops), ...edit.undo];
    edit.ops.push(...ops);
    send(ops);
    state.frame = at.frame;
    state.selected = state.regions.findIndex((r) => r.track === track && r.frame === at.frame);
    draw();
  }
  return { added, at, ended };
}

// An edit step that changed regions: the file is no longer reviewed (one more operation in it).
function unmarkReviewed(edit) {
  if (!state.reviewed) return;
  const unmark = { op: "reviewed", value: false };
  edit.undo = [...apply([unmark]), ...edit.undo];
  edit.ops.push(unmark);
  send([unmark]);
}

function stopFollowing() {
  if (state.following) state.following.stop = true;
}

// ------------------------------------------------------------------------------------ drawing

function svgPoint(event) {
  const svg = $("overlay");
  const p = svg.createSVGPoint();
  p.x = event.clientX;
  p.y = event.clientY;
  const q = p.matrixTransform(svg.getScreenCTM().inverse());
  return [Math.min(Math.max(q.x, 0), state.info.width), Math.min(Math.max(q.y, 0), state.info.height)];
}

// The regions outlined on the picture, each as [region, index, members]: the boxes of one face on
// one frame (several passes or tracks found it) as one region, members its indices (the largest box
// first), if ``outlined``. The rest are painted all the same and drawn as one faint layer (faint()).
function visible() {
  return shownGroups().outlined.map((g) => [state.regions[g[0]], g[0], g]);
}

// The painted regions the filter leaves out of the outlines (groups): drawn as one faint layer.
const faint = () => shownGroups().faint;

// The frame's groups parted into outlined and faint, once per frame, edit, filter and selection.
let parted = { key: null };

function shownGroups() {
  const key = [state.version, state.index, state.frame, filter.score, filter.size, filter.all, state.selected, [...state.chosen].join()].join("|");
  if (parted.key !== key) {
    const groups = frameGroups();
    const on = groups.map(outlined);
    parted = { key, outlined: groups.filter((_, i) => on[i]), faint: groups.filter((_, i) => !on[i]) };
  }
  return parted;
}

// Whether region group ``g`` is outlined. What is not painted (a suggestion, a kept face), what a
// person drew, text and what is picked always is; a painted region only when its best score (in a
// video its track's) and its size pass the filter, or with every region shown (V). A painted region
// left out is never hidden: it is drawn faint and counted.
function outlined(g) {
  if (filter.all) return true;
  const rs = g.map((i) => state.regions[i]);
  if (rs.some((r) => r.action !== "obscure" || isDrawn(r) || r.kind === "text")) return true;
  if (g.includes(state.selected) || g.some((i) => state.chosen.has(i))) return true;
  const { trackScore } = derived();
  const score = Math.max(...rs.map((r) => (r.track >= 0 && trackScore.has(r.track) ? trackScore.get(r.track) : r.score)));
  const size = Math.max(...rs.map((r) => Math.max(r.box[2] - r.box[0], r.box[3] - r.box[1])));
  return score >= filter.score && size >= filter.size;
}

// The groups of the frame shown (a photo's only one), made once per frame and edit. In a video a
// drawn track's regions stay apart: their keys are moved and followed one by one.
function frameGroups() {
  const views = derived();
  if (!isVideo()) return views.groups;
  if (!views.frameGroups.has(state.frame)) {
    const here = views.byFrame.get(state.frame) || [];
    const alone = here.filter((i) => isDrawn(state.regions[i])).map((i) => [i]);
    views.frameGroups.set(state.frame, [...faceGroups(here.filter((i) => !isDrawn(state.regions[i]))), ...alone]);
  }
  return views.frameGroups.get(state.frame);
}

const boxArea = (b) => (b[2] - b[0]) * (b[3] - b[1]);

// Mirrors unseen.count.same_face: two boxes are one face when they share half the smaller one's
// area and neither is 3 times the other's size. The page only shows them together; the regions
// file keeps every box, and Export paints every one.
function sameFace(a, b) {
  const ix = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const iy = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (ix <= 0 || iy <= 0) return false;
  const size = (c) => Math.max(c[2] - c[0], c[3] - c[1]);
  const ratio = size(a) / size(b);
  return (ix * iy) / Math.max(Math.min(boxArea(a), boxArea(b)), 1e-6) >= 0.5 && ratio > 1 / 3 && ratio < 3;
}

// Regions ``indices`` (of one picture) in groups of one face's boxes with one action (suggestions
// stay apart).
function faceGroups(indices) {
  const parent = new Map(indices.map((i) => [i, i]));
  const root = (k) => (parent.get(k) === k ? k : (parent.set(k, root(parent.get(k))), parent.get(k)));
  const found = indices.map((i) => [state.regions[i], i]).filter(([r]) => r.action !== "suggested");
  for (let a = 0; a < found.length; a++) {
    for (let b = a + 1; b < found.length; b++) {
      const [ra, ia] = found[a];
      const [rb, ib] = found[b];
      if (ra.action === rb.action && sameFace(ra.box, rb.box)) parent.set(root(ia), root(ib));
    }
  }
  const by = new Map();
  indices.forEach((i) => {
    const k = root(i);
    if (!by.has(k)) by.set(k, []);
    by.get(k).push(i);
  });
  return [...by.values()].map((g) => g.sort((i, j) => boxArea(state.regions[j].box) - boxArea(state.regions[i].box)));
}

// A region a person drew (or one filled in between a drawn track's keys).
const isDrawn = (r) => r.source === "manual" || (r.source === "interpolated" && derived().drawnTracks.has(r.track));

// The regions to obscure painted over kept region ``k`` (indices): on its frame, overlapping it, and
// not merely another box of the same face found by a detector, which gives way to it (the rule of
// unseen.render.painted: a neighbour's face, or a region a person drew, stays painted over it).
function coveringKept(k) {
  const kept = state.regions[k];
  const { byFrame } = derived();
  const overlaps = (a, b) => Math.min(a[2], b[2]) > Math.max(a[0], b[0]) && Math.min(a[3], b[3]) > Math.max(a[1], b[1]);
  return (byFrame.get(kept.frame) || []).filter((i) => {
    const r = state.regions[i];
    return r.action === "obscure" && overlaps(r.box, kept.box) && (isDrawn(r) || !sameFace(r.box, kept.box));
  });
}

// Remove the regions painted over the selected kept face (a person's choice: one may be a neighbour).
function uncoverKept() {
  const r = selectedRegion();
  if (!r || r.action !== "keep") return;
  const over = coveringKept(state.selected).map((i) => copy(state.regions[i]));
  if (over.length) commit([{ op: "remove", regions: over }], { select: r });
}

// Painted regions scoring under FAINT_SCORE are drawn faint by default: on the crowd photos of the
// dev sample 9 in 10 of them lie on no face (hands, drums, flags); they are painted all the same.
const FAINT_SCORE = 0.3;
const filter = { score: FAINT_SCORE, size: 0, all: false }; // painted regions under either: drawn faint

// What the video view derives from all regions (a long video has hundreds of thousands): the
// regions of each frame and the tracks, made again only after an edit, not at every step.
let views = { version: -1, regions: null };

function derived() {
  if (views.version !== state.version || views.regions !== state.regions) {
    const byFrame = new Map();
    state.regions.forEach((r, i) => {
      if (!byFrame.has(r.frame)) byFrame.set(r.frame, []);
      byFrame.get(r.frame).push(i);
    });
    const drawnTracks = new Set(state.regions.filter((r) => r.source === "manual" && r.track >= 0).map((r) => r.track));
    const trackScore = new Map(); // a video's tracks: each one's best score
    for (const r of state.regions) if (r.track >= 0) trackScore.set(r.track, Math.max(trackScore.get(r.track) ?? 0, r.score));
    const groups = isVideo() ? [] : faceGroups(state.regions.map((_, i) => i));
    views = { version: state.version, regions: state.regions, byFrame, tracks: tracks(), groups, frameGroups: new Map(), drawnTracks, trackScore };
  }
  return views;
}

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

function drawOverlay() {
  const svg = $("overlay");
  svg.replaceChildren();
  if (!state.info) return;
  svg.setAttribute("viewBox", `0 0 ${state.info.width} ${state.info.height}`);
  // Zones (on every frame) below the regions.
  state.zones.forEach(([x1, y1, x2, y2], i) => {
    const cls = `zone${i === state.zone ? " selected" : ""}`;
    el("rect", { x: x1, y: y1, width: x2 - x1, height: y2 - y1, class: cls, "data-zone": i }, svg);
  });
  // The painted regions left out of the outlines: one faint layer, below the rest, not clickable.
  const weak = faint();
  if (weak.length) {
    const path = weak.flat().map((i) => {
      const [x1, y1, x2, y2] = state.regions[i].box;
      return `M${x1} ${y1}H${x2}V${y2}H${x1}Z`;
    });
    el("path", { d: path.join(""), class: "faint", "data-count": weak.length }, svg);
  }
  // Larger regions below smaller ones, the selected one on top: every region stays clickable.
  // Lines are drawn at screen size (non-scaling strokes); the handles too, outside the corners, so
  // that no region, however small on the screen, is hidden under its own handles.
  const union = (g) => [0, 1, 2, 3].map((k) => (k < 2 ? Math.min : Math.max)(...g.map((i) => state.regions[i].box[k])));
  const shown = visible().map(([r, i, g]) => [r, i, g, g.length > 1 ? union(g) : r.box]);
  const area = ([, i, , b]) => (i === state.selected ? -1 : (b[2] - b[0]) * (b[3] - b[1]));
  const h = HANDLE / view.scale;
  const many = state.chosen.size > 1;
  for (const [r, i, g, box] of shown.sort((a, b) => area(b) - area(a))) {
    const [x1, y1, x2, y2] = box;
    const on = (i === state.selected && !many) || g.some((k) => state.chosen.has(k));
    const covered = r.action === "keep" && g.some((k) => coveringKept(k).length);
    const cls = `region ${r.action}${on ? " selected" : ""}${r.source === "manual" ? " manual" : ""}${r.method ? ` m-${r.method}` : ""}${r.kind === "text" ? " text" : ""}${g.length > 1 ? " group" : ""}${covered ? " covered" : ""}`;
    el("rect", { x: x1, y: y1, width: x2 - x1, height: y2 - y1, class: cls, "data-index": i, ...(g.length > 1 ? { "data-members": g.join(",") } : {}) }, svg);
    if (g.length > 1) {
      const label = el("text", { x: x2 + 2 / view.scale, y: y1 + 12 / view.scale, class: "count", "font-size": 12 / view.scale }, svg);
      label.textContent = `×${g.length}`;
      if (on) for (const k of g) el("rect", { x: state.regions[k].box[0], y: state.regions[k].box[1], width: state.regions[k].box[2] - state.regions[k].box[0], height: state.regions[k].box[3] - state.regions[k].box[1], class: "member" }, svg);
    }
    if (i === state.selected && !many && g.length === 1) {
      for (const [cx, cy, corner] of [[x1 - h, y1 - h, "nw"], [x2, y1 - h, "ne"], [x1 - h, y2, "sw"], [x2, y2, "se"]]) {
        el("rect", { x: cx, y: cy, width: h, height: h, class: "handle", "data-corner": corner }, svg);
      }
    }
  }
  for (const [x1, y1, x2, y2] of frameHoles()) {
    el("rect", { x: x1, y: y1, width: x2 - x1, height: y2 - y1, class: "hole" }, svg);
  }
  if (state.preview) {
    const v = shownVersion();
    for (const p of pending) {
      if (p.index !== state.index || (p.frame !== null && p.frame !== state.frame) || v > p.since) continue;
      const [x1, y1, x2, y2] = p.box;
      el("rect", { x: x1, y: y1, width: x2 - x1, height: y2 - y1, class: "pending" }, svg);
    }
  }
  const boxes = shown.reduce((n, [, , g]) => n + g.length, 0);
  $("shown-label").textContent = `${shown.length} shown` + (boxes > shown.length ? ` for ${boxes} boxes` : "") +
    (weak.length ? ` · ${weak.length} weak or small, painted, drawn faint` : "");
  $("show-all").setAttribute("aria-pressed", String(filter.all));
  $("show-all").disabled = !weak.length && !filter.all;
  if (state.drag && (state.drag.kind === "draw" || state.drag.kind === "marquee") && state.drag.box) {
    const [x1, y1, x2, y2] = normalised(state.drag.box);
    el("rect", { x: x1, y: y1, width: x2 - x1, height: y2 - y1, class: state.drag.kind === "draw" ? "region drawing" : "marquee" }, svg);
  }
}

function normalised([x1, y1, x2, y2]) {
  return [Math.min(x1, x2), Math.min(y1, y2), Math.max(x1, x2), Math.max(y1, y2)].map((v) => Math.round(v * 10) / 10);
}

// Shift-click: add a region (a group: all its boxes) to those picked, or take it out again.
function toggleChosen(members) {
  if (!state.chosen.size && state.selected >= 0) state.chosen = new Set([state.selected]);
  const all = members.every((k) => state.chosen.has(k));
  for (const k of members) {
    if (all) state.chosen.delete(k);
    else state.chosen.add(k);
  }
  state.selected = state.chosen.size ? [...state.chosen][0] : -1;
  state.track = null;
  draw();
}

// A marquee (Shift+drag on the picture) picks every region shown whose middle lies inside it.
function chooseInside([x1, y1, x2, y2]) {
  const inside = ([r]) => {
    const cx = (r.box[0] + r.box[2]) / 2;
    const cy = (r.box[1] + r.box[3]) / 2;
    return cx >= x1 && cx <= x2 && cy >= y1 && cy <= y2;
  };
  state.chosen = new Set(visible().filter(inside).flatMap(([, , g]) => g));
  state.selected = state.chosen.size ? [...state.chosen][0] : -1;
  state.track = null;
  status(`${state.chosen.size} region${state.chosen.size === 1 ? "" : "s"} picked: K keep, O obscure, A accept, X reject`);
  draw();
}

function setSpace(held) {
  spaceHeld = held;
  $("stage").classList.toggle("panning", held);
}

function onPointerDown(event) {
  if (!state.info) return;
  if (event.pointerType === "touch") {
    touches.set(event.pointerId, [event.clientX, event.clientY]);
    if (touches.size === 2) return pinch(event); // a second finger: whatever the first began is off
  }
  if (touches.size > 2) return;
  const panning = event.button === 1 || (event.button === 0 && spaceHeld);
  if (event.button !== 0 && !panning) return;
  event.preventDefault();
  $("overlay").setPointerCapture(event.pointerId);
  if (panning) {
    spaceTapped = false; // Space held to drag the picture
    state.drag = { kind: "pan", at: [event.clientX, event.clientY] };
    return;
  }
  pause(); // drawing or picking on a frame that stays
  const target = event.target;
  const [x, y] = svgPoint(event);
  if (target.dataset.corner !== undefined && selectedRegion()) {
    state.drag = { kind: "resize", corner: target.dataset.corner, start: [...selectedRegion().box] };
  } else if (target.dataset.zone !== undefined && !state.drawingZone) {
    state.zone = Number(target.dataset.zone);
    state.selected = -1;
    draw();
  } else if (target.dataset.index !== undefined && !state.drawingZone) {
    if (pickedForMerge(state.regions[Number(target.dataset.index)].track)) return;
    const members = target.dataset.members ? target.dataset.members.split(",").map(Number) : [Number(target.dataset.index)];
    state.zone = -1;
    if (event.shiftKey) return toggleChosen(members);
    state.selected = Number(target.dataset.index);
    state.chosen = new Set(members.length > 1 ? members : []);
    state.track = selectedRegion().track >= 0 ? selectedRegion().track : null;
    if (members.length === 1) state.drag = { kind: "move", at: [x, y], start: [...selectedRegion().box] };
    draw();
  } else if (event.shiftKey && !state.drawingZone) {
    state.drag = { kind: "marquee", at: [x, y], box: null };
  } else {
    state.drag = { kind: "draw", at: [x, y], box: null };
  }
}

function onPointerMove(event) {
  if (touches.has(event.pointerId)) touches.set(event.pointerId, [event.clientX, event.clientY]);
  const d = state.drag;
  if (!d) return;
  if (d.kind === "pinch") return touches.size === 2 && pinch(event);
  if (d.kind === "pan") {
    panBy(event.clientX - d.at[0], event.clientY - d.at[1]);
    d.at = [event.clientX, event.clientY];
    return;
  }
  const [x, y] = svgPoint(event);
  if (d.kind === "draw" || d.kind === "marquee") {
    d.box = [d.at[0], d.at[1], x, y];
  } else if (d.kind === "move") {
    const [x1, y1, x2, y2] = d.start;
    const dx = x - d.at[0];
    const dy = y - d.at[1];
    selectedRegion().box = [x1 + dx, y1 + dy, x2 + dx, y2 + dy];
    d.moved = Math.abs(dx) + Math.abs(dy) > 1;
  } else {
    const box = [...d.start];
    if (d.corner.includes("w")) box[0] = x;
    if (d.corner.includes("e")) box[2] = x;
    if (d.corner.includes("n")) box[1] = y;
    if (d.corner.includes("s")) box[3] = y;
    selectedRegion().box = box;
    d.moved = true;
  }
  drawOverlay();
}

function onPointerUp(event) {
  touches.delete(event.pointerId);
  const d = state.drag;
  if (!d) return;
  if (d.kind === "pinch" && touches.size) return; // until the last finger is lifted
  state.drag = null;
  if (d.kind === "pan" || d.kind === "pinch") return;
  if (d.kind === "marquee") return d.box ? chooseInside(normalised(d.box)) : draw();
  if (d.kind === "draw") {
    const box = d.box && normalised(d.box);
    if (!box || box[2] - box[0] < MIN_SIDE || box[3] - box[1] < MIN_SIDE) {
      state.selected = state.zone = -1; // a click on the picture: deselect
      state.chosen = new Set();
      state.track = null;
      draw();
      return;
    }
    if (state.drawingZone) {
      state.drawingZone = false;
      commit([{ op: "add_zone", box }]);
      state.zone = state.zones.length - 1;
      draw();
      return;
    }
    addDrawn(box);
    return;
  }
  if (!d.moved) return;
  const r = selectedRegion();
  const moved = normalised(r.box);
  r.box = d.start; // the edit starts from the region as it was before the drag
  const now = { ...copy(r), box: moved, source: "manual", score: 1 };
  const ops = [{ op: "replace", regions: [[copy(r), now]] }];
  if (isVideo() && r.track >= 0) ops.push({ op: "interpolate", track: r.track });
  if (!commit(ops, { select: now })) draw();
}

// A drawn region: a new one, or in a video the next key of the selected drawn track.
function addDrawn(box) {
  const region = { box, score: 1, source: "manual", frame: isVideo() ? state.frame : 0, track: -1, action: "obscure" };
  if (!isVideo()) return commit([{ op: "add", regions: [region] }], { select: region });
  const sel = state.track;
  const drawnTrack =
    sel !== null &&
    state.regions.some((r) => r.track === sel) &&
    state.regions.every((r) => r.track !== sel || r.source === "manual" || r.source === "interpolated");
  const here = state.regions.filter((r) => r.track === sel && r.frame === state.frame);
  const free = drawnTrack && !here.some((r) => r.source === "manual");
  region.track = free ? sel : nextTrackId();
  state.track = region.track;
  const ops = free && here.length ? [{ op: "remove", regions: here.map(copy) }] : [];
  ops.push({ op: "add", regions: [region] }, { op: "interpolate", track: region.track });
  commit(ops, { select: region });
}

// ------------------------------------------------------------------------------------ views

function pictureUrl(frame = state.frame, output = state.preview) {
  const params = new URLSearchParams({ frame: String(frame) });
  if (output) params.set("output", "1");
  if (output) params.set("v", String(painted[state.index] ?? 0)); // a new address once an edit is stored
  return `/api/files/${state.index}/picture?${params}`;
}

// Pictures fetched ahead of need (the next file's, a file's output before it is swept): address ->
// a promise of an object URL. A few only; the server marks pictures not to be cached.
const PICTURES_AHEAD = 6;
const ahead = new Map();
const aheadUrls = new Set(); // their object URLs (a played frame's is let go once replaced)

function fetchAhead(url) {
  if (ahead.has(url)) return;
  const got = fetch(url, { credentials: "same-origin" })
    .then((reply) => (reply.ok ? reply.blob() : Promise.reject(new Error(String(reply.status)))))
    .then((blob) => {
      const local = URL.createObjectURL(blob);
      aheadUrls.add(local);
      return local;
    });
  got.catch(() => ahead.delete(url));
  ahead.set(url, got);
  while (ahead.size > PICTURES_AHEAD) {
    const [old, gone] = ahead.entries().next().value;
    ahead.delete(old);
    gone.then((local) => $("picture").src !== local && (aheadUrls.delete(local), URL.revokeObjectURL(local))).catch(() => {});
  }
}

// Show the picture at ``url``: from what was fetched ahead if it was, else from the server.
function showPicture(url) {
  const img = $("picture");
  img.dataset.want = url;
  const put = (src) => {
    if (img.dataset.want !== url) return; // another was asked for meanwhile
    if (img.src.startsWith("blob:") && !aheadUrls.has(img.src)) URL.revokeObjectURL(img.src); // a frame played
    img.dataset.url = url;
    img.src = src;
  };
  const got = ahead.get(url);
  if (got) got.then(put, () => put(url));
  else put(url);
}

function draw() {
  drawOverlay();
  const img = $("picture");
  const url = pictureUrl();
  if (img.dataset.want !== url) showPicture(url);
  $("overlay").classList.toggle("hidden", state.preview && !sweep.on); // a sweep can draw on the output
  $("overlay").classList.toggle("sweeping", sweep.on);
  drawSweep();
  $("preview").setAttribute("aria-pressed", String(state.preview));
  $("reviewed").setAttribute("aria-pressed", String(state.reviewed));
  $("zone").setAttribute("aria-pressed", String(state.drawingZone));
  $("keep-only").setAttribute("aria-pressed", String(state.keepOnly));
  $("frame").classList.toggle("keep-only", state.keepOnly);
  const r = selectedRegion();
  const rs = picked();
  $("accept").disabled = !rs.some((p) => p.action === "suggested");
  $("keep").disabled = $("obscure").disabled = !rs.some((p) => p.action !== "suggested");
  $("reject").disabled = !rs.length && state.zone < 0;
  const over = r && r.action === "keep" && !state.chosen.size ? coveringKept(state.selected).length : 0;
  $("uncover").hidden = !over;
  $("uncover").textContent = `Uncover: remove the ${over} region${over === 1 ? "" : "s"} over this kept face`;
  $("method").disabled = !r || r.action === "suggested";
  $("method").value = (r && r.method) || "";
  $("undo").disabled = !state.undo.length;
  $("redo").disabled = !state.redo.length;
  $("follow-back").hidden = $("follow-forward").hidden = !isVideo() || state.following !== null;
  $("follow-back").disabled = $("follow-forward").disabled = !canFollow();
  $("follow-stop").hidden = state.following === null;
  $("split").hidden = $("merge").hidden = !isVideo();
  $("split").disabled = $("merge").disabled = state.track === null;
  $("merge").setAttribute("aria-pressed", String(state.mergeInto !== null));
  if (isVideo()) drawVideo(), drawPlay();
  location.replace(`#file=${state.index}&frame=${state.frame}`);
}

function renderFiles() {
  const list = $("file-list");
  list.replaceChildren();
  for (const f of state.files) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = `file ${f.state.replace(" ", "-")}${f.index === state.index ? " current" : ""}`;
    button.dataset.index = f.index;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = f.name;
    const badge = document.createElement("span");
    badge.className = "state";
    const share = sweptShare(f.index);
    badge.textContent = f.state === "reviewed" && share !== null && share < 1 ? "reviewed, not swept" : f.state;
    if (share) badge.title = `swept ${sweptLabel(f.index)}`;
    const counts = document.createElement("span");
    counts.className = "counts";
    const faces = `${f.faces} ${f.kind === "video" ? "track" : "face"}${f.faces === 1 ? "" : "s"}` +
      (f.candidates ? ` (+${f.candidates} candidate${f.candidates === 1 ? "" : "s"})` : "");
    counts.textContent = `${faces} · ${f.suggestions} suggestion${f.suggestions === 1 ? "" : "s"}` + (f.kept ? ` · ${f.kept} kept` : "") + (f.zone_count ? ` · ${f.zone_count} zone${f.zone_count === 1 ? "" : "s"}` : "") + (f.keep_only ? " · keep only" : "") +
      (f.gap_frames ? ` · ${(100 * f.covered).toFixed(1)} % covered` : "");
    button.append(name, badge, counts);
    button.addEventListener("click", () => openFile(f.index));
    li.appendChild(button);
    list.appendChild(li);
  }
}

async function openFile(index, frame = 0) {
  if (index < 0 || index >= state.files.length) return;
  stopFollowing();
  pause();
  playing.said = "";
  if (sweep.on) {
    sweep.on = false;
    state.preview = false;
  }
  await lastSave.get(index);
  const entry = await fileEntry(index);
  // W pressed while the file loaded began a sweep laid out for the file before: sweep this one
  const sweepAsked = sweep.on;
  if (sweepAsked) {
    sweep.on = false;
    state.preview = false;
  }
  Object.assign(state, {
    index,
    info: entry,
    regions: entry.regions,
    zones: entry.zones.map((z) => z.box),
    zone: -1,
    drawingZone: false,
    reviewed: entry.state === "reviewed",
    keepOnly: entry.keep_only,
    selected: -1,
    chosen: new Set(),
    track: null,
    mergeInto: null,
    ...storedHistory(index, entry),
    version: state.version + 1, // another file's regions: every derived view is made again
    frame: Math.min(Math.max(frame, 0), entry.frames - 1),
  });
  state.files[index] = { ...state.files[index], ...entry, regions: undefined, zones: undefined, swept: undefined };
  sweeps[index] = entry.swept;
  sampling[index] = { fps: entry.fps, cuts: entry.cuts };
  $("file-title").textContent = entry.name;
  $("video").hidden = entry.kind !== "video";
  $("scrubber").max = String(entry.frames - 1);
  painted[index] = entry.version;
  fit();
  renderFiles();
  draw();
  if (sweepAsked) startSweep();
  lookAhead(index);
}

const entriesAhead = new Map(); // file index -> its entry, fetched once the file before was opened

// The file's entry: the one fetched ahead if the file has not changed since, else from the server.
async function fileEntry(index) {
  const got = entriesAhead.get(index);
  entriesAhead.delete(index);
  const entry = got && (await got.catch(() => null));
  if (entry && entry.version === state.files[index].version) return entry;
  return api("GET", `/api/files/${index}`);
}

// While the person looks at file ``index``: its output (a sweep shows it), and the next file's
// entry, picture and output, so that W and ] show them at once.
function lookAhead(index) {
  if (state.info.kind !== "video") fetchAhead(pictureUrl(0, true));
  const next = index + 1;
  if (next >= state.files.length || entriesAhead.has(next) || state.files[next].kind === "video") return;
  entriesAhead.set(next, Promise.resolve(lastSave.get(next)).then(() => api("GET", `/api/files/${next}`)));
  fetchAhead(`/api/files/${next}/picture?frame=0`);
  fetchAhead(`/api/files/${next}/picture?frame=0&output=1&v=${state.files[next].version}`);
}

// ------------------------------------------------------------------------------------ zoom and pan

// The picture is shown at ``view.scale`` screen pixels per picture pixel, its top-left corner at
// (view.x, view.y) in the stage. Fitted, the whole picture shows; zoomed in, it can be dragged
// about (Space + drag, or the middle button). Drawing works the same at any zoom: the overlay is in
// picture pixels.
const view = { scale: 1, x: 0, y: 0, fitted: true };
const MAX_ZOOM = 16; // screen pixels per picture pixel
const ZOOM_STEP = 1.5; // one + or - key
const HANDLE = 8; // screen pixels: the side of a corner handle
const touches = new Map(); // touch pointers on the picture, for pinching: id -> [x, y]
let spaceHeld = false;
let spaceTapped = false; // Space is down and nothing was dragged: let go, it plays or pauses a video

function fitScale() {
  const stage = $("stage");
  return Math.min(stage.clientWidth / state.info.width, stage.clientHeight / state.info.height);
}

// The picture as large as the stage allows, whole.
function fit() {
  if (!state.info) return;
  $("stage").style.height = `${Math.floor(window.innerHeight * (isVideo() ? 0.5 : 0.78))}px`;
  view.scale = fitScale();
  view.fitted = true;
  showView();
}

function onResize() {
  if (!state.info) return;
  if (sweep.on) {
    // tiles of the new stage's size, from about where the sweep was
    const [frame, x, y] = sweep.tiles[sweep.at];
    Object.assign(sweep, sweepTiles());
    const here = sweep.tiles.findIndex((t) => t[0] === frame && t[3] > x && t[4] > y);
    sweep.at = Math.max(here, 0);
    return showTile();
  }
  if (view.fitted) return fit();
  view.scale = Math.max(view.scale, fitScale());
  showView();
}

// ``scale`` within what the picture may be zoomed to: from fitted to MAX_ZOOM.
function allowedScale(scale) {
  const least = fitScale();
  return Math.min(Math.max(scale, least), Math.max(MAX_ZOOM, least));
}

// Zoom to ``scale`` keeping the stage point (cx, cy) over the same picture point.
function zoomTo(scale, cx, cy) {
  if (!state.info) return;
  const next = allowedScale(scale);
  view.x = cx - ((cx - view.x) * next) / view.scale;
  view.y = cy - ((cy - view.y) * next) / view.scale;
  view.scale = next;
  view.fitted = next === fitScale();
  showView();
}

function zoomBy(factor, cx, cy) {
  const stage = $("stage");
  zoomTo(view.scale * factor, cx ?? stage.clientWidth / 2, cy ?? stage.clientHeight / 2);
}

function panBy(dx, dy) {
  view.x += dx;
  view.y += dy;
  showView();
}

// Place the picture: centred where it is smaller than the stage, never leaving a gap where larger.
function showView(redraw = true) {
  const stage = $("stage");
  const w = state.info.width * view.scale;
  const h = state.info.height * view.scale;
  const place = (at, size, room) => (size <= room ? (room - size) / 2 : Math.min(0, Math.max(room - size, at)));
  view.x = place(view.x, w, stage.clientWidth);
  view.y = place(view.y, h, stage.clientHeight);
  $("picture").style.width = `${w}px`;
  $("picture").style.height = `${h}px`;
  $("frame").style.transform = `translate(${view.x}px, ${view.y}px)`;
  $("frame").classList.toggle("pixels", view.scale >= 2);
  $("zoom-label").textContent = view.fitted ? "fit" : `${Math.round(view.scale * 100)} %`;
  if (redraw) drawOverlay(); // the handles keep their size on the screen
}

function stagePoint(event) {
  const rect = $("stage").getBoundingClientRect();
  return [event.clientX - rect.left, event.clientY - rect.top];
}

function onWheel(event) {
  if (!state.info) return;
  event.preventDefault(); // the page zooms the picture, not itself (a pinch on a touchpad comes as a wheel)
  const [cx, cy] = stagePoint(event);
  zoomBy(Math.exp(-event.deltaY * (event.ctrlKey ? 0.01 : 0.002)), cx, cy);
}

// Two fingers on the picture: pinch to zoom, move to pan. The picture point first between them
// stays between them, at the scale their spread says.
function pinch(event) {
  const [a, b] = [...touches.values()];
  const stage = $("stage").getBoundingClientRect();
  const mid = [(a[0] + b[0]) / 2 - stage.left, (a[1] + b[1]) / 2 - stage.top];
  const span = Math.hypot(a[0] - b[0], a[1] - b[1]);
  const p = state.drag;
  if (p && p.kind === "pinch") {
    view.scale = allowedScale((p.scale * span) / Math.max(p.span, 1));
    view.fitted = view.scale === fitScale();
    view.x = mid[0] - p.anchor[0] * view.scale;
    view.y = mid[1] - p.anchor[1] * view.scale;
    showView();
  } else {
    const anchor = [(mid[0] - view.x) / view.scale, (mid[1] - view.y) / view.scale];
    state.drag = { kind: "pinch", span, scale: view.scale, anchor };
  }
  event.preventDefault();
}

// ------------------------------------------------------------------------------------ sweep

// A sweep walks the picture tile by tile, zoomed so that the smallest face the run looks for
// (SWEEP_FACE picture pixels) is SWEEP_SCREEN screen pixels tall, showing the output as it will be
// published, so a face left uncovered stands out; Space moves on to the next tile (Shift+Space
// back). A video is swept on a sample of its frames: one a second at its own frame rate, the first
// of every shot (its ``cuts``, found when it was detected) and its last. What was seen is kept per
// file in the regions file (per swept frame a grid of cells, each seen once a tile holding its
// centre was shown and left with Space: the entry's ``swept``), so the share swept survives
// reloading and restarting the review; once every cell is seen the file is marked reviewed.
// Marking it reviewed before says so plainly.
const SWEEP_FACE = 10;
const SWEEP_SCREEN = 24;
const SWEEP_OVERLAP = 2 * SWEEP_FACE; // a face cut by one tile's edge is whole in its neighbour
const SWEEP_CELLS = 64; // cells along the longer side of the picture

const sweep = { on: false, tiles: [], at: 0, scale: 1 };
const sweeps = {}; // each file's ``swept`` as the server sent it and the sweeps since
const sampling = {}; // each file's frame rate and cuts as its view gave them (an edit's answer has neither)

// The frames swept, in order: a photo's only one; a video's one a second (the frame nearest each
// second's start), the first of each shot and the last. A frame swept under another sample (the
// frame rate was once taken as 25) is kept in the file but counts no more.
function sweptFrames(index) {
  const { frames } = state.files[index];
  const { fps = 25, cuts = [] } = sampling[index] || {}; // a file not opened yet has nothing swept
  const seconds = Array.from({ length: Math.ceil(frames / fps) }, (_, i) => Math.round(i * fps));
  const all = [...seconds, ...cuts, frames - 1].filter((f) => f < frames);
  return [...new Set(all)].sort((a, b) => a - b);
}

// The file's cells seen: {cell (picture px), cols, rows, seen: {frame: "0110..."}}.
function sweepGrid(index) {
  const f = state.files[index];
  const cell = Math.max(4, Math.ceil(Math.max(f.width, f.height) / SWEEP_CELLS));
  const grid = { cell, cols: Math.ceil(f.width / cell), rows: Math.ceil(f.height / cell), seen: {} };
  const stored = sweeps[index];
  if (stored && stored.cell === cell) grid.seen = stored.seen;
  return grid;
}

const cellsSeen = (grid, frame) => grid.seen[frame] || "0".repeat(grid.cols * grid.rows);

function sweptShare(index) {
  const grid = sweepGrid(index);
  const frames = sweptFrames(index);
  const seen = frames.reduce((n, f) => n + cellsSeen(grid, f).split("1").length - 1, 0);
  return seen / (frames.length * grid.cols * grid.rows);
}

function markSeen([frame, x1, y1, x2, y2]) {
  const grid = sweepGrid(state.index);
  const seen = cellsSeen(grid, frame).split("");
  for (let r = 0; r < grid.rows; r++) {
    const cy = (r + 0.5) * grid.cell;
    if (cy < y1 || cy > y2) continue;
    for (let c = 0; c < grid.cols; c++) {
      const cx = (c + 0.5) * grid.cell;
      if (cx >= x1 && cx <= x2) seen[r * grid.cols + c] = "1";
    }
  }
  grid.seen[frame] = seen.join("");
  sweeps[state.index] = { cell: grid.cell, seen: grid.seen };
  send([{ op: "swept", cell: grid.cell, frame, seen: grid.seen[frame] }], true);
}

// Tile origins along one side: evenly spread, overlapping by at least SWEEP_OVERLAP.
function tileStarts(size, tile) {
  if (tile >= size) return [0];
  const n = Math.ceil((size - SWEEP_OVERLAP) / (tile - SWEEP_OVERLAP));
  return Array.from({ length: n }, (_, i) => ((size - tile) * i) / (n - 1));
}

// The tiles of every frame swept, [frame, x1, y1, x2, y2], row by row, every other row backward
// (the eye moves on smoothly).
function sweepTiles() {
  const stage = $("stage");
  const { width, height } = state.info;
  const scale = Math.max(SWEEP_SCREEN / SWEEP_FACE, fitScale());
  const tw = Math.min(stage.clientWidth / scale, width);
  const th = Math.min(stage.clientHeight / scale, height);
  const xs = tileStarts(width, tw);
  const tiles = [];
  for (const frame of sweptFrames(state.index)) {
    tileStarts(height, th).forEach((y, row) => {
      for (const x of row % 2 ? [...xs].reverse() : xs) tiles.push([frame, x, y, x + tw, y + th]);
    });
  }
  return { scale, tiles };
}

function startSweep() {
  if (!state.info) return;
  pause();
  Object.assign(sweep, { on: true, ...sweepTiles() });
  const grid = sweepGrid(state.index);
  const unseen = ([frame, x1, y1, x2, y2]) => {
    const cx = Math.min(Math.floor((x1 + x2) / 2 / grid.cell), grid.cols - 1);
    const cy = Math.min(Math.floor((y1 + y2) / 2 / grid.cell), grid.rows - 1);
    return cellsSeen(grid, frame)[cy * grid.cols + cx] === "0";
  };
  sweep.at = Math.max(0, sweep.tiles.findIndex(unseen));
  state.preview = true;
  showTile();
}

function stopSweep() {
  sweep.on = false;
  state.preview = false;
  fit();
  draw();
}

function showTile() {
  const [frame, x, y] = sweep.tiles[sweep.at];
  state.frame = frame;
  view.scale = sweep.scale;
  view.x = -x * sweep.scale;
  view.y = -y * sweep.scale;
  view.fitted = false;
  showView(false);
  draw();
  // a video's next frame swept, fetched once this tile's picture is shown, while its tiles are looked
  // at (decoding and painting it took 120-600 ms when asked for on the key that moved there)
  const next = sweep.tiles.slice(sweep.at + 1).find(([f]) => f !== frame);
  if (!next) return;
  const img = $("picture");
  const ahead = () => fetchAhead(pictureUrl(next[0], true));
  if (img.complete && img.dataset.url === pictureUrl()) ahead();
  else img.addEventListener("load", ahead, { once: true });
}

// Space: the tile shown was seen; on to the next (Shift: back to the one before).
function sweepStep(step) {
  if (step > 0) markSeen(sweep.tiles[sweep.at]);
  const next = sweep.at + step;
  if (next < 0) return;
  if (next < sweep.tiles.length) {
    sweep.at = next;
    return showTile();
  }
  stopSweep();
  renderFiles();
  if (sweptShare(state.index) < 1) return status(`swept ${sweptLabel(state.index)}: the parts not seen are still to do`);
  const say = `swept every part of the ${isVideo() ? "frames swept" : "picture"}: marked reviewed`;
  if (!state.reviewed) commit([{ op: "reviewed", value: true }], { keepsReview: true, say });
  else status(say);
}

const sweptLabel = (index) => `${Math.floor(100 * sweptShare(index))} %`;

function drawSweep() {
  $("sweep").setAttribute("aria-pressed", String(sweep.on));
  const frames = isVideo() ? ` of ${sweptFrames(state.index).length} frames` : "";
  const where = isVideo() && sweep.on ? `frame ${state.frame + 1} · ` : "";
  $("sweep-label").textContent = sweep.on
    ? `${where}tile ${sweep.at + 1} / ${sweep.tiles.length} · swept ${sweptLabel(state.index)}${frames} · Space next · Esc stops`
    : `swept ${sweptLabel(state.index)}${frames}`;
}

// The swept frames on a video's timeline: green once every part of it was seen.
function drawSweptFrames() {
  const svg = $("timeline");
  for (const old of svg.querySelectorAll(".sample")) old.remove();
  const grid = sweepGrid(state.index);
  const height = Number(svg.getAttribute("viewBox").split(" ")[3]);
  for (const f of sweptFrames(state.index)) {
    const done = !cellsSeen(grid, f).includes("0");
    el("rect", { x: f, y: height - 3, width: Math.max(state.info.frames / 300, 0.6), height: 3, class: `sample${done ? " swept" : ""}`, "data-frame": f }, svg);
  }
}

// ------------------------------------------------------------------------------------ video

function seek(frame) {
  pause();
  showFrame(frame);
  draw();
}

// Frame ``frame`` is the one shown; the selected track's region on it is selected, with the other
// boxes of its face there.
function showFrame(frame) {
  state.frame = Math.min(Math.max(frame, 0), state.info.frames - 1);
  if (state.track === null) return (state.selected = -1);
  state.selected = state.regions.findIndex((r) => r.frame === state.frame && r.track === state.track);
  const group = frameGroups().find((g) => g.includes(state.selected)) || [];
  state.chosen = new Set(group.length > 1 ? group : []);
}

// ------------------------------------------------------------------------------------ playback

// Play (Space tapped, or the Play button) shows the frames at the clip's own rate, each with its
// regions, and in the preview the output as it will be published, as when stepping: a frame is
// shown only if it was asked for in the mode the page is in. The frames come from the server one at
// a time, each asked for as the one that will be due when it arrives; when decoding (or painting
// the preview) is slower than the clip, frames are skipped to keep to the clock, never played slow,
// and the page says how many.
const playing = { run: null, said: "" };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function togglePlay() {
  if (playing.run) pause();
  else play();
}

function pause() {
  if (playing.run) playing.run.stop = true;
}

async function play() {
  if (!isVideo() || playing.run || sweep.on || state.following) return;
  const { frames, fps } = state.info;
  const index = state.index;
  const again = state.frame >= frames - 1; // at the end: from the start
  const run = { stop: false, shown: 0, skipped: 0 };
  playing.run = run;
  const start = performance.now();
  const first = again ? 0 : state.frame;
  const dueAt = (f) => start + ((f - first) * 1000) / fps;
  let last = again ? -1 : first; // the frame shown last
  let lag = 0; // milliseconds the last frame took to come
  drawPlay();
  try {
    while (!run.stop && last < frames - 1) {
      const due = first + Math.floor(((performance.now() + lag - start) * fps) / 1000);
      const next = Math.min(Math.max(due, last + 1), frames - 1);
      const preview = state.preview;
      const url = pictureUrl(next);
      const asked = performance.now();
      const reply = await fetch(url, { credentials: "same-origin" });
      if (!reply.ok) throw new Error(`${reply.status} ${await reply.text()}`);
      const blob = await reply.blob();
      lag = performance.now() - asked;
      const wait = dueAt(next) - performance.now();
      if (wait > 0) await sleep(wait); // never ahead of the clock
      if (run.stop || state.index !== index) break;
      if (preview !== state.preview) continue; // asked for in the other mode: never shown
      const img = $("picture");
      const old = img.src;
      const shown = URL.createObjectURL(blob);
      img.src = shown;
      await img.decode().catch(() => {});
      if (old.startsWith("blob:")) URL.revokeObjectURL(old);
      if (img.src !== shown) {
        URL.revokeObjectURL(shown);
        continue; // replaced meanwhile (an edit's new preview of the frame before)
      }
      img.dataset.url = img.dataset.want = url; // the picture, its frame and its regions change together
      run.skipped += next - last - 1;
      run.shown += 1;
      last = next;
      showFrame(next);
      draw();
    }
  } catch (err) {
    status(`playing stopped: ${err.message}`, true);
  } finally {
    playing.run = null;
  }
  const skipped = run.skipped ? `; ${run.skipped} of ${run.shown + run.skipped} frames skipped to keep time` : "";
  playing.said = run.shown ? `played at ${+fps.toFixed(2)} fps${skipped}` : "";
  if (state.index === index) draw();
}

function drawPlay() {
  const run = playing.run;
  $("play").textContent = run ? "Pause" : "Play";
  $("play").setAttribute("aria-pressed", String(Boolean(run)));
  const skipped = run && run.skipped
    ? ` · ${run.skipped} frame${run.skipped === 1 ? "" : "s"} skipped to keep time (frames come slower than the clip plays)`
    : "";
  $("play-label").textContent = run ? `playing at ${+state.info.fps.toFixed(2)} fps${skipped}` : playing.said;
}

// The tracks of the video in time order (by first frame), each with its regions in frame order
// and its best sighting (the largest box, then the surest): its card's picture.
function tracks() {
  const by = new Map();
  for (const r of state.regions) {
    if (r.action === "suggested" || r.track < 0) continue;
    if (!by.has(r.track)) by.set(r.track, { id: r.track, regions: [] });
    by.get(r.track).regions.push(r);
  }
  for (const t of by.values()) {
    t.regions.sort((a, b) => a.frame - b.frame);
    t.first = t.regions[0].frame;
    t.last = t.regions[t.regions.length - 1].frame;
    t.kept = t.regions.filter((r) => r.action === "keep").length;
    t.count = t.regions.length;
    const larger = (a, b) => boxArea(b.box) - boxArea(a.box) || b.score - a.score;
    t.best = t.regions.reduce((a, b) => (larger(a, b) > 0 ? b : a));
  }
  return [...by.values()].sort((a, b) => a.first - b.first || a.id - b.id);
}

let shownTracks = "";

// Track cards' thumbnails: fetched THUMBS_AT_ONCE at a time, and kept. A video just opened has dozens
// of cards; asked for all at once they took every connection the browser opens to the server, and
// the picture a key asked for waited seconds behind them (as did every card rebuilt when the
// selected track changed).
const THUMBS_AT_ONCE = 2;
const THUMBS_KEPT = 2000;
const thumbs = new Map(); // address -> object URL
const thumbsWaiting = [];
let thumbsFetching = 0;

function thumbnail(img, url) {
  thumbsWaiting.push([img, url]);
  queueMicrotask(nextThumbnails); // once the card is on the page (one no longer there is skipped)
}

function nextThumbnails() {
  while (thumbsWaiting.length && (thumbsFetching < THUMBS_AT_ONCE || thumbs.has(thumbsWaiting[0][1]))) {
    const [img, url] = thumbsWaiting.shift();
    if (!img.isConnected) continue; // its card was rebuilt meanwhile
    if (thumbs.has(url)) {
      img.src = thumbs.get(url);
      continue;
    }
    thumbsFetching += 1;
    fetch(url, { credentials: "same-origin" })
      .then((reply) => (reply.ok ? reply.blob() : Promise.reject(new Error(String(reply.status)))))
      .then((blob) => {
        if (thumbs.size >= THUMBS_KEPT) {
          for (const local of thumbs.values()) URL.revokeObjectURL(local);
          thumbs.clear();
        }
        thumbs.set(url, URL.createObjectURL(blob));
        img.src = thumbs.get(url);
      })
      .catch(() => {})
      .finally(() => {
        thumbsFetching -= 1;
        nextThumbnails();
      });
  }
}

// Track cards; rebuilt only when a track changed (stepping through frames keeps the pictures).
function renderTracks(list) {
  const box = $("tracks");
  const key = JSON.stringify([state.index, state.track, list.map((t) => [t.id, t.first, t.last, t.kept, t.count, t.best.frame, t.best.box])]);
  if (key === shownTracks) return;
  shownTracks = key;
  box.replaceChildren();
  for (const t of list) {
    const card = document.createElement("div");
    card.className = `card ${t.kept === t.count ? "keep" : "obscure"}${t.id === state.track ? " selected" : ""}`;
    card.dataset.track = t.id;
    const img = document.createElement("img");
    img.className = "thumb";
    img.alt = `track ${t.id}`;
    img.title = `track ${t.id} on frame ${t.best.frame + 1}, where it is largest`;
    const [x1, y1, x2, y2] = t.best.box.map(Math.round);
    const crop = new URLSearchParams({ frame: t.best.frame, box: `${x1},${y1},${x2},${y2}` });
    thumbnail(img, `/api/files/${state.index}/crop?${crop}`);
    const label = document.createElement("span");
    label.textContent = `track ${t.id} · frames ${t.first}–${t.last}`;
    const keep = document.createElement("button");
    keep.type = "button";
    keep.className = "track-keep";
    keep.textContent = "Keep";
    keep.addEventListener("click", () => setTrackAction(t.id, "keep"));
    const obscure = document.createElement("button");
    obscure.type = "button";
    obscure.className = "track-obscure";
    obscure.textContent = "Obscure";
    obscure.addEventListener("click", () => setTrackAction(t.id, "obscure"));
    const join = document.createElement("button");
    join.type = "button";
    join.className = "track-merge";
    join.textContent = "Merge";
    join.title = "Merge this track into the selected one (M, then pick it)";
    join.disabled = state.track === null || state.track === t.id;
    join.addEventListener("click", () => mergeTracks(state.track, t.id));
    img.addEventListener("click", () => {
      if (pickedForMerge(t.id)) return;
      state.track = t.id;
      seek(t.first);
    });
    card.append(img, label, keep, obscure, join);
    box.appendChild(card);
  }
}

const LANE = 12;
let shownTimeline = "";

function drawVideo() {
  const frames = state.info.frames;
  $("scrubber").value = String(state.frame);
  $("frame-label").textContent = `frame ${state.frame + 1} / ${frames}`;
  const list = derived().tracks;
  const key = JSON.stringify([state.index, state.version, state.track, frames]);
  if (key !== shownTimeline) {
    shownTimeline = key;
    drawTimeline(list);
  }
  const summary = state.files[state.index];
  const gaps = summary.gap_frames || 0;
  $("coverage-meter").value = summary.covered ?? 1;
  const here = frameHoles().length;
  $("coverage").textContent = `${(100 * (summary.covered ?? 1)).toFixed(1)} % covered` +
    (gaps ? ` · ${gaps} frame${gaps === 1 ? "" : "s"} with a gap` : "") +
    (here ? ` · here ${here} face${here === 1 ? "" : "s"} uncovered (marked)` : "");
  $("next-gap").disabled = !gaps;
  drawSweptFrames();
  const cursor = $("timeline").querySelector(".cursor");
  cursor.setAttribute("x", String(state.frame));
  renderTracks(list);
}

// The lanes of the tracks and of the suggestions; the cursor is moved at each step.
function drawTimeline(list) {
  const frames = state.info.frames;
  const lane = LANE;
  const svg = $("timeline");
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${frames} ${Math.max(list.length, 1) * lane + lane}`);
  svg.style.height = `${(Math.max(list.length, 1) + 1) * 14}px`;
  list.forEach((t, row) => {
    const y = row * lane + 2;
    const runs = t.regions.map((r) => [r.frame, r.action]);
    let start = 0;
    for (let i = 1; i <= runs.length; i++) {
      if (i === runs.length || runs[i][0] !== runs[i - 1][0] + 1 || runs[i][1] !== runs[start][1]) {
        const rect = el("rect", {
          x: runs[start][0],
          y,
          width: runs[i - 1][0] - runs[start][0] + 1,
          height: lane - 4,
          class: `lane ${runs[start][1]}${t.id === state.track ? " selected" : ""}`,
          "data-track": t.id,
        }, svg);
        rect.addEventListener("click", (event) => {
          if (pickedForMerge(t.id)) return;
          state.track = t.id;
          seek(Math.round(timelineFrame(event)));
        });
        start = i;
      }
    }
  });
  for (const r of state.regions) {
    if (r.action === "suggested") {
      el("rect", { x: r.frame, y: list.length * lane + 2, width: 1, height: lane - 4, class: "lane suggested" }, svg);
    }
  }
  el("rect", { x: state.frame, y: 0, width: Math.max(frames / 400, 0.5), height: (list.length + 1) * lane, class: "cursor" }, svg);
}

// Where on the frame shown a face a track knows is uncovered (the server places it as it counts the
// gaps): asked for once per frame and version of the file, marked on the picture.
const holesAt = new Map(); // "index:version:frame" -> boxes, null while asked for
const HOLES_KEPT = 500;

function frameHoles() {
  const summary = state.files[state.index];
  if (!isVideo() || !summary.gap_frames) return [];
  const key = `${state.index}:${summary.version}:${state.frame}`;
  if (!holesAt.has(key) && !playing.run) {
    if (holesAt.size > HOLES_KEPT) holesAt.clear();
    holesAt.set(key, null);
    const index = state.index;
    api("GET", `/api/files/${index}/holes?frame=${state.frame}`)
      .then(({ boxes }) => {
        holesAt.set(key, boxes);
        if (state.index === index && boxes.length) draw();
      })
      .catch(() => holesAt.delete(key));
  }
  return holesAt.get(key) || [];
}

// The first frame of the next gap after the frame shown (round to the first).
function nextGap() {
  const gaps = (isVideo() && state.files[state.index].gaps) || [];
  if (!gaps.length) return;
  const next = gaps.find(([first]) => first > state.frame) || gaps[0];
  seek(next[0]);
}

function timelineFrame(event) {
  const rect = $("timeline").getBoundingClientRect();
  return ((event.clientX - rect.left) / rect.width) * state.info.frames;
}

// ------------------------------------------------------------------------------------ keys

function nextSuggestion(step) {
  const order = state.regions
    .map((r, i) => [r, i])
    .filter(([r]) => r.action === "suggested")
    .sort(([a, i], [b, j]) => a.frame - b.frame || i - j);
  if (!order.length) return;
  const at = order.findIndex(([, i]) => i === state.selected);
  let next;
  if (at >= 0) next = order[(at + step + order.length) % order.length];
  else next = (step > 0 ? order.find(([r]) => r.frame >= state.frame) : [...order].reverse().find(([r]) => r.frame <= state.frame)) || order[0];
  state.selected = next[1];
  state.chosen = new Set();
  state.track = null;
  if (isVideo()) state.frame = next[0].frame;
  draw();
}

function nextRegion(step) {
  const shown = visible().map(([, i]) => i);
  if (!shown.length) return;
  const at = shown.indexOf(state.selected);
  state.selected = shown[(at + step + shown.length) % shown.length];
  const [, , members] = visible().find(([, i]) => i === state.selected);
  state.chosen = new Set(members.length > 1 ? members : []); // a face's boxes go together
  state.track = selectedRegion().track >= 0 ? selectedRegion().track : null;
  draw();
}

// Letters are matched in lower case with Shift apart, so Caps Lock changes nothing; Tab, Enter and
// Space on a focused button are left to the browser (moving between and pressing the buttons).
function onKey(event) {
  if ($("export-dialog").open) return; // its buttons take the keys
  const target = event.target;
  if (target instanceof HTMLInputElement) {
    // on the scrubber every key is ours (arrows step as everywhere), but Home and End
    if (target.type !== "range" || event.key === "Home" || event.key === "End") return;
  }
  if (target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement) return;
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  const ctrl = event.ctrlKey || event.metaKey;
  const shift = event.shiftKey;
  const handled = () => event.preventDefault();
  if (ctrl && key === "z") return handled(), shift ? redo() : undo();
  if (ctrl && key === "y") return handled(), redo();
  if (ctrl || event.altKey || key === "Tab" || key === "Enter") return;
  if (key === " ") {
    if (target instanceof HTMLButtonElement) return; // Space presses a focused button
    handled();
    if (sweep.on) return event.repeat || sweepStep(shift ? -1 : 1);
    if (!event.repeat) spaceTapped = true;
    return setSpace(true); // held: drag the picture
  }
  const step = shift ? 10 : 1;
  switch (key) {
    case "]": case "PageDown": handled(); return openFile(state.index + 1);
    case "[": case "PageUp": handled(); return openFile(state.index - 1);
    case "n": handled(); return nextSuggestion(shift ? -1 : 1);
    case ".": handled(); return nextRegion(1);
    case ",": handled(); return nextRegion(-1);
    case "a": handled(); return accept();
    case "k": handled(); return setAction("keep");
    case "o": handled(); return setAction("obscure");
    case "x": case "Delete": case "Backspace": handled(); return reject();
    case "z": handled(); return shift ? redo() : undo();
    case "y": handled(); return redo();
    case "r": handled(); return toggleReviewed();
    case "p": handled(); return togglePreview();
    case "s": handled(); return toggleZone();
    case "g": handled(); return nextGap();
    case "c": handled(); return split();
    case "e": handled(); return toggleKeepOnly();
    case "m": handled(); return startMerge();
    case "+": case "=": handled(); return zoomBy(ZOOM_STEP);
    case "-": case "_": handled(); return zoomBy(1 / ZOOM_STEP);
    case "0": handled(); return fit();
    case "1": handled(); return setMethod("fill");
    case "2": handled(); return setMethod("pixelate");
    case "3": handled(); return setMethod("blur");
    case "4": handled(); return setMethod(null);
    case "t": handled(); return toggleText();
    case "f": handled(); return follow(shift ? -1 : 1);
    case "w": handled(); return sweep.on ? stopSweep() : startSweep();
    case "v": handled(); return toggleShowAll();
    case "Escape": handled(); if (playing.run) return pause(); if (state.following) return stopFollowing(); if (sweep.on) return stopSweep(); state.selected = state.zone = -1; state.chosen = new Set(); state.track = state.mergeInto = null; state.drawingZone = false; return draw();
    case "ArrowRight": if (isVideo()) { handled(); seek(state.frame + step); } return;
    case "ArrowLeft": if (isVideo()) { handled(); seek(state.frame - step); } return;
  }
}

// V: every region outlined, the faint ones too (to pick one), or the filter's again.
function toggleShowAll() {
  filter.all = !filter.all;
  draw();
}

function toggleZone() {
  state.drawingZone = !state.drawingZone;
  draw();
}

function togglePreview() {
  state.preview = !state.preview;
  draw();
}

// The folders the outputs go to (most reviews have one).
const folders = (paths) => [...new Set(paths.map((p) => p.replace(/[\\/][^\\/]*$/, "") || "/"))];

function listed(title, items) {
  const block = document.createElement("div");
  block.className = "warning";
  block.textContent = title;
  const list = document.createElement("ul");
  for (const item of items) {
    const li = document.createElement("li");
    li.textContent = item;
    list.appendChild(li);
  }
  block.appendChild(list);
  return block;
}

// Export asks first: where the files go, and which files nobody marked reviewed or still have
// suggestions nobody accepted or rejected (those are not painted). It asks at once: the file shown
// is counted as the page has it (its last edits may still be on their way to the server).
function exportAll() {
  const here = (f) => {
    if (f.index !== state.index) return f;
    const suggestions = state.regions.filter((r) => r.action === "suggested").length;
    return { ...f, state: state.reviewed ? "reviewed" : f.state === "reviewed" ? "changed" : f.state, suggestions };
  };
  const files = state.files.map(here);
  const where = folders(files.map((f) => f.output));
  $("export-where").textContent = `Writes ${files.length} file${files.length === 1 ? "" : "s"} into ${where.join(", ")}; a file there of the same name is replaced only if it is unseen's own earlier output of that file.`;
  const warnings = [];
  const unreviewed = files.filter((f) => f.state !== "reviewed");
  if (unreviewed.length) warnings.push(listed(`Not marked reviewed (${unreviewed.length}):`, unreviewed.map((f) => f.name)));
  const pending = files.filter((f) => f.suggestions);
  if (pending.length) {
    const total = pending.reduce((n, f) => n + f.suggestions, 0);
    warnings.push(listed(`Suggestions not accepted or rejected (${total}; not painted):`, pending.map((f) => `${f.name}: ${f.suggestions}`)));
  }
  $("export-warnings").replaceChildren(...warnings);
  $("export-confirm").textContent = warnings.length ? "Export anyway" : "Export";
  $("export-dialog").showModal();
  $("export-confirm").focus();
}

// Export writes once every edit made is saved (it renders what the regions file says).
async function exportConfirmed() {
  $("export-dialog").close();
  status(unsaved ? "exporting once the last edits are saved…" : "exporting…");
  $("export").disabled = true;
  try {
    await saving;
    status("exporting…");
    const { results } = await api("POST", "/api/export");
    const failed = results.filter((r) => !r.ok);
    const where = folders(results.filter((r) => r.ok).map((r) => r.output)).join(", ");
    const done = results.length - failed.length;
    if (failed.length) status(`export failed for ${failed.length} file(s): ${failed[0].error}${done ? ` (${done} written to ${where})` : ""}`, true);
    else status(`exported ${results.length} file${results.length === 1 ? "" : "s"} to ${where}`);
  } catch (err) {
    status(`export failed: ${err.message}`, true);
  } finally {
    $("export").disabled = false;
  }
}

// ------------------------------------------------------------------------------------ start

async function start() {
  const overlay = $("overlay");
  overlay.addEventListener("pointerdown", onPointerDown);
  overlay.addEventListener("pointermove", onPointerMove);
  overlay.addEventListener("pointerup", onPointerUp);
  overlay.addEventListener("pointercancel", onPointerUp);
  document.addEventListener("keydown", onKey);
  window.addEventListener("resize", onResize);
  $("stage").addEventListener("wheel", onWheel, { passive: false });
  $("stage").addEventListener("auxclick", (e) => e.button === 1 && e.preventDefault());
  document.addEventListener("keyup", (e) => {
    if (e.key !== " ") return;
    const tapped = spaceTapped && spaceHeld;
    spaceTapped = false;
    setSpace(false);
    if (tapped && isVideo()) togglePlay();
  });
  window.addEventListener("blur", () => {
    spaceTapped = false;
    setSpace(false);
  });
  $("zoom-in").addEventListener("click", () => zoomBy(ZOOM_STEP));
  $("zoom-out").addEventListener("click", () => zoomBy(1 / ZOOM_STEP));
  $("zoom-fit").addEventListener("click", fit);
  $("sweep").addEventListener("click", () => (sweep.on ? stopSweep() : startSweep()));
  $("show-all").addEventListener("click", toggleShowAll);
  for (const [id, key] of [["min-score", "score"], ["min-size", "size"]]) {
    $(id).addEventListener("input", (e) => {
      filter[key] = Number(e.target.value) || 0;
      draw();
    });
    $(id).addEventListener("change", (e) => e.target.blur()); // the keys are the page's again
  }
  // A button clicked keeps no focus, so Space (drag the picture) never presses it again by surprise;
  // one reached with Tab is pressed with Space or Enter, as everywhere.
  document.addEventListener("mousedown", (e) => e.target.closest?.("button") && e.preventDefault());
  $("keep").addEventListener("click", () => setAction("keep"));
  $("obscure").addEventListener("click", () => setAction("obscure"));
  $("accept").addEventListener("click", accept);
  $("reject").addEventListener("click", reject);
  $("next-suggestion").addEventListener("click", () => nextSuggestion(1));
  $("follow-forward").addEventListener("click", () => follow(1));
  $("follow-back").addEventListener("click", () => follow(-1));
  $("follow-stop").addEventListener("click", stopFollowing);
  $("undo").addEventListener("click", undo);
  $("redo").addEventListener("click", redo);
  $("reviewed").addEventListener("click", toggleReviewed);
  $("preview").addEventListener("click", togglePreview);
  $("zone").addEventListener("click", toggleZone);
  $("next-gap").addEventListener("click", nextGap);
  $("split").addEventListener("click", split);
  $("keep-only").addEventListener("click", toggleKeepOnly);
  $("merge").addEventListener("click", startMerge);
  $("method").addEventListener("change", (e) => {
    setMethod(e.target.value || null);
    e.target.blur(); // the keys are the page's again
  });
  $("export").addEventListener("click", exportAll);
  $("export-confirm").addEventListener("click", exportConfirmed);
  $("export-cancel").addEventListener("click", () => $("export-dialog").close());
  $("retry").addEventListener("click", () => retryNow && retryNow());
  $("uncover").addEventListener("click", uncoverKept);
  $("scrubber").addEventListener("input", (e) => seek(Number(e.target.value)));
  $("prev-frame").addEventListener("click", () => seek(state.frame - 1));
  $("play").addEventListener("click", togglePlay);
  $("next-frame").addEventListener("click", () => seek(state.frame + 1));
  $("picture").addEventListener("load", () => {
    document.body.classList.remove("loading");
    const v = shownVersion();
    if (v < 0 || !pending.length) return;
    const left = pending.filter((p) => p.index !== state.index || p.since >= v);
    pending.splice(0, pending.length, ...left); // what the output shown paints now
    drawOverlay();
  });
  const { files, regions_file } = await api("GET", "/api/files");
  state.files = files;
  $("regions-file").textContent = regions_file;
  const hash = new URLSearchParams(location.hash.slice(1));
  const first = files.findIndex((f) => f.state !== "reviewed");
  const index = hash.has("file") ? Number(hash.get("file")) : Math.max(first, 0);
  await openFile(index, Number(hash.get("frame") || 0));
  document.body.classList.add("ready");
}

start().catch((err) => status(`cannot load: ${err.message}`, true));
