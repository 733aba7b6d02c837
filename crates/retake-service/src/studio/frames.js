// The timeline of an uploaded clip: thumbnails to scrub (GET /v1/uploads/{id}/frames), the
// picked frame at full size (GET /v1/uploads/{id}/frames/{n}) to download and edit elsewhere,
// and the keyframes: edited images uploaded back for source frames (frame 0 is the edited
// first frame). Frame numbers are source frames, as the API's keyframe_indexes count them.
import { $, show, say, plain, api, blobUrl, upload, sizeText, debounce } from './api.js';

const state = {
  upload: null, // the clip's upload {id, url}
  strip: null, // the frames answer
  picked: 0,
  frameUrl: null, // blob: URL of the picked frame's PNG
  frameToken: 0,
  keyframes: new Map(), // source frame -> {upload, name}
  listeners: [],
  maxImageBytes: Infinity,
};

function changed(what) {
  for (const f of state.listeners) f(what);
}

// Calls f('frame') when another frame is picked and f('keyframes') when they change.
export function onChange(f) {
  state.listeners.push(f);
}

export function setImageLimit(bytes) {
  state.maxImageBytes = bytes;
}

export function current() {
  return state.upload;
}

// The picked frame: its number and blob: URL (null until loaded), and the clip's size.
export function picked() {
  const s = state.strip;
  return {
    n: state.picked,
    url: state.frameUrl,
    width: s ? s.width : 0,
    height: s ? s.height : 0,
  };
}

// The edited frames, in frame order: [{n, upload}].
export function keyframes() {
  return [...state.keyframes.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([n, k]) => ({ n, upload: k.upload }));
}

export function clear() {
  state.upload = null;
  state.strip = null;
  state.keyframes.clear();
  state.frameToken += 1;
  if (state.frameUrl) URL.revokeObjectURL(state.frameUrl);
  state.frameUrl = null;
  $('timeline').replaceChildren();
  renderKeyframes();
  show($('frames'), false);
  changed('keyframes');
}

// Loads the timeline of an uploaded clip and picks its first frame.
export async function load(up) {
  clear();
  state.upload = up;
  show($('frames'), true);
  say($('frames-error'), '');
  $('frames-info').textContent = 'Reading the clip’s frames…';
  let strip;
  try {
    strip = await api('GET', '/v1/uploads/' + encodeURIComponent(up.id) + '/frames?count=12&width=160');
  } catch (e) {
    if (state.upload === up) say($('frames-error'), 'The frames could not be read: ' + plain(e));
    return;
  }
  if (state.upload !== up) return;
  state.strip = strip;
  const sound = { kept: 'its sound is kept', dropped: 'its sound is not AAC and is dropped',
    none: 'it has no sound' }[strip.audio] || '';
  $('frames-info').textContent = strip.source_frames + ' frames (0 to ' +
    (strip.source_frames - 1) + ') at ' + Number(strip.source_fps.toFixed(3)) + ' fps; the output is ' +
    strip.width + '×' + strip.height + ', ' + strip.output_frames + ' frames at 24 fps; ' + sound + '.';
  const scrub = $('scrub');
  scrub.max = String(Math.max(0, strip.source_frames - 1));
  scrub.value = '0';
  const list = $('timeline');
  list.replaceChildren();
  for (const t of strip.thumbnails) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'thumb';
    b.dataset.frame = String(t.source_frame);
    b.setAttribute('aria-label', 'Frame ' + t.source_frame + ' at ' + t.time_s.toFixed(2) + ' s');
    const img = document.createElement('img');
    img.src = t.image;
    img.alt = '';
    const cap = document.createElement('span');
    cap.textContent = 'f' + t.source_frame;
    b.append(img, cap);
    b.addEventListener('click', () => pick(t.source_frame));
    list.appendChild(b);
  }
  await pick(0);
}

// Picks source frame n: shows it at full size and offers it for download.
export async function pick(n) {
  if (!state.upload || !state.strip) return;
  n = Math.max(0, Math.min(state.strip.source_frames - 1, Math.round(n)));
  state.picked = n;
  $('scrub').value = String(n);
  $('scrub-value').textContent = 'f' + n;
  for (const b of $('timeline').children) {
    b.setAttribute('aria-pressed', String(Number(b.dataset.frame) === n));
  }
  const token = ++state.frameToken;
  say($('frames-error'), '');
  let url;
  try {
    url = await blobUrl('GET', '/v1/uploads/' + encodeURIComponent(state.upload.id) + '/frames/' + n);
  } catch (e) {
    if (token === state.frameToken) say($('frames-error'), 'Frame ' + n + ': ' + plain(e));
    return;
  }
  if (token !== state.frameToken) {
    URL.revokeObjectURL(url);
    return;
  }
  if (state.frameUrl) URL.revokeObjectURL(state.frameUrl);
  state.frameUrl = url;
  $('frame-view').src = url;
  $('frame-view').dataset.frame = String(n);
  const a = $('frame-download');
  a.href = url;
  a.setAttribute('download', 'frame-f' + n + '.png');
  a.textContent = 'Download frame f' + n + ' (PNG)';
  $('frame-edit-label').textContent = n === 0 ?
    'Edited image for frame f0 (the first frame)' : 'Edited image for frame f' + n;
  changed('frame');
}

// Uploads an edited image (a File or a Blob) as the keyframe for the picked frame.
export async function setEdited(file, name) {
  const n = state.picked;
  say($('frame-edit-error'), '');
  if (file.size > state.maxImageBytes) {
    say($('frame-edit-error'), 'This image is ' + sizeText(file.size) + '; the server takes at most ' +
      sizeText(state.maxImageBytes) + '. Save it smaller (PNG, JPEG or WebP).');
    return false;
  }
  try {
    const up = await upload(file, $('frame-edit-progress'));
    state.keyframes.set(n, { upload: up, name: name || file.name || 'edited image' });
  } catch (e) {
    say($('frame-edit-error'), 'The upload failed: ' + plain(e));
    return false;
  }
  renderKeyframes();
  changed('keyframes');
  return true;
}

function renderKeyframes() {
  const list = $('keyframes');
  list.replaceChildren();
  for (const [n, k] of [...state.keyframes.entries()].sort((a, b) => a[0] - b[0])) {
    const li = document.createElement('li');
    li.dataset.frame = String(n);
    const what = document.createElement('span');
    what.textContent = 'f' + n + (n === 0 ? ' (first frame)' : '') + ': ' + k.name;
    const go = document.createElement('button');
    go.type = 'button';
    go.textContent = 'Show';
    go.setAttribute('aria-label', 'Show frame ' + n);
    go.addEventListener('click', () => pick(n));
    const rm = document.createElement('button');
    rm.type = 'button';
    rm.textContent = 'Remove';
    rm.setAttribute('aria-label', 'Remove the keyframe at frame ' + n);
    rm.addEventListener('click', () => {
      state.keyframes.delete(n);
      renderKeyframes();
      changed('keyframes');
    });
    li.append(what, go, rm);
    list.appendChild(li);
  }
  show($('keyframes-none'), state.keyframes.size === 0);
}

export function init() {
  $('scrub').addEventListener('input', () => {
    $('scrub-value').textContent = 'f' + $('scrub').value;
  });
  // Each frame is decoded on the server: held arrow keys ask only for where they stop.
  const pickSoon = debounce((n) => pick(n), 150);
  $('scrub').addEventListener('change', () => pickSoon(Number($('scrub').value)));
  $('frame-edit').addEventListener('change', async () => {
    const f = $('frame-edit').files[0];
    if (f) await setEdited(f);
    $('frame-edit').value = '';
  });
  renderKeyframes();
}
