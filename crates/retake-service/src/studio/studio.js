// retake studio: sign in, upload a clip, pick a look/mode, submit, follow the generation,
// compare and download. Talks only to the public API on this origin. Every string that comes
// from a person or the server is put on the page with textContent, never as markup. The API
// key lives in sessionStorage (or localStorage when "remember" is ticked) and is sent only in
// the Authorization header.
import {
  $, show, say, sizeText, plain, words, errorFrom, api, luma, upload, setKey,
  onCreditsChange, blobUrl, uploadIdOf, debounce,
} from './api.js';
import * as frames from './frames.js';
import * as lookEditor from './look.js';
import * as follower from './follow.js';
import * as compare from './compare.js';
import * as history from './history.js';
import {
  form, keyframeModel, viaAgents, lookValue, buildRequest, quote,
} from './request.js';
import { refreshHistory } from './history.js';

(function () {
  const KEY_ITEM = 'retake.key';
  const CURRENT_ITEM = 'retake.current';

  const state = {
    key: null,
    uploading: 0,
    current: null, // generation id shown in the job card
    sources: new Map(), // generation id -> blob URL of the clip it was made from
  };

  function savedKey() {
    return sessionStorage.getItem(KEY_ITEM) || localStorage.getItem(KEY_ITEM);
  }

  function forgetKey() {
    sessionStorage.removeItem(KEY_ITEM);
    localStorage.removeItem(KEY_ITEM);
  }

  // --- sign in ---------------------------------------------------------------------------

  async function signIn(key, remember) {
    state.key = key;
    setKey(key);
    const info = await fetch('/studio/v1/info', { cache: 'no-store' });
    if (!info.ok) throw await errorFrom(info.status, await info.text());
    form.info = await info.json();
    const c = await api('GET', luma('/credits'));
    $('credits').textContent = String(c.credit_balance);
    forgetKey();
    (remember ? localStorage : sessionStorage).setItem(KEY_ITEM, key);
    frames.setImageLimit(form.info.max_image_bytes);
    fillChoices();
    show($('signin'), false);
    show($('account'), true);
    show($('make'), true);
    show($('history'), true);
    refreshHistory();
    const current = localStorage.getItem(CURRENT_ITEM);
    if (current) follow(current);
  }

  function signOut() {
    forgetKey();
    localStorage.removeItem(CURRENT_ITEM);
    follower.stop();
    state.current = null;
    state.key = null;
    setKey(null);
    $('key').value = '';
    for (const id of ['account', 'make', 'job', 'result', 'history']) show($(id), false);
    show($('signin'), true);
    $('key').focus();
  }

  // --- the form --------------------------------------------------------------------------

  function option(select, value, text) {
    const o = document.createElement('option');
    o.value = value;
    o.textContent = text;
    select.appendChild(o);
  }

  function fillChoices() {
    const info = form.info;
    const mode = $('mode');
    const look = $('look');
    const model = $('model');
    const res = $('resolution');
    for (const s of [mode, look, model, res]) s.replaceChildren();
    for (const m of info.modes) option(mode, m.name, m.name.replace('_', ' '));
    mode.value = 'flex_1';
    option(look, '', 'None (use edited frames or the prompt)');
    for (const l of info.looks) option(look, l.name, l.name.replace(/_/g, ' '));
    for (const m of info.models) option(model, m.id, m.id);
    const km = keyframeModel();
    if (km) option(model, km.id, km.id + ' (keyframes, resolution)');
    for (const r of info.resolutions) option(res, r, r);
    res.value = info.resolutions.includes('720p') ? '720p' : (info.resolutions[0] || '');
    $('clip-limits').textContent = 'At most ' + sizeText(info.max_bytes) + '; output is ' +
      info.output_fps + ' fps, at most ' + info.size_cap.replace('x', '×') + ', same duration, sound kept.';
    $('prompt').maxLength = info.max_prompt_chars;
    $('prompt-help').textContent = info.prompts_need_no_frame ?
      'What to change. This server has a diffusion model, so a prompt alone works.' :
      'This server has no diffusion model: a prompt is kept with the request but the change ' +
      'comes from the look or the edited frames.';
    describe();
  }

  function currentModel() {
    const info = form.info;
    const km = keyframeModel();
    if (km && $('model').value === km.id) return km;
    return info.models.find((x) => x.id === $('model').value);
  }

  function describe() {
    const info = form.info;
    if (!info) return;
    const m = info.modes.find((x) => x.name === $('mode').value);
    $('mode-help').textContent = m ? m.description : '';
    const l = info.looks.find((x) => x.name === $('look').value);
    $('look-help').textContent = l ? l.description :
      'Without a look, upload edited frames (or write a prompt, on a server with a model).';
    $('strength').disabled = !l;
    show($('hsl'), Boolean(l && l.takes_hsl));
    const model = currentModel();
    const agents = viaAgents();
    $('model-help').textContent = model ? 'Clips up to ' + model.max_duration_s + ' s; ' +
      model.price + '.' + (agents ? ' Takes keyframes at any frame; a look is applied to ' +
      'frame f0 in the page and sent as its keyframe.' : '') : '';
    $('resolution').disabled = !agents;
    $('resolution-help').textContent = agents ?
      'The output’s shorter side (a smaller clip keeps its size).' :
      'Only with the keyframe model' + (keyframeModel() ? ' (' + keyframeModel().id + ')' : '') +
      '; ' + 'the others make at most ' + info.size_cap.replace('x', '×') + '.';
    checkDuration();
    editorUpdate();
    quoteSoon();
  }

  function updateSubmit() {
    $('submit').disabled = !(form.clip && form.clip.upload) || state.uploading > 0;
  }

  function checkDuration() {
    const clip = form.clip;
    if (!clip || !clip.duration || !form.info) return true;
    const model = currentModel();
    if (model && clip.duration > model.max_duration_s + 0.05) {
      say($('clip-error'), 'This clip is ' + clip.duration.toFixed(1) + ' s long; ' + model.id +
        ' takes at most ' + model.max_duration_s + ' s. Trim it first (or pick another model).');
      return false;
    }
    return true;
  }

  // Reads the clip's size and duration in the browser (no upload needed for that).
  function probe(url) {
    return new Promise((resolve) => {
      const v = document.createElement('video');
      v.preload = 'metadata';
      v.muted = true;
      v.addEventListener('loadedmetadata', () =>
        resolve({ duration: v.duration, width: v.videoWidth, height: v.videoHeight }));
      v.addEventListener('error', () => resolve(null));
      v.src = url;
    });
  }

  async function takeClip(file) {
    say($('clip-error'), '');
    say($('make-error'), '');
    $('clip-info').textContent = '';
    if (form.clip && form.clip.url) {
      // Keep blob URLs that a generation still shows; drop the others.
      if (![...state.sources.values()].includes(form.clip.url)) URL.revokeObjectURL(form.clip.url);
    }
    form.clip = null;
    frames.clear();
    updateSubmit();
    quoteSoon();
    if (!file) return;
    const max = form.info.max_bytes;
    if (file.size > max) {
      say($('clip-error'), 'This file is ' + sizeText(file.size) + '; this server takes clips of at most ' +
        sizeText(max) + '. Trim or re-encode it (for example: ffmpeg -i IN -t 5 -c:v libx264 -crf 23 OUT.mp4).');
      return;
    }
    if (file.size === 0) {
      say($('clip-error'), 'This file is empty; choose the clip again.');
      return;
    }
    const clip = { file, url: URL.createObjectURL(file), upload: null };
    form.clip = clip;
    const meta = await probe(clip.url);
    if (meta) {
      clip.duration = meta.duration;
      clip.width = meta.width;
      clip.height = meta.height;
      $('clip-info').textContent = file.name + ': ' + meta.width + '×' + meta.height + ', ' +
        meta.duration.toFixed(2) + ' s, ' + sizeText(file.size) + ' → 24 fps';
      if (!checkDuration()) return;
    } else {
      $('clip-info').textContent = file.name + ' (' + sizeText(file.size) +
        '): this browser cannot preview it; the server will check it.';
    }
    state.uploading += 1;
    updateSubmit();
    try {
      clip.upload = await upload(file, $('clip-progress'));
      if (form.clip === clip) {
        $('clip-info').textContent += ' — uploaded';
        frames.load(clip.upload);
        quoteSoon();
      }
    } catch (e) {
      if (form.clip === clip) {
        say($('clip-error'), 'The upload failed: ' + plain(e));
        form.clip = null;
      }
    } finally {
      state.uploading -= 1;
      updateSubmit();
    }
  }

  function editorUpdate() {
    const p = frames.picked();
    const up = frames.current();
    lookEditor.update(up && p.url ? { ...p, uploadId: up.id } : null, lookValue());
    $('use-preview').textContent = 'Use this picture as the edited frame f' + p.n;
  }

  const quoteSoon = debounce(quote, 300);

  async function submit(ev) {
    ev.preventDefault();
    say($('make-error'), '');
    if (!form.clip || !form.clip.upload) {
      say($('make-error'), 'Choose a clip first and wait for its upload to finish.');
      return;
    }
    if (!checkDuration()) return;
    $('submit').disabled = true;
    try {
      const { path, body } = await buildRequest(false);
      const g = await api('POST', path, body);
      state.sources.set(g.id, form.clip.url);
      localStorage.setItem(CURRENT_ITEM, g.id);
      follow(g.id);
      refreshHistory();
    } catch (e) {
      say($('make-error'), words(e));
    } finally {
      updateSubmit();
    }
  }

  // --- following a generation ------------------------------------------------------------

  function follow(id) {
    state.current = id;
    $('job-id').textContent = id;
    $('job-state').textContent = 'checking…';
    $('job-progress').value = 0;
    say($('job-error'), '');
    show($('cancel'), true);
    show($('job'), true);
    show($('result'), false);
    let restored = false;
    follower.follow(id, {
      onGeneration: (g) => {
        if (state.current !== id) return;
        showGeneration(g);
        if (!restored) {
          restored = true;
          restoreSource(g);
        }
        if (g.state === 'completed' || g.state === 'failed') {
          localStorage.removeItem(CURRENT_ITEM);
          refreshHistory();
        }
      },
      onGone: (e) => {
        if (state.current !== id) return;
        say($('job-error'), plain(e));
        localStorage.removeItem(CURRENT_ITEM);
        show($('cancel'), false);
      },
      onTrouble: (e) => {
        if (state.current === id) say($('job-error'), e ? plain(e) : '');
      },
    });
  }

  // Brings back the source clip of a generation made from an upload (after a reload, or
  // from the history): its bytes for the previews, and the timeline.
  async function restoreSource(g) {
    const id = uploadIdOf(g.request && g.request.media && g.request.media.url);
    if (!state.sources.has(g.id) && id) {
      try {
        const up = await api('GET', '/v1/uploads/' + encodeURIComponent(id));
        const url = await blobUrl('GET', '/v1/uploads/' + encodeURIComponent(id) + '/content');
        state.sources.set(g.id, url);
        if (!form.clip && state.uploading === 0) {
          form.clip = { file: null, url, upload: up };
          $('clip-info').textContent = 'The clip of generation ' + g.id.slice(0, 8) + ' (' +
            sizeText(up.bytes) + ')';
          frames.load(up);
          updateSubmit();
          quoteSoon();
        }
      } catch (e) {
        // Expired or deleted: the output is still shown on its own.
      }
    }
    if (state.current !== g.id) return;
    const src = state.sources.get(g.id);
    const v = $('job-source');
    if (src && v.src !== src) v.src = src;
    show($('job-source-figure'), Boolean(src) && !(g.state === 'completed'));
    if (g.state === 'completed' && g.assets && g.assets.video) showResult(g);
  }

  function showGeneration(g) {
    $('job-id').textContent = g.id;
    const stateWords = {
      queued: 'queued, waiting for a worker',
      dreaming: 'working',
      completed: 'completed',
      failed: 'failed',
    };
    $('job-state').textContent = (stateWords[g.state] || g.state) +
      (g.state === 'dreaming' ? ' (' + g.progress + ' %)' : '');
    $('job-progress').value = g.state === 'completed' ? 100 : (g.progress || 0);
    const running = g.state === 'queued' || g.state === 'dreaming';
    show($('cancel'), running);
    show($('job'), true);
    if (!running) show($('job-source-figure'), false);
    if (g.state === 'failed') {
      say($('job-error'), g.failure_reason || 'It failed without a reason.');
    }
    if (g.state === 'completed' && g.assets && g.assets.video) showResult(g);
  }

  function showResult(g) {
    const out = $('out-video');
    const src = $('src-video');
    if (out.getAttribute('src') !== g.assets.video) out.src = g.assets.video;
    const a = $('download');
    a.href = g.assets.video;
    a.setAttribute('download', 'retake-' + g.id + '.mp4');
    const source = state.sources.get(g.id);
    if (source) {
      if (src.getAttribute('src') !== source) src.src = source;
      show($('src-figure'), true);
      show($('src-note'), false);
      show($('play-both'), true);
      show($('wipe-wrap'), true);
    } else {
      src.removeAttribute('src');
      show($('src-figure'), false);
      show($('src-note'), true);
      show($('play-both'), false);
      show($('wipe-wrap'), false);
    }
    show($('result'), true);
  }

  async function cancelCurrent() {
    const id = state.current || $('job-id').textContent;
    if (!id) return;
    try {
      await api('POST', luma('/generations/' + encodeURIComponent(id) + '/cancel'));
      if (!follower.following()) follow(id);
    } catch (e) {
      say($('job-error'), plain(e));
    }
  }

  // --- wiring ----------------------------------------------------------------------------
  // --- wiring ----------------------------------------------------------------------------

  function start() {
    $('signin-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      say($('signin-error'), '');
      const key = $('key').value.trim();
      if (!key) {
        say($('signin-error'), 'Type an API key first.');
        return;
      }
      $('signin-button').disabled = true;
      try {
        await signIn(key, $('remember').checked);
      } catch (e) {
        state.key = null;
        setKey(null);
        say($('signin-error'), plain(e));
      } finally {
        $('signin-button').disabled = false;
      }
    });
    $('signout').addEventListener('click', signOut);
    $('clip').addEventListener('change', () => takeClip($('clip').files[0]));
    const drop = $('drop');
    drop.addEventListener('dragover', (e) => {
      e.preventDefault();
      drop.classList.add('over');
    });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('over');
      if (e.dataTransfer && e.dataTransfer.files.length) takeClip(e.dataTransfer.files[0]);
    });
    frames.init();
    frames.onChange((what) => {
      if (what === 'keyframes') {
        const km = keyframeModel();
        if (km && frames.keyframes().some((k) => k.n > 0) && $('model').value !== km.id) {
          $('model').value = km.id;
        }
        describe();
      } else {
        editorUpdate();
      }
    });
    lookEditor.init(quoteSoon);
    $('use-preview').addEventListener('click', async () => {
      if (!lookEditor.ready()) return;
      const blob = await lookEditor.previewBlob();
      if (blob) await frames.setEdited(blob, 'the look from the preview');
    });
    for (const id of ['mode', 'look', 'model', 'resolution']) $(id).addEventListener('change', describe);
    $('prompt').addEventListener('input', quoteSoon);
    const slider = (id, text) => {
      const update = () => { $(id + '-value').textContent = text(Number($(id).value)); };
      $(id).addEventListener('input', update);
      $(id).addEventListener('change', editorUpdate);
      update();
    };
    slider('strength', (v) => v.toFixed(2));
    slider('hue', (v) => v + '°');
    slider('saturation', (v) => v.toFixed(2));
    slider('lightness', (v) => v.toFixed(2));
    $('make-form').addEventListener('submit', submit);
    $('cancel').addEventListener('click', cancelCurrent);
    history.init({
      open(g) {
        if (g.state === 'completed' || g.state === 'failed') {
          follower.stop();
          api('GET', luma('/generations/' + encodeURIComponent(g.id)))
            .then((fresh) => {
              show($('result'), false);
              state.current = fresh.id;
              showGeneration(fresh);
              restoreSource(fresh);
            })
            .catch((e) => say($('history-error'), plain(e)));
        } else {
          localStorage.setItem(CURRENT_ITEM, g.id);
          follow(g.id);
        }
      },
      deleted(id) {
        if (state.current === id || $('job-id').textContent === id) {
          follower.stop();
          state.current = null;
          localStorage.removeItem(CURRENT_ITEM);
          show($('job'), false);
          show($('result'), false);
        }
      },
    });
    compare.init();
    onCreditsChange((c) => { $('credits').textContent = c; });

    const key = savedKey();
    if (key) {
      $('remember').checked = Boolean(localStorage.getItem(KEY_ITEM));
      signIn(key, $('remember').checked).catch((e) => {
        state.key = null;
        setKey(null);
        say($('signin-error'), plain(e));
      });
    } else {
      $('key').focus();
    }
  }

  document.addEventListener('DOMContentLoaded', start);
})();
