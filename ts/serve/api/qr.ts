// QR codes as SVG, drawn here rather than in the page: the `qrcode` package is already a dependency of the CLI
// (`wiretun peer add --qr`), so the page ships no QR code of its own, and the text inside (a client's private
// key, the TOTP secret) goes only to an admin session, like the .conf it encodes.
import type { App } from '../app';
import { ApiError, Reply, Route } from '../http';
import { totpUri } from '../totp';
import { ifaceParam } from './interfaces';

/** An SVG image of `text`; never cached (no-store comes with every API answer). */
export async function qrSvg(text: string): Promise<Reply> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const qrcode = require('qrcode') as typeof import('qrcode');
  const svg = await qrcode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 2, color: { dark: '#000000', light: '#ffffff' } });
  return { text: svg, contentType: 'image/svg+xml' };
}

export function qrRoutes(app: App): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/interfaces/{iface}/clients/{id}/qr.svg',
      access: 'admin',
      summary: "The client's wg-quick config (with its private key) as a QR code, for the WireGuard mobile apps",
      response: { mediaType: 'image/svg+xml' },
      handler: async (ctx) => qrSvg((await app.clients.config(ifaceParam(ctx.params.iface), ctx.params.id)).text),
    },
    {
      method: 'GET',
      path: '/api/totp/qr.svg',
      access: 'admin',
      summary: 'The pending TOTP secret (POST /api/totp/setup) as a QR code for an authenticator app',
      response: { mediaType: 'image/svg+xml' },
      handler: async () => {
        const pending = await app.store.setting('totp_pending');
        if (!pending) throw new ApiError(409, 'no_pending_totp', 'start with POST /api/totp/setup');
        return qrSvg(totpUri(pending, 'admin'));
      },
    },
  ];
}
