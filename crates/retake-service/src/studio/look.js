// In-page editing of the picked frame: a built-in look's live preview (POST /v1/looks/preview,
// debounced) and a mask painted over the frame that confines the look. The preview is the
// look on the whole frame; with a mask the page mixes it with the frame by the mask, which is
// what the server does with the same mask (out = frame + (look − frame) × mask). The mask is
// sent with the generation as the look's `mask` (a PNG upload: white where the look goes).
import { $, show, say, plain, blobUrl, debounce } from './api.js';

const state = {
  frame: null, // {n, url, width, height, uploadId}
  look: null, // the look as the API takes it (without the mask), or null
  frameImg: null, // HTMLImageElement of the frame
  styledImg: null, // HTMLImageElement of the preview
  styledUrl: null,
  token: 0,
  painted: false,
  painting: false,
  last: null, // the last dab, {x, y} in frame pixels
  previews: 0, // previews received (for tests and screen readers)
  shown: null, // what the preview was last asked for
};

const mask = document.createElement('canvas'); // transparent, white where painted

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.addEventListener('load', () => resolve(img));
    img.addEventListener('error', () => reject(new Error('the image could not be shown')));
    img.src = url;
  });
}

export function maskOn() {
  return $('mask-on').checked;
}

// Whether a mask with paint on it goes with the generation.
export function hasMask() {
  return maskOn() && state.painted;
}

// The mask as a PNG blob at the frame's size: white where painted, black elsewhere.
export function maskBlob() {
  const out = document.createElement('canvas');
  out.width = mask.width;
  out.height = mask.height;
  const ctx = out.getContext('2d');
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.drawImage(mask, 0, 0);
  return new Promise((resolve) => out.toBlob(resolve, 'image/png'));
}

// The preview as shown (look, mixed by the mask when there is one), as a PNG blob.
export function previewBlob() {
  return new Promise((resolve) => $('preview').toBlob(resolve, 'image/png'));
}

export function ready() {
  return Boolean(state.styledImg && state.frameImg);
}

function draw() {
  const c = $('preview');
  const ctx = c.getContext('2d');
  if (!state.frameImg) return;
  c.width = state.frameImg.naturalWidth;
  c.height = state.frameImg.naturalHeight;
  ctx.drawImage(state.frameImg, 0, 0);
  if (!state.styledImg) return;
  if (!maskOn()) {
    ctx.drawImage(state.styledImg, 0, 0, c.width, c.height);
    return;
  }
  const styled = document.createElement('canvas');
  styled.width = c.width;
  styled.height = c.height;
  const s = styled.getContext('2d');
  s.drawImage(state.styledImg, 0, 0, c.width, c.height);
  s.globalCompositeOperation = 'destination-in';
  s.drawImage(mask, 0, 0, c.width, c.height);
  ctx.drawImage(styled, 0, 0);
}

async function fetchPreview() {
  const f = state.frame;
  const token = ++state.token;
  if (!f || !f.url) return;
  if (!state.frameImg || state.frameImg.dataset.url !== f.url) {
    try {
      state.frameImg = await loadImage(f.url);
      state.frameImg.dataset.url = f.url;
    } catch (e) {
      return;
    }
    if (mask.width !== state.frameImg.naturalWidth || mask.height !== state.frameImg.naturalHeight) {
      mask.width = state.frameImg.naturalWidth;
      mask.height = state.frameImg.naturalHeight;
      state.painted = false;
    }
  }
  if (!state.look) {
    state.styledImg = null;
    $('preview-state').textContent = 'No look: this is the frame itself.';
    draw();
    return;
  }
  $('preview-state').textContent = 'Previewing…';
  say($('preview-error'), '');
  let url;
  try {
    url = await blobUrl('POST', '/v1/looks/preview',
      { look: state.look, upload_id: f.uploadId, frame: f.n });
  } catch (e) {
    if (token === state.token) {
      say($('preview-error'), 'The preview failed: ' + plain(e));
      $('preview-state').textContent = '';
    }
    return;
  }
  if (token !== state.token) {
    URL.revokeObjectURL(url);
    return;
  }
  const img = await loadImage(url).catch(() => null);
  if (state.styledUrl) URL.revokeObjectURL(state.styledUrl);
  state.styledUrl = url;
  state.styledImg = img;
  state.previews += 1;
  $('preview').dataset.previews = String(state.previews);
  $('preview').dataset.look = state.look.name;
  $('preview').dataset.frame = String(f.n);
  $('preview-state').textContent = 'Preview of ' + state.look.name.replace(/_/g, ' ') +
    ' on frame f' + f.n + (hasMask() ? ', inside the painted mask' : '') + '.';
  draw();
}

const refreshSoon = debounce(fetchPreview, 250);

// Shows the preview for `frame` ({n, url, width, height, uploadId}) with `look` (or null).
export function update(frame, look) {
  show($('editor'), Boolean(frame && frame.url));
  const key = JSON.stringify([frame && frame.url, look]);
  if (key === state.shown) return; // nothing changed (another field of the form did)
  state.shown = key;
  state.frame = frame;
  state.look = look;
  refreshSoon();
}

// Whether the mask is on with nothing painted (the look would go nowhere).
export function maskEmpty() {
  return maskOn() && !state.painted;
}

// Paints a dab at the pointer, joined to the last one by a stroke of the brush's width.
function paintAt(ev, from) {
  const c = $('preview');
  const r = c.getBoundingClientRect();
  const x = ((ev.clientX - r.left) / r.width) * mask.width;
  const y = ((ev.clientY - r.top) / r.height) * mask.height;
  const radius = Math.max(1, (Number($('brush').value) / 100) * Math.max(mask.width, mask.height) / 2);
  const ctx = mask.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.strokeStyle = '#fff';
  ctx.lineCap = 'round';
  ctx.lineWidth = radius * 2;
  ctx.beginPath();
  if (from) {
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(x, y);
    ctx.stroke();
  } else {
    ctx.arc(x, y, radius, 0, Math.PI * 2);
    ctx.fill();
  }
  state.painted = true;
  state.last = { x, y };
  draw();
}

function fillMask(on) {
  const ctx = mask.getContext('2d');
  ctx.clearRect(0, 0, mask.width, mask.height);
  if (on) {
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, mask.width, mask.height);
  }
  state.painted = on;
  draw();
}

export function init(onMaskChange) {
  const c = $('preview');
  c.addEventListener('pointerdown', (ev) => {
    if (!maskOn()) return;
    state.painting = true;
    c.setPointerCapture(ev.pointerId);
    paintAt(ev, null);
  });
  c.addEventListener('pointermove', (ev) => {
    if (state.painting) paintAt(ev, state.last);
  });
  const stop = () => {
    if (state.painting) onMaskChange();
    state.painting = false;
  };
  c.addEventListener('pointerup', stop);
  c.addEventListener('pointercancel', stop);
  $('mask-on').addEventListener('change', () => {
    show($('mask-tools'), maskOn());
    c.classList.toggle('painting', maskOn());
    draw();
    onMaskChange();
  });
  $('mask-clear').addEventListener('click', () => {
    fillMask(false);
    onMaskChange();
  });
  $('mask-fill').addEventListener('click', () => {
    fillMask(true);
    onMaskChange();
  });
  $('brush').addEventListener('input', () => {
    $('brush-value').textContent = $('brush').value + ' %';
  });
}
