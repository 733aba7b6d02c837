// The studio's helpers: the API client (the key is held here, in memory, and sent only in the
// Authorization header), uploads with progress, errors in plain words, and small DOM helpers
// that put text on the page, never markup.

export const $ = (id) => document.getElementById(id);

let key = null;
let onCredits = () => {};

// The key to send from now on (null: none).
export function setKey(k) {
  key = k;
}

// Called with each `x-remaining-credits` the server sends.
export function onCreditsChange(f) {
  onCredits = f;
}

// --- small helpers ---------------------------------------------------------------------

export function show(el, on) {
  el.hidden = !on;
}

export function say(el, text) {
  el.textContent = text || '';
  show(el, Boolean(text));
}

export function sizeText(bytes) {
  if (bytes >= 1e6) return (bytes / 1e6).toFixed(1) + ' MB';
  if (bytes >= 1e3) return Math.round(bytes / 1e3) + ' KB';
  return bytes + ' bytes';
}

export function ageText(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.round(s / 60) + ' min ago';
  if (s < 86400) return Math.round(s / 3600) + ' h ago';
  return Math.round(s / 86400) + ' days ago';
}

// An API error in plain words: the server's own `detail`, and what to do for the common
// statuses.
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

const HINTS = {
  401: 'Check the API key (sign out and sign in again with a valid one).',
  402: 'The key has too few credits: ask the operator to add some (retake keys credit).',
  403: 'This key may not do that.',
  404: 'It no longer exists (deleted, or expired).',
  408: 'The connection was too slow; try again.',
  409: 'It has already finished.',
  413: 'The file is too large for this server.',
  429: 'Too many requests: wait a few seconds and try again.',
  503: 'The server is busy or stopping; try again shortly.',
};

export function plain(err) {
  if (err instanceof ApiError) {
    const hint = HINTS[err.status];
    const detail = err.message || 'The server answered ' + err.status + '.';
    return hint ? detail + ' — ' + hint : detail;
  }
  return 'Cannot reach the retake server (' + (err && err.message ? err.message : err) +
    '). Check that it is running and try again.';
}

// Like plain(), but the page's own refusals (plain Errors: a form that cannot be sent as it
// is) are said as they are; network failures (TypeErrors) and API errors as plain() says them.
export function words(err) {
  if (!(err instanceof ApiError) && !(err instanceof TypeError) && err && err.message) {
    return err.message.charAt(0).toUpperCase() + err.message.slice(1) + '.';
  }
  return plain(err);
}

export async function errorFrom(status, text) {
  let detail = '';
  try {
    const body = JSON.parse(text);
    detail = typeof body.detail === 'string' ? body.detail :
      (typeof body.error === 'string' ? body.error : '');
  } catch (_) {
    detail = '';
  }
  return new ApiError(status, detail || 'The server answered ' + status + '.');
}

export async function api(method, path, body) {
  const headers = { Authorization: 'Bearer ' + key };
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  const credits = resp.headers.get('x-remaining-credits');
  if (credits !== null) onCredits(credits);
  const text = await resp.text();
  if (!resp.ok) throw await errorFrom(resp.status, text);
  return text ? JSON.parse(text) : null;
}

export const luma = (path) => '/dream-machine/v1' + path;

// Uploads a file with POST /v1/uploads, reporting progress to `bar` (XHR: fetch has no
// upload progress).
export function upload(file, bar) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v1/uploads');
    xhr.setRequestHeader('Authorization', 'Bearer ' + key);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    show(bar, true);
    bar.value = 0;
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
    });
    xhr.addEventListener('load', async () => {
      if (xhr.status === 201) {
        bar.value = 100;
        setTimeout(() => show(bar, false), 1500);
        try {
          resolve(JSON.parse(xhr.responseText));
        } catch (e) {
          reject(e);
        }
      } else {
        reject(await errorFrom(xhr.status, xhr.responseText));
      }
    });
    xhr.addEventListener('error', () => reject(new Error('the upload was interrupted')));
    xhr.addEventListener('abort', () => reject(new Error('the upload was stopped')));
    xhr.send(file);
  });
}

// The raw response of an API call (for images and streams), or the API's error.
export async function apiFetch(method, path, body, signal) {
  const headers = { Authorization: 'Bearer ' + key };
  const init = { method, headers, cache: 'no-store', signal };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  const credits = resp.headers.get('x-remaining-credits');
  if (credits !== null) onCredits(credits);
  if (!resp.ok) throw await errorFrom(resp.status, await resp.text());
  return resp;
}

// An API answer as a Blob (an image or a clip).
export async function apiBlob(method, path, body, signal) {
  return (await apiFetch(method, path, body, signal)).blob();
}

// An API answer as a blob: URL, for <img>, <video> and download links.
export async function blobUrl(method, path, body, signal) {
  return URL.createObjectURL(await apiBlob(method, path, body, signal));
}

// Reads a server-sent event stream with fetch() (the key goes in the Authorization header,
// which EventSource cannot send), calling onEvent(name, data) for each event. Resolves when
// the stream ends; rejects with ApiError for a refused request, or on a network failure.
export async function readEvents(path, onEvent, signal) {
  const resp = await apiFetch('GET', path, undefined, signal);
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let at;
    while ((at = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, at);
      buf = buf.slice(at + 2);
      let name = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length) onEvent(name, data.join('\n'));
    }
  }
}

// The upload id of an upload URL of this server (`…/v1/uploads/{id}`), or null.
export function uploadIdOf(url) {
  const m = /\/v1\/uploads\/([0-9a-fA-F-]{32,36})$/.exec(url || '');
  return m ? m[1] : null;
}

// Waits `ms` after the last call before running `f` (for previews and quotes).
export function debounce(f, ms) {
  let timer = null;
  return (...args) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      f(...args);
    }, ms);
  };
}
