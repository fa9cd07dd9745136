// `wiretun proxy`'s HTTPS listener ([http] CertFile/KeyFile): the PEM files are checked here, before the
// tunnel or any listener exists, so a bad file is a file:line error with nothing bound. Rust (rustls) reads
// them again to serve; this only makes the error early and precise. No key material goes into a message.
import { readFile } from 'node:fs/promises';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { ConfigError } from '../config/wgquick';
import type { ProxyListener } from './proxy-config';

export async function checkTls(l: ProxyListener): Promise<void> {
  if (l.certFile === undefined || l.keyFile === undefined) return;
  const at = l.tlsWhere;
  const fail = (key: 'CertFile' | 'KeyFile', msg: string): never => {
    throw new ConfigError(`${key}: ${msg}`, at ? { file: at.file, line: key === 'CertFile' ? at.cert : at.key, key } : { key });
  };
  const read = async (key: 'CertFile' | 'KeyFile', file: string): Promise<Buffer> =>
    readFile(file).catch((err: NodeJS.ErrnoException) => fail(key, `cannot read ${file}: ${err.code ?? err.message}`));
  const certPem = await read('CertFile', l.certFile);
  const keyPem = await read('KeyFile', l.keyFile);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return fail('CertFile', `${l.certFile} is not a PEM certificate`);
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    return fail('KeyFile', `${l.keyFile} is not a PEM private key (or it is encrypted)`);
  }
  if (!cert.checkPrivateKey(key)) fail('KeyFile', `${l.keyFile} is not the key of the certificate in ${l.certFile}`);
}
