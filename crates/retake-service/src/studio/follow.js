// Following a generation: live progress from its server-sent event stream
// (GET /v1/generations/{id}/events, read with fetch() so the key stays in the Authorization
// header), falling back to polling GET /dream-machine/v1/generations/{id} every half second
// when the stream cannot be had or breaks off.
import { $, api, luma, readEvents, ApiError } from './api.js';

const POLL_MS = 500;

let running = null; // {id, stop}

// Stops following.
export function stop() {
  if (running) running.stop();
  running = null;
}

export function following() {
  return running ? running.id : null;
}

// Follows generation `id`: onGeneration(g) on every report, onGone(err) when it is no longer
// there (404) or the key is refused (401), onTrouble(err|null) for passing network trouble.
export function follow(id, { onGeneration, onGone, onTrouble }) {
  stop();
  const controller = new AbortController();
  let timer = null;
  let over = false;
  const me = {
    id,
    stop() {
      over = true;
      controller.abort();
      if (timer) clearTimeout(timer);
    },
  };
  running = me;
  const finish = () => {
    over = true;
    if (running === me) running = null;
  };
  const report = (g) => {
    if (over) return;
    onTrouble(null);
    onGeneration(g);
    if (g.state === 'completed' || g.state === 'failed') finish();
  };
  const gone = (e) => {
    finish();
    onGone(e);
  };

  const poll = async () => {
    if (over) return;
    $('job').dataset.transport = 'polling';
    try {
      report(await api('GET', luma('/generations/' + encodeURIComponent(id))));
    } catch (e) {
      if (over) return;
      if (e instanceof ApiError && (e.status === 404 || e.status === 401)) {
        gone(e);
        return;
      }
      onTrouble(e);
      timer = setTimeout(poll, POLL_MS * 2);
      return;
    }
    if (!over) timer = setTimeout(poll, POLL_MS);
  };

  (async () => {
    $('job').dataset.transport = 'events';
    try {
      await readEvents('/v1/generations/' + encodeURIComponent(id) + '/events', (name, data) => {
        if (name === 'generation') report(JSON.parse(data));
      }, controller.signal);
    } catch (e) {
      if (over) return;
      if (e instanceof ApiError && (e.status === 404 || e.status === 401)) {
        gone(e);
        return;
      }
    }
    // The stream ended before a final state (a proxy cut it, the server restarted): poll.
    if (!over) poll();
  })();
}
