// The binding's `wiretun proxy` extras (crates/wiretun-napi/src/proxy.rs, proxy_stdio.rs), declared beside
// their one user and merged into ../native's interfaces.
import type { NativeNetstack } from '../native';

declare module '../native' {
  interface NativeProxySpec {
    /** http: PEM certificate chain and key; the listener then speaks HTTPS. */
    certFile?: string;
    keyFile?: string;
    /** socks5, http: [Resolve] ResolveStrategy as a family, 0 (either), 4 or 6. */
    resolveFamily?: number;
    /** socks5, http: with no `dns`, resolve target names with the host's resolver (`--system-dns`). */
    systemDns?: boolean;
  }
  interface NativeBinding {
    /** Dials ip:port through the tunnel and joins fd 0 and fd 1 to it in Rust until the far end closes;
     * resolves to the bytes written to stdout. Rejects `CODE: message`. */
    proxyStdio(netstack: NativeNetstack, ip: string, port: number, connectTimeoutMs: number): Promise<number>;
  }
}

export {};
