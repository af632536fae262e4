//! Redis's CRC64 (crc64.c): the Jones polynomial, reflected, initial value
//! 0, no final xor. A DUMP payload ends with it, little endian, over every
//! byte before it.

/// The reflected Jones polynomial (0xad93d23594c935a9 bit-reversed).
const POLY: u64 = 0x95ac_9329_ac4b_c9b5;

const TABLE: [u64; 256] = table();

const fn table() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u64;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

/// Continues `crc` over `data` (start with 0).
pub(crate) fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    for &b in data {
        crc = TABLE[((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::crc64;

    #[test]
    fn redis_test_vector() {
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        // Redis 7.0's DUMP of "hello": the CRC of what precedes it.
        let dumped = b"\x00\x05hello\n\x00cr\xdfve4 \n";
        let (body, crc) = dumped.split_at(dumped.len() - 8);
        assert_eq!(crc64(0, body).to_le_bytes(), crc);
    }
}
