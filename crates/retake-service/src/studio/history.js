// The key's generations (GET /dream-machine/v1/generations): a thumbnail of the source
// (its first frame, while the upload is kept), state, what was asked, cost, age; open, cancel
// and delete. Everything from the server goes on the page as text.
import { $, say, ageText, plain, api, luma, uploadIdOf } from './api.js';

const thumbs = new Map(); // upload id -> Promise of a data: URL (or null)

// The first frame of an upload as a small data: URL, fetched once per upload.
function thumbnail(uploadId) {
  if (!thumbs.has(uploadId)) {
    thumbs.set(uploadId, api('GET', '/v1/uploads/' + encodeURIComponent(uploadId) +
      '/frames?count=1&width=96').then((s) => (s.thumbnails[0] ? s.thumbnails[0].image : null))
      .catch(() => null));
  }
  return thumbs.get(uploadId);
}

function costText(g) {
  if (typeof g.cost !== 'number') return '';
  const c = g.cost.toFixed(2) + ' credits';
  if (g.state === 'failed') return c + ' released';
  if (g.state === 'completed') return c;
  return c + ' held';
}

let hooks = {
  open: () => {},
  deleted: () => {},
};

// open(g): show generation g (its list entry); deleted(id): it was deleted.
export function init(h) {
  hooks = h;
  $('history-refresh').addEventListener('click', refreshHistory);
}

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

export async function refreshHistory() {
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
    what.textContent = [describeRequest(g.request) || g.model, costText(g), ageText(g.created_at)]
      .filter(Boolean).join(' · ');
    const img = document.createElement('img');
    img.className = 'gen-thumb';
    img.alt = '';
    img.hidden = true;
    const uploadId = uploadIdOf(g.request && g.request.media && g.request.media.url);
    if (uploadId) {
      thumbnail(uploadId).then((url) => {
        if (url) {
          img.src = url;
          img.hidden = false;
        }
      });
    }
    li.append(img, head, what);
    const short = g.id.slice(0, 8);
    li.appendChild(button('Open', 'Open generation ' + short, () => hooks.open(g)));
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
        hooks.deleted(g.id);
      } catch (e) {
        say($('history-error'), plain(e));
      }
      refreshHistory();
    }));
    list.appendChild(li);
  }
}

