//! The native pieces of `wiretun serve`: an embedded SQLite (rusqlite, compiled in, so nothing is downloaded at
//! install time and no second addon is needed) and argon2id password hashing. Thin on purpose: the schema and
//! the queries live in TypeScript (ts/serve/store.ts). Errors cross as `CODE: message` like the rest.

// Under `cargo test` napi-derive registers nothing, so items only its exports use look dead.
#![cfg_attr(test, allow(dead_code))]

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;
use parking_lot::Mutex;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{params_from_iter, Connection, OpenFlags};
use std::time::Duration;

/// How long a statement waits for another connection's lock before failing with SQLITE_BUSY.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Integers beyond this cannot be a JS number exactly; they come back as BigInt.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// A password longer than this is refused rather than hashed (argon2 itself would take it).
const MAX_PASSWORD_BYTES: usize = 4096;

fn sql_err(e: rusqlite::Error) -> napi::Error {
    let code = match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            rusqlite::ErrorCode::ConstraintViolation => "ECONSTRAINT",
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => "EBUSY",
            rusqlite::ErrorCode::CannotOpen => "ENOENT",
            rusqlite::ErrorCode::PermissionDenied | rusqlite::ErrorCode::ReadOnly => "EACCES",
            _ => "ESQLITE",
        },
        _ => "ESQLITE",
    };
    napi::Error::from_reason(format!("{code}: {e}"))
}

fn closed() -> napi::Error {
    napi::Error::from_reason("EBADF: database is closed")
}

/// A parameter as JS passes it: null/undefined, a number, a string, a Buffer or a BigInt.
type JsParam = Option<Either4<f64, String, Buffer, BigInt>>;

fn to_value(p: JsParam, index: usize) -> Result<Value> {
    Ok(match p {
        None => Value::Null,
        Some(Either4::A(n)) if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INTEGER as f64 => {
            Value::Integer(n as i64)
        }
        Some(Either4::A(n)) => Value::Real(n),
        Some(Either4::B(s)) => Value::Text(s),
        Some(Either4::C(b)) => Value::Blob(b.to_vec()),
        Some(Either4::D(big)) => {
            let (v, lossless) = big.get_i64();
            if !lossless {
                return Err(napi::Error::from_reason(format!(
                    "EINVAL: parameter {} does not fit in 64 bits",
                    index + 1
                )));
            }
            Value::Integer(v)
        }
    })
}

fn to_values(params: Option<Vec<JsParam>>) -> Result<Vec<Value>> {
    params
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, p)| to_value(p, i))
        .collect()
}

/// One column value on its way to JS.
pub struct Cell(Value);

impl ToNapiValue for Cell {
    unsafe fn to_napi_value(env: napi::sys::napi_env, val: Self) -> Result<napi::sys::napi_value> {
        match val.0 {
            Value::Null => Null::to_napi_value(env, Null),
            Value::Integer(i) if i.abs() <= MAX_SAFE_INTEGER => f64::to_napi_value(env, i as f64),
            Value::Integer(i) => BigInt::to_napi_value(env, BigInt::from(i)),
            Value::Real(f) => f64::to_napi_value(env, f),
            Value::Text(s) => String::to_napi_value(env, s),
            Value::Blob(b) => Buffer::to_napi_value(env, b.into()),
        }
    }
}

/// A row as a plain object whose keys are the column names, in column order.
pub struct Row(Vec<(String, Value)>);

impl ToNapiValue for Row {
    unsafe fn to_napi_value(env: napi::sys::napi_env, val: Self) -> Result<napi::sys::napi_value> {
        let js_env = Env::from(env);
        let mut obj = Object::new(&js_env)?;
        for (name, value) in val.0 {
            obj.set(name, Cell(value))?;
        }
        Object::to_napi_value(env, obj)
    }
}

#[napi(object, js_name = "NativeRunResult")]
pub struct JsRunResult {
    pub changes: f64,
    pub last_insert_rowid: f64,
}

/// One SQLite connection. Calls are synchronous (they are short and the server is the only writer); the mutex
/// only makes the connection shareable, JS never calls from two threads.
#[napi]
pub struct BindingDatabase {
    conn: Mutex<Option<Connection>>,
}

#[napi]
impl BindingDatabase {
    /// Opens (creating if needed) the database at `path` in WAL mode, with foreign keys on and a busy timeout.
    #[napi(factory)]
    pub fn open(path: String) -> Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(sql_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )
        .map_err(sql_err)?;
        Ok(BindingDatabase {
            conn: Mutex::new(Some(conn)),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let guard = self.conn.lock();
        let conn = guard.as_ref().ok_or_else(closed)?;
        f(conn).map_err(sql_err)
    }

    /// Runs one or more statements without parameters (schema, BEGIN/COMMIT).
    #[napi]
    pub fn exec(&self, sql: String) -> Result<()> {
        self.with(|c| c.execute_batch(&sql))
    }

    /// Runs one statement; `changes` and `lastInsertRowid` as sqlite3_changes / sqlite3_last_insert_rowid.
    #[napi]
    pub fn run(&self, sql: String, params: Option<Vec<JsParam>>) -> Result<JsRunResult> {
        let values = to_values(params)?;
        self.with(|c| {
            let changes = c.prepare_cached(&sql)?.execute(params_from_iter(values))?;
            Ok(JsRunResult {
                changes: changes as f64,
                last_insert_rowid: c.last_insert_rowid() as f64,
            })
        })
    }

    /// Every row of a query, each an object keyed by column name.
    #[napi(ts_return_type = "Record<string, unknown>[]")]
    pub fn all(&self, sql: String, params: Option<Vec<JsParam>>) -> Result<Vec<Row>> {
        let values = to_values(params)?;
        self.with(|c| query(c, &sql, values, usize::MAX))
    }

    /// The first row of a query, or null.
    #[napi(ts_return_type = "Record<string, unknown> | null")]
    pub fn get(&self, sql: String, params: Option<Vec<JsParam>>) -> Result<Option<Row>> {
        let values = to_values(params)?;
        self.with(|c| query(c, &sql, values, 1))
            .map(|mut rows| rows.pop())
    }

    /// Closes the connection (checkpointing the WAL); later calls fail with EBADF.
    #[napi]
    pub fn close(&self) -> Result<()> {
        match self.conn.lock().take() {
            Some(conn) => conn.close().map_err(|(_, e)| sql_err(e)),
            None => Ok(()),
        }
    }
}

fn query(
    c: &Connection,
    sql: &str,
    values: Vec<Value>,
    limit: usize,
) -> rusqlite::Result<Vec<Row>> {
    let mut stmt = c.prepare_cached(sql)?;
    let names: Vec<String> = stmt.column_names().map(String::from).collect();
    let mut rows = stmt.query(params_from_iter(values))?;
    let mut out = Vec::new();
    while out.len() < limit {
        let Some(row) = rows.next()? else { break };
        let mut cells = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let value = match row.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(v) => Value::Integer(v),
                ValueRef::Real(v) => Value::Real(v),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            };
            cells.push((name.clone(), value));
        }
        out.push(Row(cells));
    }
    Ok(out)
}

// --- argon2id (RustCrypto), on the libuv thread pool: a hash takes tens of milliseconds and must not stall
// the event loop. Parameters: the crate's defaults, OWASP's recommendation (19 MiB, 2 passes, 1 lane).

fn check_password(password: &str) -> Result<()> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(napi::Error::from_reason(format!(
            "EINVAL: password longer than {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

pub struct HashTask {
    password: String,
}

impl Task for HashTask {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> Result<String> {
        let hash = Argon2::default()
            .hash_password(self.password.as_bytes())
            .map_err(|e| napi::Error::from_reason(format!("EIO: argon2: {e}")))?;
        Ok(hash.to_string())
    }

    fn resolve(&mut self, _env: Env, hash: String) -> Result<String> {
        Ok(hash)
    }
}

pub struct VerifyTask {
    hash: String,
    password: String,
}

impl Task for VerifyTask {
    type Output = bool;
    type JsValue = bool;

    fn compute(&mut self) -> Result<bool> {
        let parsed = PasswordHash::new(&self.hash)
            .map_err(|e| napi::Error::from_reason(format!("EINVAL: not a PHC hash: {e}")))?;
        // The parameters come from the stored hash, so raising the defaults later keeps old hashes valid.
        Ok(Argon2::default()
            .verify_password(self.password.as_bytes(), &parsed)
            .is_ok())
    }

    fn resolve(&mut self, _env: Env, ok: bool) -> Result<bool> {
        Ok(ok)
    }
}

/// An argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) with a fresh random salt.
#[napi(js_name = "argon2idHash", ts_return_type = "Promise<string>")]
pub fn argon2id_hash(password: String) -> Result<AsyncTask<HashTask>> {
    check_password(&password)?;
    Ok(AsyncTask::new(HashTask { password }))
}

/// Whether `password` matches the PHC string `hash` (constant time in the password).
#[napi(js_name = "argon2idVerify", ts_return_type = "Promise<boolean>")]
pub fn argon2id_verify(hash: String, password: String) -> Result<AsyncTask<VerifyTask>> {
    check_password(&password)?;
    Ok(AsyncTask::new(VerifyTask { hash, password }))
}
