//! Hostile input for the ClientHello parser: cut anywhere, split into records and reads, lengths that lie,
//! names that are not names. Real hellos (rustls's) are parsed in tests/sni.rs.

use super::*;

fn be16(n: usize) -> [u8; 2] {
    (n as u16).to_be_bytes()
}

fn ext(kind: u16, data: &[u8]) -> Vec<u8> {
    let mut v = kind.to_be_bytes().to_vec();
    v.extend_from_slice(&be16(data.len()));
    v.extend_from_slice(data);
    v
}

/// A server_name extension's data with these (type, name) entries.
fn names(entries: &[(u8, &[u8])]) -> Vec<u8> {
    let mut list = Vec::new();
    for (kind, name) in entries {
        list.push(*kind);
        list.extend_from_slice(&be16(name.len()));
        list.extend_from_slice(name);
    }
    let mut v = be16(list.len()).to_vec();
    v.extend_from_slice(&list);
    v
}

fn sni(name: &str) -> Vec<u8> {
    ext(0, &names(&[(0, name.as_bytes())]))
}

/// A ClientHello body; `extensions` None leaves the extensions field out altogether.
fn body(extensions: Option<&[u8]>) -> Vec<u8> {
    let mut v = vec![3, 3];
    v.extend_from_slice(&[7; 32]);
    v.push(32);
    v.extend_from_slice(&[9; 32]);
    v.extend_from_slice(&[0, 4, 0x13, 0x01, 0x13, 0x02, 1, 0]);
    if let Some(e) = extensions {
        v.extend_from_slice(&be16(e.len()));
        v.extend_from_slice(e);
    }
    v
}

fn handshake(body: &[u8]) -> Vec<u8> {
    let n = body.len();
    let mut v = vec![1, (n >> 16) as u8, (n >> 8) as u8, n as u8];
    v.extend_from_slice(body);
    v
}

/// `message` cut into handshake records of at most `size` bytes.
fn records(message: &[u8], size: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for chunk in message.chunks(size) {
        v.extend_from_slice(&[22, 3, 1]);
        v.extend_from_slice(&be16(chunk.len()));
        v.extend_from_slice(chunk);
    }
    v
}

fn hello(extensions: &[u8]) -> Vec<u8> {
    records(&handshake(&body(Some(extensions))), MAX_RECORD)
}

/// Some extensions around the server name, as browsers send them.
fn typical(name: &str) -> Vec<u8> {
    let mut e = ext(10, &[0, 4, 0, 29, 0, 23]);
    e.extend(sni(name));
    e.extend(ext(43, &[2, 3, 4]));
    e.extend(ext(0xfe0d, &[0; 200]));
    e
}

fn done(input: &[u8]) -> String {
    match parse(input) {
        Ok(Parsed::Done(name)) => name,
        other => panic!("{other:?}"),
    }
}

#[test]
fn reads_the_name_and_lowercases_it() {
    assert_eq!(done(&hello(&typical("Example.COM"))), "example.com");
    assert_eq!(done(&hello(&sni("a"))), "a");
    assert_eq!(done(&hello(&sni("_acme-1.x-y.test"))), "_acme-1.x-y.test");
    // Whatever follows the hello (early data, the next record) is not looked at.
    let mut more = hello(&sni("a.test"));
    more.extend_from_slice(&[23, 3, 3, 0, 1, 0xff, 0, 0]);
    assert_eq!(done(&more), "a.test");
}

#[test]
fn every_cut_of_a_valid_hello_needs_more() {
    for size in [MAX_RECORD, 100, 7, 1] {
        let input = records(&handshake(&body(Some(&typical("cut.test")))), size);
        for cut in 0..input.len() {
            assert_eq!(
                parse(&input[..cut]),
                Ok(Parsed::Need),
                "records of {size}, cut at {cut}"
            );
        }
        assert_eq!(done(&input), "cut.test", "records of {size}");
    }
}

#[test]
fn a_hello_split_into_reads_of_any_size_is_found_once_whole() {
    // The listener calls parse on everything read so far after each read.
    let input = records(&handshake(&body(Some(&typical("reads.test")))), 50);
    for read in [1, 3, 5, 64, 4096] {
        let mut got = None;
        for end in (read..input.len() + read).step_by(read) {
            match parse(&input[..end.min(input.len())]) {
                Ok(Parsed::Need) => {}
                Ok(Parsed::Done(n)) => {
                    got = Some((n, end));
                    break;
                }
                Err(e) => panic!("reads of {read}: {e}"),
            }
        }
        let (name, end) = got.expect("found");
        assert_eq!(name, "reads.test");
        assert!(end >= input.len(), "done before the hello ended");
    }
}

#[test]
fn not_tls_at_all() {
    for input in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        b"SSH-2.0-OpenSSH_9.2\r\n",
        b"\x80\x2e\x01\x03\x01", // an SSLv2-style hello
        b"\x17\x03\x03\x00\x10", // application data first
        b"\x15",
        b"\x16\x02",
        b"\x16\x00\x01\x00\x05",
    ] {
        assert_eq!(parse(input), Err(Error::NotTls), "{input:?}");
    }
    assert_eq!(parse(b""), Ok(Parsed::Need));
    assert_eq!(parse(b"\x16"), Ok(Parsed::Need));
    assert_eq!(parse(b"\x16\x03\x01\x00"), Ok(Parsed::Need));
}

#[test]
fn broken_records() {
    let malformed = |input: &[u8]| matches!(parse(input), Err(Error::Malformed(_)));
    assert!(malformed(&[22, 3, 1, 0, 0]), "an empty record");
    assert!(malformed(&[22, 3, 1, 0x40, 0x01, 1]), "a record over 2^14");
    // An alert between two fragments of the hello.
    let message = handshake(&body(Some(&sni("a.test"))));
    let mut input = records(&message[..10], 10);
    input.extend_from_slice(&[21, 3, 3, 0, 2, 2, 40]);
    assert!(malformed(&input));
    let mut input = records(&message[..10], 10);
    input.extend_from_slice(&[22, 2, 0, 0, 2]);
    assert!(malformed(&input));
    // A ServerHello, or a handshake message of no type, first.
    assert!(malformed(&[22, 3, 1, 0, 1, 2]));
    assert!(malformed(&records(&[0, 0, 0, 0], 4)));
}

#[test]
fn lengths_that_lie() {
    let good = body(Some(&sni("a.test")));
    let malformed = |b: &[u8]| {
        matches!(
            parse(&records(&handshake(b), MAX_RECORD)),
            Err(Error::Malformed(_))
        )
    };
    // Every cut of the body, with the handshake length telling the truth about the cut body: each field's
    // length then points past its end, and nothing reads beyond it.
    for cut in 0..good.len() {
        let r = parse(&records(&handshake(&good[..cut]), MAX_RECORD));
        assert!(
            matches!(r, Err(Error::Malformed(_)) | Err(Error::NoName)),
            "cut at {cut}: {r:?}"
        );
    }
    let mut b = good.clone();
    b[34] = 33; // session id of 33
    assert!(malformed(&b));
    let mut b = good.clone();
    b[34 + 33 + 1] = 3; // an odd cipher suite length
    assert!(malformed(&b));
    let mut b = good.clone();
    b.push(0); // a byte after the extensions
    assert!(malformed(&b));
    // The extensions' length, the extension's, the list's, the name's: each one too long, and the maximum.
    let ext_at = good.len() - sni("a.test").len() - 2;
    for (at, value) in [
        (ext_at, 0xffff),
        (ext_at + 4, 0xffff),
        (ext_at + 6, 0xffff),
        (ext_at + 9, 0xffff),
        (ext_at + 9, 7),
    ] {
        let mut b = good.clone();
        b[at..at + 2].copy_from_slice(&(value as u16).to_be_bytes());
        assert!(malformed(&b), "length at {at} = {value}");
    }
    // A list shorter than its extension.
    let mut data = names(&[(0, b"a.test")]);
    data.push(0);
    assert!(malformed(&body(Some(&ext(0, &data)))));
    assert!(
        malformed(&body(Some(&ext(0, &[0, 0])))),
        "an empty name list"
    );
    assert!(
        malformed(&body(Some(&ext(0, &[])))),
        "a server's empty server_name"
    );
}

#[test]
fn too_large() {
    // Said to be huge, whatever follows.
    assert_eq!(
        parse(&[22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff]),
        Err(Error::TooLarge)
    );
    assert_eq!(
        parse(&[22, 3, 1, 0, 4, 1, 0, 0x40, 0x01]),
        Err(Error::TooLarge)
    );
    // Really over the cap: padding past it.
    let mut e = ext(21, &vec![0; MAX_HELLO]);
    e.extend(sni("big.test"));
    assert_eq!(
        parse(&records(&handshake(&body(Some(&e))), MAX_RECORD)),
        Err(Error::TooLarge)
    );
    // Just under it is fine.
    let pad = MAX_HELLO - body(Some(&sni("big.test"))).len() - 4;
    let mut e = ext(21, &vec![0; pad]);
    e.extend(sni("big.test"));
    let message = handshake(&body(Some(&e)));
    assert_eq!(message.len(), MAX_HELLO + 4);
    assert_eq!(done(&records(&message, 4096)), "big.test");
    // A small hello in 1-byte records fits; a 16 KiB one in 1-byte records goes past the input cap, its
    // headers counted.
    let input = records(&handshake(&body(Some(&typical("tiny.test")))), 1);
    let mut many = records(&[1, 0, 0x3f, 0xff], 1);
    many.extend(records(&vec![0; 4000], 1));
    assert!(input.len() < MAX_INPUT);
    assert_eq!(done(&input), "tiny.test");
    assert_eq!(parse(&many), Err(Error::TooLarge));
}

#[test]
fn no_name() {
    assert_eq!(
        parse(&records(&handshake(&body(None)), MAX_RECORD)),
        Err(Error::NoName)
    );
    assert_eq!(parse(&hello(&[])), Err(Error::NoName));
    assert_eq!(parse(&hello(&ext(10, &[0, 2, 0, 29]))), Err(Error::NoName));
    // Only names of other types; they are stepped over by their length.
    assert_eq!(
        parse(&hello(&ext(0, &names(&[(1, b"x"), (7, b"")])))),
        Err(Error::NoName)
    );
    assert_eq!(
        done(&hello(&ext(0, &names(&[(1, b"x"), (0, b"after.test")])))),
        "after.test"
    );
}

#[test]
fn duplicates_are_refused() {
    let mut e = sni("a.test");
    e.extend(sni("b.test"));
    assert_eq!(
        parse(&hello(&e)),
        Err(Error::Malformed("two server_name extensions"))
    );
    let two = ext(0, &names(&[(0, b"a.test"), (0, b"b.test")]));
    assert_eq!(parse(&hello(&two)), Err(Error::Malformed("two host names")));
}

#[test]
fn names_that_are_not_host_names() {
    let long_label = format!("{}.test", "a".repeat(64));
    let long_name = vec!["abcdefghi"; 26].join(".");
    assert_eq!(long_name.len(), 259);
    for bad in [
        "",
        "a.test.",
        ".a.test",
        "a..test",
        "a test",
        "a/b",
        "a:443",
        "10.0.0.2",
        "::1",
        "é.test",
        &long_label,
        &long_name,
    ] {
        assert!(
            matches!(parse(&hello(&sni(bad))), Err(Error::Malformed(_))),
            "{bad:?}: {:?}",
            parse(&hello(&sni(bad)))
        );
    }
    for bad in [&b"a\0.test"[..], b"\xff.test", b"a\r\n.test"] {
        assert!(matches!(
            parse(&hello(&ext(0, &names(&[(0, bad)])))),
            Err(Error::Malformed(_))
        ));
    }
    let longest = format!(
        "{}.{}.{}.{}",
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(61)
    );
    assert_eq!(longest.len(), 253);
    assert_eq!(done(&hello(&sni(&longest))), longest);
}

/// A small xorshift: reproducible mutations without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_hellos_never_panic_and_only_valid_names_come_out() {
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let seeds = [
        hello(&typical("mutate.test")),
        records(&handshake(&body(Some(&typical("split.test")))), 13),
        records(&handshake(&body(None)), 40),
    ];
    for i in 0..20_000 {
        let mut input = seeds[i % seeds.len()].clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(input.len());
            match rng.below(3) {
                0 => input[at] = rng.next() as u8,
                1 => input.truncate(at),
                _ => input.insert(at, rng.next() as u8),
            }
            if input.is_empty() {
                break;
            }
        }
        if let Ok(Parsed::Done(name)) = parse(&input) {
            assert!(!name.is_empty() && name.len() <= 253, "{name:?}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b)),
                "{name:?}"
            );
        }
    }
}
