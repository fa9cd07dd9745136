// A client's traffic (as the client sees it: ↓ what the server sent, ↑ what it received) over the last hour, day or month, from the stored history (GET .../history), drawn with
// uPlot. The numbers behind the drawing are also written on the element (data-rx-bytes, data-tx-bytes,
// data-points) and in a line of text under it, for people and for the browser tests.
import uPlot from 'uplot';
import { api, seg } from './api';
import { button, h, setText } from './dom';
import { bytes, rate } from './format';
import type { Range, Series } from './types';

const RANGE_LABEL: Record<Range, string> = { hour: 'Hour', day: 'Day', month: 'Month' };
const RANGE_TEXT: Record<Range, string> = { hour: 'last hour', day: 'last 24 hours', month: 'last 30 days' };

const css = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';

export class TrafficChart {
  readonly el: HTMLElement;
  private readonly plotBox: HTMLElement;
  private readonly summary: HTMLElement;
  private readonly tabs = new Map<Range, HTMLButtonElement>();
  private range: Range = 'hour';
  private plot: uPlot | undefined;
  private data: uPlot.AlignedData = [[], [], []];
  private readonly resize: ResizeObserver;
  private readonly scheme = matchMedia('(prefers-color-scheme: dark)');
  private readonly rebuild = () => this.draw(true);

  constructor(
    private readonly iface: string,
    private readonly id: string,
  ) {
    const tabs = h('div', { class: 'segmented', role: 'group', 'aria-label': 'Range' });
    for (const r of Object.keys(RANGE_LABEL) as Range[]) {
      const b = button(RANGE_LABEL[r], () => this.show(r), { 'aria-pressed': String(r === this.range), 'data-range': r });
      this.tabs.set(r, b);
      tabs.append(b);
    }
    this.plotBox = h('div', { class: 'plot' });
    this.summary = h('p', { class: 'chart-summary muted' }, 'Loading…');
    this.el = h('section', { class: 'chart', 'data-chart': id }, h('div', { class: 'chart-head' }, h('h3', null, 'Traffic'), tabs), this.plotBox, this.summary);
    this.resize = new ResizeObserver(() => this.plot?.setSize(this.size()));
    this.resize.observe(this.plotBox);
    this.scheme.addEventListener('change', this.rebuild);
  }

  async show(range: Range): Promise<void> {
    this.range = range;
    for (const [r, b] of this.tabs) b.setAttribute('aria-pressed', String(r === range));
    await this.refresh(true);
  }

  /** Fetches the series again (the panel calls this on every poll). */
  async refresh(rescale = false): Promise<void> {
    let s: Series;
    try {
      s = await api<Series>('GET', `/api/interfaces/${seg(this.iface)}/clients/${seg(this.id)}/history?range=${this.range}`);
    } catch (err) {
      setText(this.summary, `No history: ${(err as Error).message}`);
      return;
    }
    if (s.range !== this.range) return; // an answer for a range no longer shown
    const xs = s.points.map((p) => p.t);
    // Bytes per step shown as a rate, so the three ranges read alike.
    this.data = [xs, s.points.map((p) => p.tx / s.step), s.points.map((p) => p.rx / s.step)];
    const rx = s.points.reduce((a, p) => a + p.rx, 0);
    const tx = s.points.reduce((a, p) => a + p.tx, 0);
    Object.assign(this.el.dataset, { range: s.range, points: String(s.points.length), rxBytes: String(rx), txBytes: String(tx) });
    setText(this.summary, `${RANGE_TEXT[s.range]}: ↓ ${bytes(tx)} downloaded, ↑ ${bytes(rx)} uploaded (${s.step < 60 ? `${s.step} s` : s.step < 3600 ? `${s.step / 60} min` : `${s.step / 3600} h`} steps)`);
    this.draw(rescale);
  }

  private size(): { width: number; height: number } {
    return { width: Math.max(240, this.plotBox.clientWidth), height: 180 };
  }

  private draw(rebuild: boolean): void {
    if (this.plot && !rebuild) {
      this.plot.setData(this.data);
      return;
    }
    this.plot?.destroy();
    const axis = { stroke: css('--muted'), grid: { stroke: css('--grid'), width: 1 }, ticks: { stroke: css('--grid'), width: 1 } };
    const opts: uPlot.Options = {
      ...this.size(),
      cursor: { drag: { x: false, y: false } },
      legend: { show: true, live: true },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1024] } },
      axes: [{ ...axis, space: 70 }, { ...axis, size: 78, values: (_u, vals) => vals.map((v) => rate(v)) }],
      series: [
        { value: (_u, v) => (v == null ? '–' : new Date(v * 1000).toLocaleString()) },
        { label: '↓ download', stroke: css('--chart-tx'), fill: css('--chart-tx-fill'), width: 1.5, points: { show: false }, value: (_u, v) => (v == null ? '–' : rate(v)) },
        { label: '↑ upload', stroke: css('--chart-rx'), fill: css('--chart-rx-fill'), width: 1.5, points: { show: false }, value: (_u, v) => (v == null ? '–' : rate(v)) },
      ],
    };
    this.plot = new uPlot(opts, this.data, this.plotBox);
  }

  destroy(): void {
    this.resize.disconnect();
    this.scheme.removeEventListener('change', this.rebuild);
    this.plot?.destroy();
    this.el.remove();
  }
}
