//! `wiretun proxy --stdio`: stdin and stdout joined to one tunnel connection by Rust threads
//! (wiretun_proxy::stdio); JS only starts it and learns how it ended.

#![cfg_attr(test, allow(dead_code))]

use crate::netstack::BindingNetstack;
use napi::bindgen_prelude::*;
use napi::JsDeferred;
use napi_derive::napi;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use wiretun_netstack::errno_name;

/// Dials `ip:port` through the tunnel and copies fd 0 to it and it to fd 1 until the far end closes.
/// Resolves to the bytes written to stdout; rejects with `CODE: message` (ECONNREFUSED, ETIMEDOUT,
/// ECONNRESET...). The end of stdin only half-closes the connection.
#[napi(ts_return_type = "Promise<number>")]
pub fn proxy_stdio<'env>(
    env: &'env Env,
    netstack: &BindingNetstack,
    ip: String,
    port: u32,
    connect_timeout_ms: u32,
) -> Result<Object<'env>> {
    let ip: IpAddr = ip
        .trim_matches(['[', ']'])
        .parse()
        .map_err(|_| Error::from_reason(format!("EINVAL: {ip:?} is not an IP address")))?;
    let port = u16::try_from(port)
        .map_err(|_| Error::from_reason(format!("EINVAL: {port} is not a port")))?;
    let stack = netstack.stack().clone();
    let (deferred, promise): (JsDeferred<f64, _>, _) = env.create_deferred()?;
    let timeout = Duration::from_millis(connect_timeout_ms.max(1).into());
    // Blocks until the far end closes: a thread of our own, not a libuv worker.
    std::thread::Builder::new()
        .name("proxy stdio".into())
        .spawn(move || {
            let result = stack
                .dial_tcp_timeout(SocketAddr::new(ip, port), timeout)
                .wait()
                .and_then(|conn| {
                    wiretun_proxy::stdio::pump(conn, std::io::stdin(), std::io::stdout().lock())
                });
            match result {
                Ok(n) => deferred.resolve(move |_| Ok(n as f64)),
                Err(e) => deferred.reject(Error::from_reason(format!("{}: {e}", errno_name(&e)))),
            }
        })
        .map_err(|e| Error::from_reason(format!("EAGAIN: {e}")))?;
    Ok(promise)
}
