// Polling for the views that show live state: every few seconds while the page is visible, and not while a
// form is open in a dialog (a redraw under it would change what the form is about).
const POLL_MS = 5000;

export class Poller {
  private timer: number | undefined;
  private stopped = false;

  constructor(private readonly refresh: () => Promise<void>) {}

  /** Refreshes once now (its failure is the caller's), then every POLL_MS until stop(). */
  async start(): Promise<void> {
    await this.refresh();
    const loop = () => {
      this.timer = window.setTimeout(async () => {
        if (this.stopped) return;
        if (document.visibilityState === 'visible' && !document.querySelector('dialog[open] form')) await this.refresh().catch(() => {});
        loop();
      }, POLL_MS);
    };
    loop();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
