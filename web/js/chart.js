// chart.js - small SVG charts, drawn with attributes only (no inline
// style), each with a title and a description so the picture is never the
// only way to the numbers (the same figures are in text or a table beside).
import { h } from './dom.js';
import { newId } from './dom.js';

function svg(tag, attrs, ...kids) { return h(`svg:${tag}`, attrs, ...kids); }

// The PSR scale (0-10) of one goal over time: points [{date, value}], target.
export function psrChart(title, desc, points, target) {
  const W = 480, H = 200, L = 44, R = 44, T = 16, B = 36;
  const id = newId('chart');
  const x = (i) => L + (points.length < 2 ? (W - L - R) / 2 : (i * (W - L - R)) / (points.length - 1));
  const y = (v) => T + ((10 - v) * (H - T - B)) / 10;
  const grid = [0, 2, 4, 6, 8, 10].map((v) => [
    svg('line', { class: 'grid', x1: L, x2: W - R, y1: y(v), y2: y(v) }),
    svg('text', { x: L - 8, y: y(v) + 4, 'text-anchor': 'end' }, String(v))]);
  const line = points.length > 1 ? svg('polyline', { class: 'line', points: points.map((p, i) => `${x(i)},${y(p.value)}`).join(' ') }) : null;
  return svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${id}-t ${id}-d`, focusable: 'false' },
    svg('title', { id: `${id}-t` }, title), svg('desc', { id: `${id}-d` }, desc),
    grid,
    svg('line', { class: 'axis', x1: L, x2: L, y1: T, y2: H - B }),
    svg('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }),
    target !== undefined && target !== null ? svg('line', { class: 'target', x1: L, x2: W - R, y1: y(target), y2: y(target) }) : null,
    line,
    points.map((p, i) => [
      svg('circle', { class: 'point', cx: x(i), cy: y(p.value), r: 5 }),
      svg('text', { x: x(i), y: H - B + 16, 'text-anchor': 'middle' }, p.label),
      svg('text', { x: x(i), y: y(p.value) - 9, 'text-anchor': 'middle' }, String(p.value))]));
}

// Horizontal bars of [{label, value}] (numbers; null ones are left out).
export function barChart(title, rows) {
  const data = rows.filter((r) => typeof r.value === 'number');
  if (!data.length) return null;
  const id = newId('chart');
  const W = 480, L = 200, R = 48, row = 26, H = data.length * row + 10;
  const max = Math.max(1, ...data.map((r) => r.value));
  const short = (s) => (s.length > 30 ? `${s.slice(0, 29)}…` : s);
  return svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${id}-t`, focusable: 'false' },
    svg('title', { id: `${id}-t` }, title),
    data.map((r, i) => [
      svg('text', { x: L - 6, y: i * row + 18, 'text-anchor': 'end' }, short(r.label)),
      svg('rect', { class: 'bar', x: L, y: i * row + 6, height: row - 10, width: Math.max(1, ((W - L - R) * r.value) / max) }),
      svg('text', { x: L + Math.max(1, ((W - L - R) * r.value) / max) + 4, y: i * row + 18 }, String(r.value))]));
}
