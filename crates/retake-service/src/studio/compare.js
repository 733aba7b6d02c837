// The result: the source and the output played side by side in sync (the output drives, the
// muted source follows), and a before/after wipe of the frame where the output is paused —
// drag across the picture, or move the slider with the keyboard.
import { $ } from './api.js';

function drawFrame(video, canvas) {
  if (!video.src || video.readyState < 2 || !video.videoWidth) return false;
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
  return true;
}

// Redraws both sides of the wipe from the two videos' current frames.
export function drawWipe() {
  const src = $('src-video');
  const out = $('out-video');
  const after = drawFrame(out, $('wipe-after'));
  const before = drawFrame(src, $('wipe-before'));
  $('wipe-box').dataset.drawn = String(after && before);
  $('wipe-time').textContent = 'Frame at ' + out.currentTime.toFixed(2) + ' s';
}

// Sets the wipe's split: the output left of `percent`, the source right of it.
export function setWipe(percent) {
  const p = Math.max(0, Math.min(100, Math.round(percent)));
  $('wipe').value = String(p);
  $('wipe').setAttribute('aria-valuetext', p + ' % output, ' + (100 - p) + ' % source');
  $('wipe-after').style.clipPath = 'inset(0 ' + (100 - p) + '% 0 0)';
  $('wipe-line').style.left = p + '%';
}

export function init() {
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
  out.addEventListener('pause', () => {
    src.pause();
    follow();
    drawWipe();
  });
  out.addEventListener('seeked', () => {
    follow();
    drawWipe();
  });
  out.addEventListener('timeupdate', follow);
  out.addEventListener('ended', () => src.pause());
  out.addEventListener('loadeddata', drawWipe);
  src.addEventListener('loadeddata', drawWipe);
  src.addEventListener('seeked', drawWipe);
  $('play-both').addEventListener('click', () => {
    out.currentTime = 0;
    if (src.src) src.currentTime = 0;
    out.play().catch(() => {});
  });

  const box = $('wipe-box');
  let dragging = false;
  const toPointer = (ev) => {
    const r = box.getBoundingClientRect();
    setWipe(((ev.clientX - r.left) / r.width) * 100);
  };
  box.addEventListener('pointerdown', (ev) => {
    dragging = true;
    box.setPointerCapture(ev.pointerId);
    toPointer(ev);
  });
  box.addEventListener('pointermove', (ev) => {
    if (dragging) toPointer(ev);
  });
  box.addEventListener('pointerup', () => { dragging = false; });
  box.addEventListener('pointercancel', () => { dragging = false; });
  $('wipe').addEventListener('input', () => setWipe(Number($('wipe').value)));
  setWipe(50);
}
