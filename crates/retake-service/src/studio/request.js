// The create request the form describes — for the Luma API, or for the agents API when the
// keyframe model is picked — and its price from POST /v1/quote, shown before submitting.
import { $, words, api, apiBlob, luma, upload } from './api.js';
import * as frames from './frames.js';
import * as lookEditor from './look.js';

// What the request is built from: the server's info and the uploaded clip.
export const form = { info: null, clip: null };

export function keyframeModel() {
  return form.info && form.info.keyframe_model;
}

// Whether the request goes to the agents API (keyframes past f0, a resolution).
export function viaAgents() {
  const km = keyframeModel();
  return Boolean(km && $('model').value === km.id);
}

// The look the controls describe, as the API takes it (no mask), or null.
export function lookValue() {
  const look = form.info && form.info.looks.find((x) => x.name === $('look').value);
  if (!look) return null;
  const v = { name: look.name, strength: Number($('strength').value) };
  if (look.takes_hsl) {
    v.hue = Number($('hue').value);
    v.saturation = Number($('saturation').value);
    v.lightness = Number($('lightness').value);
  }
  return v;
}

// Uploads the painted mask; its URL goes in the look's `mask`.
async function uploadMask() {
  const blob = await lookEditor.maskBlob();
  return upload(blob, $('frame-edit-progress'));
}

// The create request the form describes: {path, body}. For a quote nothing is uploaded
// (the mask and a look's baked frame f0 do not change the price).
export async function buildRequest(forQuote) {
  const clip = form.clip;
  const kfs = frames.keyframes();
  const look = lookValue();
  const prompt = $('prompt').value.trim();
  if (look && !forQuote && lookEditor.maskEmpty()) {
    throw new Error('the mask is empty: paint where the look goes, or untick “Paint where the ' +
      'look goes” to apply it to the whole frame');
  }
  if (!viaAgents()) {
    const far = kfs.find((k) => k.n > 0);
    if (far) {
      throw new Error('keyframes past the first frame (f' + far.n + ') need the keyframe model; ' +
        'pick ' + (keyframeModel() ? keyframeModel().id : 'it') + ' as the model, or remove them');
    }
    const body = {
      generation_type: 'modify_video',
      media: { url: clip.upload.url },
      mode: $('mode').value,
      model: $('model').value,
    };
    if (prompt) body.prompt = prompt;
    const first = kfs.find((k) => k.n === 0);
    if (first) body.first_frame = { url: first.upload.url };
    if (look) {
      body.look = look;
      if (!forQuote && lookEditor.hasMask()) body.look.mask = { url: (await uploadMask()).url };
    }
    return { path: luma('/generations/video/modify'), body };
  }
  const keyframes = [];
  const indexes = [];
  if (look && !kfs.some((k) => k.n === 0) && !forQuote) {
    // The agents API has no `look`: apply it to frame f0 here (the server's own preview
    // route, at full size, with the mask) and send that as the f0 keyframe.
    const l = { ...look };
    if (lookEditor.hasMask()) l.mask = { url: (await uploadMask()).url };
    const baked = await apiBlob('POST', '/v1/looks/preview', { look: l, upload_id: clip.upload.id, frame: 0 });
    const up = await upload(baked, $('frame-edit-progress'));
    keyframes.push({ url: up.url });
    indexes.push(0);
  }
  for (const k of kfs) {
    keyframes.push({ url: k.upload.url });
    indexes.push(k.n);
  }
  const edit = { strength: $('mode').value };
  if (keyframes.length) {
    edit.keyframes = keyframes;
    edit.keyframe_indexes = indexes;
  }
  const body = {
    type: 'video_edit',
    model: keyframeModel().id,
    source: { url: clip.upload.url, media_type: clip.upload.content_type === 'video/quicktime' ? 'video/quicktime' : 'video/mp4' },
    video: { resolution: $('resolution').value, edit },
  };
  if (prompt) body.prompt = prompt;
  return { path: '/agents/v1/generations', body };
}

let quoteToken = 0;
export async function quote() {
  const token = ++quoteToken;
  const el = $('quote');
  if (!form.clip || !form.clip.upload) {
    el.textContent = '';
    delete el.dataset.credits;
    return;
  }
  let q;
  try {
    const { body } = await buildRequest(true);
    q = await api('POST', '/v1/quote', body);
  } catch (e) {
    if (token !== quoteToken) return;
    el.textContent = 'No price yet: ' + words(e);
    delete el.dataset.credits;
    return;
  }
  if (token !== quoteToken) return;
  el.dataset.credits = String(q.credits);
  el.textContent = 'Cost: ' + q.credits.toFixed(2) + ' credits for ' + q.width + '×' + q.height +
    ', ' + q.frames + ' frames (' + q.resolution + '); the key has ' + q.available.toFixed(2) +
    (q.enough ? '.' : ' — not enough: ask the operator for more credits.');
}
