// retake studio: sign in, upload a clip, pick a look/mode, submit, follow the generation,
// compare and download. Talks only to the public API on this origin. Every string that comes
// from a person or the server is put on the page with textContent, never as markup. The API
// key lives in sessionStorage (or localStorage when "remember" is ticked) and is sent only in
// the Authorization header.
import {
  $, show, say, sizeText, ageText, ApiError, plain, errorFrom, api, luma, upload, setKey,
  onCreditsChange,
} from './api.js';

(function () {
  const KEY_ITEM = 'retake.key';
  const CURRENT_ITEM = 'retake.current';
  const POLL_MS = 500;

  const state = {
    key: null,
    info: null,
    clip: null, // {file, url (blob:), upload, duration, width, height}
    first: null, // {file, upload}
    uploading: 0,
    current: null, // generation id being followed
    pollTimer: null,
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
    state.info = await info.json();
    const c = await api('GET', luma('/credits'));
    $('credits').textContent = String(c.credit_balance);
    forgetKey();
    (remember ? localStorage : sessionStorage).setItem(KEY_ITEM, key);
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
    stopPolling();
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
    const info = state.info;
    const mode = $('mode');
    const look = $('look');
    const model = $('model');
    mode.replaceChildren();
    look.replaceChildren();
    model.replaceChildren();
    for (const m of info.modes) option(mode, m.name, m.name.replace('_', ' '));
    mode.value = 'flex_1';
    option(look, '', 'None (use the edited first frame or the prompt)');
    for (const l of info.looks) option(look, l.name, l.name.replace(/_/g, ' '));
    for (const m of info.models) option(model, m.id, m.id);
    $('clip-limits').textContent = 'At most ' + sizeText(info.max_bytes) + '; output is ' +
      info.output_fps + ' fps, at most ' + info.size_cap.replace('x', '×') + ', same duration, sound kept.';
    $('prompt').maxLength = info.max_prompt_chars;
    $('prompt-help').textContent = info.prompts_need_no_frame ?
      'What to change. This server has a diffusion model, so a prompt alone works.' :
      'This server has no diffusion model: a prompt is kept with the request but the change ' +
      'comes from the look or the edited first frame.';
    describe();
  }

  function describe() {
    const info = state.info;
    if (!info) return;
    const m = info.modes.find((x) => x.name === $('mode').value);
    $('mode-help').textContent = m ? m.description : '';
    const l = info.looks.find((x) => x.name === $('look').value);
    $('look-help').textContent = l ? l.description :
      'Without a look, upload an edited first frame (or write a prompt, on a server with a model).';
    $('strength').disabled = !l;
    show($('hsl'), Boolean(l && l.takes_hsl));
    const model = info.models.find((x) => x.id === $('model').value);
    $('model-help').textContent = model ?
      'Clips up to ' + model.max_duration_s + ' s; ' + model.price + '.' : '';
    checkDuration();
  }

  function updateSubmit() {
    $('submit').disabled = !(state.clip && state.clip.upload) || state.uploading > 0;
  }

  function checkDuration() {
    const clip = state.clip;
    if (!clip || !clip.duration || !state.info) return true;
    const model = state.info.models.find((x) => x.id === $('model').value);
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
    if (state.clip && state.clip.url) {
      // Keep blob URLs that a generation still shows; drop the others.
      if (![...state.sources.values()].includes(state.clip.url)) URL.revokeObjectURL(state.clip.url);
    }
    state.clip = null;
    updateSubmit();
    if (!file) return;
    const max = state.info.max_bytes;
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
    state.clip = clip;
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
      if (state.clip === clip) {
        $('clip-info').textContent += ' — uploaded';
      }
    } catch (e) {
      if (state.clip === clip) {
        say($('clip-error'), 'The upload failed: ' + plain(e));
        state.clip = null;
      }
    } finally {
      state.uploading -= 1;
      updateSubmit();
    }
  }

  async function takeFirst(file) {
    say($('first-error'), '');
    $('first-info').textContent = '';
    state.first = null;
    if (!file) return;
    if (file.size > state.info.max_image_bytes) {
      say($('first-error'), 'This image is ' + sizeText(file.size) + '; the server takes at most ' +
        sizeText(state.info.max_image_bytes) + '. Save it smaller (PNG, JPEG or WebP).');
      return;
    }
    const first = { file, upload: null };
    state.first = first;
    state.uploading += 1;
    updateSubmit();
    try {
      first.upload = await upload(file, $('first-progress'));
      $('first-info').textContent = file.name + ' uploaded (' + sizeText(file.size) + ')';
    } catch (e) {
      say($('first-error'), 'The upload failed: ' + plain(e));
      if (state.first === first) state.first = null;
    } finally {
      state.uploading -= 1;
      updateSubmit();
    }
  }

  async function submit(ev) {
    ev.preventDefault();
    say($('make-error'), '');
    if (!state.clip || !state.clip.upload) {
      say($('make-error'), 'Choose a clip first and wait for its upload to finish.');
      return;
    }
    if (!checkDuration()) return;
    const body = {
      generation_type: 'modify_video',
      media: { url: state.clip.upload.url },
      mode: $('mode').value,
      model: $('model').value,
    };
    const prompt = $('prompt').value.trim();
    if (prompt) body.prompt = prompt;
    if (state.first && state.first.upload) body.first_frame = { url: state.first.upload.url };
    const look = state.info.looks.find((x) => x.name === $('look').value);
    if (look) {
      body.look = { name: look.name, strength: Number($('strength').value) };
      if (look.takes_hsl) {
        body.look.hue = Number($('hue').value);
        body.look.saturation = Number($('saturation').value);
        body.look.lightness = Number($('lightness').value);
      }
    }
    $('submit').disabled = true;
    try {
      const g = await api('POST', luma('/generations/video/modify'), body);
      state.sources.set(g.id, state.clip.url);
      localStorage.setItem(CURRENT_ITEM, g.id);
      follow(g.id);
      refreshHistory();
    } catch (e) {
      say($('make-error'), plain(e));
    } finally {
      updateSubmit();
    }
  }

  // --- following a generation ------------------------------------------------------------

  function stopPolling() {
    if (state.pollTimer) clearTimeout(state.pollTimer);
    state.pollTimer = null;
    state.current = null;
  }

  function follow(id) {
    stopPolling();
    state.current = id;
    $('job-id').textContent = id;
    $('job-state').textContent = 'checking…';
    $('job-progress').value = 0;
    say($('job-error'), '');
    show($('cancel'), true);
    show($('job'), true);
    show($('result'), false);
    poll(id);
  }

  async function poll(id) {
    if (state.current !== id) return;
    let g;
    try {
      g = await api('GET', luma('/generations/' + encodeURIComponent(id)));
    } catch (e) {
      if (state.current !== id) return;
      if (e instanceof ApiError && (e.status === 404 || e.status === 401)) {
        say($('job-error'), plain(e));
        localStorage.removeItem(CURRENT_ITEM);
        show($('cancel'), false);
        stopPolling();
        return;
      }
      // A network blip or a busy server: say so and keep trying.
      say($('job-error'), plain(e));
      state.pollTimer = setTimeout(() => poll(id), POLL_MS * 2);
      return;
    }
    if (state.current !== id) return;
    say($('job-error'), '');
    showGeneration(g);
    if (g.state === 'completed' || g.state === 'failed') {
      localStorage.removeItem(CURRENT_ITEM);
      state.current = null;
      refreshHistory();
      return;
    }
    state.pollTimer = setTimeout(() => poll(id), POLL_MS);
  }

  function showGeneration(g) {
    $('job-id').textContent = g.id;
    const words = {
      queued: 'queued, waiting for a worker',
      dreaming: 'working',
      completed: 'completed',
      failed: 'failed',
    };
    $('job-state').textContent = (words[g.state] || g.state) +
      (g.state === 'dreaming' ? ' (' + g.progress + ' %)' : '');
    $('job-progress').value = g.state === 'completed' ? 100 : (g.progress || 0);
    const running = g.state === 'queued' || g.state === 'dreaming';
    show($('cancel'), running);
    show($('job'), true);
    if (g.state === 'failed') {
      say($('job-error'), g.failure_reason || 'It failed without a reason.');
    }
    if (g.state === 'completed' && g.assets && g.assets.video) showResult(g);
  }

  function showResult(g) {
    const out = $('out-video');
    const src = $('src-video');
    out.src = g.assets.video;
    const a = $('download');
    a.href = g.assets.video;
    a.setAttribute('download', 'retake-' + g.id + '.mp4');
    const source = state.sources.get(g.id);
    if (source) {
      src.src = source;
      show($('src-figure'), true);
      show($('src-note'), false);
      show($('play-both'), true);
    } else {
      src.removeAttribute('src');
      show($('src-figure'), false);
      show($('src-note'), true);
      show($('play-both'), false);
    }
    show($('result'), true);
  }

  // The output drives; the source follows it (muted, so the sound is the output's).
  function syncVideos() {
    const out = $('out-video');
    const src = $('src-video');
    const follow = () => {
      if (!src.src) return;
      if (Math.abs(src.currentTime - out.currentTime) > 0.08) src.currentTime = out.currentTime;
    };
    out.addEventListener('play', () => {
      if (!src.src) return;
      follow();
      src.play().catch(() => {});
    });
    out.addEventListener('pause', () => src.pause());
    out.addEventListener('seeked', follow);
    out.addEventListener('timeupdate', follow);
    out.addEventListener('ended', () => src.pause());
    $('play-both').addEventListener('click', () => {
      out.currentTime = 0;
      if (src.src) src.currentTime = 0;
      out.play().catch(() => {});
    });
  }

  async function cancelCurrent() {
    const id = state.current || $('job-id').textContent;
    if (!id) return;
    try {
      await api('POST', luma('/generations/' + encodeURIComponent(id) + '/cancel'));
      if (!state.current) follow(id);
    } catch (e) {
      say($('job-error'), plain(e));
    }
  }

  // --- history ---------------------------------------------------------------------------

  function button(text, label, onClick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = text;
    b.setAttribute('aria-label', label);
    b.addEventListener('click', onClick);
    return b;
  }

  function describeRequest(r) {
    const parts = [];
    if (r && r.look) parts.push('look ' + (typeof r.look === 'string' ? r.look : r.look.name));
    if (r && r.first_frame) parts.push('edited first frame');
    if (r && r.prompt) parts.push('“' + r.prompt + '”');
    if (r && r.mode) parts.push(r.mode);
    return parts.join(', ');
  }

  async function refreshHistory() {
    say($('history-error'), '');
    let page;
    try {
      page = await api('GET', luma('/generations?limit=20'));
    } catch (e) {
      say($('history-error'), plain(e));
      return;
    }
    const list = $('history-list');
    list.replaceChildren();
    if (page.generations.length === 0) {
      const li = document.createElement('li');
      li.textContent = 'Nothing yet.';
      list.appendChild(li);
    }
    for (const g of page.generations) {
      const li = document.createElement('li');
      li.className = 'gen';
      li.dataset.id = g.id;
      const head = document.createElement('span');
      head.className = 'gen-state state-' + g.state;
      head.textContent = g.state + (g.state === 'dreaming' ? ' ' + g.progress + ' %' : '');
      const what = document.createElement('span');
      what.className = 'gen-what';
      what.textContent = (describeRequest(g.request) || g.model) + ' · ' + ageText(g.created_at);
      li.append(head, what);
      const short = g.id.slice(0, 8);
      li.appendChild(button('Open', 'Open generation ' + short, () => {
        if (g.state === 'completed' || g.state === 'failed') {
          stopPolling();
          api('GET', luma('/generations/' + encodeURIComponent(g.id)))
            .then((fresh) => {
              show($('result'), false);
              showGeneration(fresh);
              show($('job'), true);
            })
            .catch((e) => say($('history-error'), plain(e)));
        } else {
          localStorage.setItem(CURRENT_ITEM, g.id);
          follow(g.id);
        }
      }));
      if (g.state === 'queued' || g.state === 'dreaming') {
        li.appendChild(button('Cancel', 'Cancel generation ' + short, async () => {
          try {
            await api('POST', luma('/generations/' + encodeURIComponent(g.id) + '/cancel'));
          } catch (e) {
            say($('history-error'), plain(e));
          }
          refreshHistory();
        }));
      }
      li.appendChild(button('Delete', 'Delete generation ' + short, async () => {
        try {
          await api('DELETE', luma('/generations/' + encodeURIComponent(g.id)));
          if (state.current === g.id || $('job-id').textContent === g.id) {
            stopPolling();
            localStorage.removeItem(CURRENT_ITEM);
            show($('job'), false);
            show($('result'), false);
          }
        } catch (e) {
          say($('history-error'), plain(e));
        }
        refreshHistory();
      }));
      list.appendChild(li);
    }
  }

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
    $('first').addEventListener('change', () => takeFirst($('first').files[0]));
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
    for (const id of ['mode', 'look', 'model']) $(id).addEventListener('change', describe);
    const slider = (id, text) => {
      const update = () => { $(id + '-value').textContent = text(Number($(id).value)); };
      $(id).addEventListener('input', update);
      update();
    };
    slider('strength', (v) => v.toFixed(2));
    slider('hue', (v) => v + '°');
    slider('saturation', (v) => v.toFixed(2));
    slider('lightness', (v) => v.toFixed(2));
    $('make-form').addEventListener('submit', submit);
    $('cancel').addEventListener('click', cancelCurrent);
    $('history-refresh').addEventListener('click', refreshHistory);
    syncVideos();
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
